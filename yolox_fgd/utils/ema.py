"""YOLOX's model EMA with a configurable warm-up ramp.

``yolox.utils.ModelEMA`` (0.3.0) uses the decay ``d * (1 - exp(-updates / 2000))``: with the
2000 hard-coded, a run of a few hundred iterations (the CPU benchmark's students) averages over
almost nothing (decay 0.26 after 600 updates), and its evaluations jump from one epoch to the
next. :class:`RampedModelEMA` keeps YOLOX's formula and state (``ema``, ``updates``) and makes
the ramp length an argument (``exp.ema_ramp_iters``; 2000 is YOLOX's).
"""
import functools
import math

from yolox.utils import ModelEMA

__all__ = ["RampedModelEMA", "ramped_decay"]


def ramped_decay(decay, ramp_iters, updates):
    """YOLOX's EMA decay after ``updates`` updates: ``decay * (1 - exp(-updates / ramp_iters))``."""
    return decay * (1 - math.exp(-updates / ramp_iters))


class RampedModelEMA(ModelEMA):
    """``yolox.utils.ModelEMA`` whose decay ramp lasts ``ramp_iters`` updates (YOLOX: 2000)."""

    def __init__(self, model, decay=0.9999, updates=0, ramp_iters=2000):
        if ramp_iters <= 0:
            raise ValueError(f"ema_ramp_iters must be positive, got {ramp_iters}")
        super().__init__(model, decay, updates)
        self.decay = functools.partial(ramped_decay, decay, ramp_iters)

"""The factor on the distillation at each iteration, and FGD's loss calibration.

:class:`DistillWeight` scales every distillation term (FGD, head outputs, cross-head):
``weight(i) = warmup(i) * decay(i) * stopped(i) * mosaic_free(i)``, a Python float computed from
the iteration count alone (no host synchronisation), so ``--resume`` reproduces it exactly. The
experiment's ``distill_*`` options set it.

* warm-up: linear from ``1/W`` to 1 over the first ``W`` iterations (``distill_warmup_iters``);
* decay ``"cosine"``: from 1 at the first iteration to ``final`` at the last,
  ``final + (1 - final) * (1 + cos(pi * i / (I - 1))) / 2`` (YOLOv6 ``loss_distill.py`` decays
  1 -> 0.01, DAMO-YOLO 1 -> 0.1, both per epoch; here per iteration);
* stop: 0 from epoch ``stop_epoch`` (1-based) on (mmyolo's ``StopDistillHook``);
* mosaic-free epochs: times ``no_aug_factor`` from epoch ``no_aug_epoch`` (1-based; the epoch
  YOLOX closes mosaic, ``max_epoch - no_aug_epochs``) on: StopDistillHook stops there (factor 0,
  the stage-2 switch of mmyolo's RTMDet distillation); a factor above 1 weighs the teacher more
  where the images look like the test images (docs/fgd_on_yolox.md, section 14);

:class:`LossCalibration` (``fgd_calibrate_iters``) scales FGD's terms only: it measures them and
fixes their scale (0 while it measures, 1 without calibration).
"""
import math

import torch
import torch.distributed as dist
from loguru import logger

__all__ = ["DistillWeight", "LossCalibration", "TERMS"]

TERMS = ("fg", "bg", "attention", "rela")  # Eq. 7 (fg, bg), Eq. 8, Eq. 10


class DistillWeight:
    """Factor on every distillation term at an iteration.

    Args:
        iters_per_epoch: iterations per epoch.
        max_epoch: epochs of the schedule.
        warmup_iters: linear warm-up length (0: none).
        decay: ``None`` or ``"cosine"``.
        decay_final: the decay's value at the last iteration.
        stop_epoch: 1-based epoch from which the factor is 0, or ``None``.
        no_aug_epoch: 1-based first mosaic-free epoch (``None``: no factor).
        no_aug_factor: multiplier from ``no_aug_epoch`` on (>= 0; 1: none).
    """

    def __init__(self, iters_per_epoch, max_epoch, warmup_iters=0, decay=None, decay_final=0.01, stop_epoch=None,
                 no_aug_epoch=None, no_aug_factor=1.0):
        if decay not in (None, "cosine"):
            raise ValueError(f"decay must be None or 'cosine', got {decay!r}")
        if not no_aug_factor >= 0:
            raise ValueError(f"no_aug_factor must be >= 0 (1: none), got {no_aug_factor}")
        self.iters_per_epoch = int(iters_per_epoch)
        self.total_iters = int(iters_per_epoch) * int(max_epoch)
        self.warmup_iters = int(warmup_iters)
        self.decay = decay
        self.decay_final = float(decay_final)
        self.stop_epoch = stop_epoch
        self.no_aug_epoch, self.no_aug_factor = no_aug_epoch, float(no_aug_factor)

    def __call__(self, progress_iter):
        """The factor for the iteration with 0-based index ``progress_iter``."""
        epoch = progress_iter // self.iters_per_epoch + 1
        if self.stop_epoch is not None and epoch >= self.stop_epoch:
            return 0.0
        w = 1.0
        if self.no_aug_epoch is not None and epoch >= self.no_aug_epoch:
            w *= self.no_aug_factor
        if self.warmup_iters > 0:
            w *= min(1.0, (progress_iter + 1) / self.warmup_iters)
        if self.decay == "cosine":
            t = min(1.0, progress_iter / max(1, self.total_iters - 1))
            w *= self.decay_final + (1 - self.decay_final) * 0.5 * (1 + math.cos(math.pi * t))
        return w


class LossCalibration:
    """The FGD maintainer's loss-scale rule as an automatic option (yzd-v/FGD issue 11: "the
    smallest distillation loss scale is similar to the original classification loss or
    regression loss"; keep the ratios between the FGD weights and change them together).

    Over the first ``iters`` iterations (trained with FGD's factor 0; the other distillation
    terms are not touched) it averages YOLOX's ``cls_loss`` and ``iou_loss`` and each weighted FGD
    term summed over the levels, on the device, without host synchronisation. After the last one,
    ``scale = min(cls, iou) / min_term(mean weighted term)`` is read once, logged and fixed; it
    multiplies FGD's terms only. Under torch.distributed every iteration's values are summed over
    the ranks (``count`` counts batches: iterations times processes), so every rank fixes the same
    scale. Its state goes into the checkpoint, so a resumed run continues with
    the same scale (or the same partial sums).
    """

    def __init__(self, iters):
        self.iters = int(iters)
        self.count = 0
        self.sums = None
        self.scale = None if self.iters > 0 else 1.0

    @property
    def done(self):
        return self.scale is not None

    def factor(self):
        """Multiplier of FGD's terms: 0 while measuring, then the scale."""
        return 0.0 if self.scale is None else self.scale

    def update(self, cls_loss, iou_loss, weighted):
        """Accumulate one iteration (no-op once the scale is fixed).

        Args:
            cls_loss, iou_loss: YOLOX's detection terms of the iteration (scalars).
            weighted: ``{term: scalar}``, each FGD term (:data:`TERMS`) weighted and summed over
                the levels, before any factor.
        """
        if self.done:
            return
        parts = [cls_loss, iou_loss] + [weighted[t] for t in TERMS]
        values = torch.stack([torch.as_tensor(v).detach().float().reshape(()) for v in parts])
        count = 1
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # every rank holds the sums over all ranks' batches: they fix one scale, and the
            # checkpoint (rank 0's) resumes every rank's partial sums exactly
            dist.all_reduce(values)
            count = dist.get_world_size()
        self.sums = values if self.sums is None else self.sums + values
        self.count += count
        if self.count >= self.iters * count:
            self.finish()

    def finish(self):
        sums, count = self.sums, self.count
        means = (sums / count).tolist()  # the one host read of the calibration
        det = dict(zip(("cls_loss", "iou_loss"), means[:2]))
        terms = dict(zip(TERMS, means[2:]))
        smallest = min(terms, key=lambda k: terms[k] if terms[k] > 0 else math.inf)
        if not terms[smallest] > 0 or not math.isfinite(terms[smallest]):
            raise FloatingPointError(
                f"FGD loss calibration: no positive weighted FGD term after {count} batches "
                f"(means {terms}); set fgd_calibrate_iters 0 or check the FGD weights")
        target = min(det.values())
        self.scale = target / terms[smallest]
        logger.info(
            f"FGD loss calibration over {count} batches (iterations x processes): cls_loss {det['cls_loss']:.4g}, "
            f"iou_loss {det['iou_loss']:.4g}; weighted FGD terms " +
            ", ".join(f"{k} {v:.4g}" for k, v in terms.items()) +
            f"; smallest is {smallest}: all four weights scaled by {self.scale:.4g}"
        )

    def state_dict(self):
        return {"iters": self.iters, "count": self.count, "sums": self.sums, "scale": self.scale}

    def load_state_dict(self, state):
        if int(state["iters"]) != self.iters:
            logger.warning(f"resuming with fgd_calibrate_iters {self.iters}; the checkpoint used "
                           f"{state['iters']}: its calibration state is kept")
        self.iters = int(state["iters"])
        self.count = int(state["count"])
        self.sums = state["sums"]
        self.scale = state["scale"]

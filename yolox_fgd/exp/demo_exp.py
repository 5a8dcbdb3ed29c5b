"""Base of the demo and benchmark experiments: the embedded synthetic dataset, sized for a CPU.

The benchmark (issue 11, ``docs/distill_bench.md``) is built so that distillation can be measured
on a 2-core machine: a teacher trained to convergence (90 epochs from scratch) and a student
fine-tuned for 10 epochs at batch 32 (500 iterations; 247 s alone on the 2-core development
machine, two torch threads) from a common initial checkpoint, on the same data.

* dataset: 1600 train / 320 val images of 160x160 or 160x192 pixels, 4-10 shapes each
  (mostly COCO-medium), objects overlapping by at most 30% of a box, little clutter;
* input 96x96, multiscale 64-128 (a new size every iteration; YOLOX: every 10), mosaic and
  YOLOX's affine augmentation, no mixup;
* YOLOX's per-image SimOTA (on a CPU the batched assignment is slower: no host syncs to save);
* EMA 0.995 with a 100-update ramp (:class:`yolox_fgd.utils.ema.RampedModelEMA`): YOLOX's
  2000-update ramp leaves a 500-iteration run with almost no averaging and noisy evaluations;
* the students start from ``init_ckpt`` (set in their experiment files): trained from random
  weights, a seed's AP depends on when its training "takes off", and three seeds spread by
  3.7 AP; from the common weights by 0.91 (0.08 with 12 epochs: the shorter schedule ends
  earlier on the cosine, docs/distill_bench.md).
"""
from .base_exp import Exp
from .fgd_exp import FGDExp

__all__ = ["DemoExp", "FGDDemoExp", "BENCH_DATASET", "BENCH_BATCH"]

# the batch size of the benchmark's students (tools/distill_bench.py and tools/fgd_demo.py default)
BENCH_BATCH = 32

# SyntheticSpec of the benchmark dataset (datasets/synthetic_bench)
BENCH_DATASET = {
    "num_train": 1600, "num_val": 320, "image_sizes": ((160, 160), (160, 192)),
    "min_objects": 4, "max_objects": 10, "size_mix": (0.05, 0.8, 0.15), "clutter": (0, 3),
    "noise": (2, 8), "backgrounds": ("gradient", "flat", "blobs"), "max_overlap": 0.3, "seed": 0,
    "classes": ("circle", "ring", "square", "cross"),
}


class DemoExp(Exp):
    def __init__(self):
        super().__init__()
        # ---------------- dataset ---------------- #
        self.synthetic_dataset = dict(BENCH_DATASET)
        self.synthetic_name = "synthetic_bench"
        self.num_classes = 4
        self.input_size = (96, 96)
        self.test_size = (96, 96)
        self.multiscale_range = 1  # 64 .. 128
        # a new size every iteration: YOLOX's 10 leaves the 2 no-mosaic epochs (100 iterations) 10
        # draws, and a seed whose draws are mostly 64 px ends 1.5-2 AP lower (docs/distill_bench.md)
        self.multiscale_interval = 1
        self.data_num_workers = 1  # one worker and one torch thread per run: see docs/distill_bench.md
        # ---------------- augmentation ---------------- #
        self.mosaic_scale = (0.5, 1.5)
        self.enable_mixup = False
        # ---------------- schedule ---------------- #
        self.max_epoch = 10
        self.warmup_epochs = 1
        self.no_aug_epochs = 2
        self.basic_lr_per_img = 0.04 / 64.0
        self.ema_decay = 0.995
        self.ema_ramp_iters = 100
        self.eval_interval = 3
        self.print_interval = 10
        self.save_history_ckpt = False
        self.channels_last = True
        self.test_conf = 0.01
        self.seed = 0


class FGDDemoExp(FGDExp, DemoExp):
    """FGD on the demo dataset: ``DemoExp``'s data and schedule with ``FGDExp``'s teacher fields.

    ``fgd_ref_size`` follows the input size (the multiscale normalisation is 1 at the nominal
    size, as 640 is for COCO), also when ``input_size`` is changed after construction
    (``input_size (320,320)`` on the command line, ``tools/fgd_demo.py --cuda-large``); setting
    ``fgd_ref_size`` (a size, or ``None`` for no normalisation) fixes it.
    """

    _FOLLOW = "input_size"

    def __init__(self):
        super().__init__()
        self._fgd_ref_size = self._FOLLOW

    @property
    def fgd_ref_size(self):
        ref = getattr(self, "_fgd_ref_size", self._FOLLOW)
        return self.input_size[0] if ref == self._FOLLOW else ref

    @fgd_ref_size.setter
    def fgd_ref_size(self, value):
        self._fgd_ref_size = value

"""The project's experiment base: YOLOX's ``Exp``, device-agnostic and with input checks.

What changes against ``yolox.exp.Exp`` (0.3.0):

* ``random_resize`` works on CPU (YOLOX allocates a CUDA tensor) and under gloo;
* ``merge`` parses typed values (``ema False``, ``input_size (320,320)``) and rejects unknown keys;
* data loaders check the annotation file, the class count and the image files, and the training
  sampler can start mid-stream so resume is exact;
* ``get_evaluator`` and ``get_trainer`` return the device-agnostic evaluator and trainer;
* ``synthetic_dataset``: when set (a dict of :class:`SyntheticSpec` arguments), ``data_dir``
  defaults to the embedded dataset, generated on first use.
"""
import os
import random

import torch
import torch.distributed as dist
from loguru import logger
from yolox.exp import Exp as YOLOXExp

from ..utils.options import merge_opts

__all__ = ["Exp"]


class Exp(YOLOXExp):
    def __init__(self):
        super().__init__()
        # ---------------- dataset ---------------- #
        # None: a COCO folder (data_dir); a dict: the embedded synthetic dataset with these
        # SyntheticSpec arguments, generated on first use under datasets/<synthetic_name>.
        self.synthetic_dataset = None
        self.synthetic_name = "synthetic_shapes"
        # ---------------- model ---------------- #
        # backbone stem: "focus" (YOLOX), "conv6" (6x6 stride-2 conv, the same function as Focus),
        # "conv3" (3x3 stride-2 conv, a real architecture change)
        self.stem = "focus"
        # label assignment in the loss: False = YOLOX's per-image SimOTA; True = the same SimOTA
        # for the whole batch without host synchronisations (yolox_fgd.models.batched_simota)
        self.batched_assignment = False
        # channels-last memory format for model and inputs (oneDNN's convolutions on a CPU are
        # faster in it; on CUDA, fp16 tensor-core convolutions are too)
        self.channels_last = False
        # the student's initial weights: a checkpoint of this experiment's model, loaded strictly
        # before training starts (what YOLOX's `-c` without --resume does, which wins when given);
        # None: YOLOX's random initialisation. A started run's --resume continues from its own state.
        self.init_ckpt = None
        # ---------------- schedule ---------------- #
        # a new multiscale input size every this many iterations (YOLOX hard-codes 10)
        self.multiscale_interval = 10
        # EMA decay (YOLOX hard-codes 0.9998; its maintainers advise 0.9999 at batch 64, YOLOX#735)
        self.ema_decay = 0.9998
        # EMA warm-up: decay * (1 - exp(-updates / ema_ramp_iters)); YOLOX hard-codes 2000
        self.ema_ramp_iters = 2000
        # stop after this epoch of the schedule (None: max_epoch); --resume continues from there
        self.train_until_epoch = None
        # a step whose loss (or, without fp16, gradient) is NaN/Inf: "skip" it (counted, and
        # training stops after nonfinite_max_consecutive in a row; 0: never) or "stop" at once
        self.nonfinite_policy = "skip"
        self.nonfinite_max_consecutive = 5
        # clip the gradient norm over all trained parameters to this value (None: off;
        # DAMO-YOLO and PaddleDetection's PP-YOLOE distillation use 30)
        self.grad_clip_norm = None
        # ---------------- evaluation ---------------- #
        # sides (px, in the images' own pixels) of the small / medium and medium / large area
        # thresholds of APs / APm / APl: COCO's (32, 96); a dataset at another scale scales them
        self.eval_size_thresholds = (32, 96)
        self.exp_name = "yolox_fgd_exp"

    # ------------------------------------------------------------------ checks
    def check_config(self):
        """Raise ValueError for values that cannot work (named in the message)."""
        for name in ("input_size", "test_size"):
            size = getattr(self, name)
            if len(size) != 2 or any(int(s) != s or s <= 0 or s % 32 for s in size):
                raise ValueError(
                    f"{name}={tuple(size)} must be two positive multiples of 32 "
                    "(YOLOX's largest stride), e.g. (320, 320)"
                )
        from ..models.stem import STEMS

        if self.stem not in STEMS:
            raise ValueError(f"unknown stem {self.stem!r}: choose one of {STEMS}")
        if self.nonfinite_policy not in ("skip", "stop"):
            raise ValueError(f"nonfinite_policy must be 'skip' or 'stop', got {self.nonfinite_policy!r}")
        if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
            raise ValueError(f"grad_clip_norm must be positive or None, got {self.grad_clip_norm}")
        if self.ema_ramp_iters <= 0:
            raise ValueError(f"ema_ramp_iters must be positive, got {self.ema_ramp_iters}")
        try:
            whole = self.multiscale_interval >= 1 and int(self.multiscale_interval) == self.multiscale_interval
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise ValueError(f"multiscale_interval must be a whole number of iterations >= 1 (YOLOX: 10), "
                             f"got {self.multiscale_interval}")
        # random_resize draws s in random_size (default: input_size[0] / 32 -/+ multiscale_range)
        # and trains at (32 s, 32 int(s * W / H)): every draw must give two sides > 0
        height, width = (int(s) for s in self.input_size)
        base, span = height // 32, self.multiscale_range
        if isinstance(span, bool) or not isinstance(span, int) or span < 0:
            raise ValueError(f"multiscale_range must be a whole number >= 0 (0: no multiscale; YOLOX: 5), got {span!r}")
        # the smallest s whose sides are both > 0 (at most base, the input size itself)
        least = next(s for s in range(1, base + 1) if int(s * width / height) >= 1)
        custom = getattr(self, "random_size", None)
        if custom is not None:
            if (not isinstance(custom, (tuple, list)) or len(custom) != 2
                    or not all(isinstance(s, int) and not isinstance(s, bool) for s in custom) or custom[0] > custom[1]):
                raise ValueError(f"random_size={custom!r} (the multiscale sizes in units of 32 px, which YOLOX uses "
                                 "instead of multiscale_range) must be two whole numbers (lo, hi) with lo <= hi")
            lo = custom[0]
        else:
            lo = base - span
        if lo < least:
            smallest = (32 * lo, 32 * int(lo * width / height))
            if custom is not None:
                raise ValueError(
                    f"random_size={tuple(custom)} with input_size={(height, width)} draws input sizes down to "
                    f"{smallest} px, which cannot be trained: its first value must be at least {least} "
                    f"(sizes in units of 32 px), e.g. random_size ({least}, {max(least, custom[1])})")
            raise ValueError(
                f"input_size={(height, width)} with multiscale_range={span} draws input sizes down to {smallest} px "
                f"(heights {32 * lo} .. {32 * (base + span)} px), which cannot be trained: set multiscale_range at "
                f"most {base - least} (e.g. `multiscale_range {min(1, base - least)}`), or a larger input_size "
                f"(sides of at least {32 * (span + 1)} px)")
        small, medium = (tuple(self.eval_size_thresholds) + (None, None))[:2]
        if len(tuple(self.eval_size_thresholds)) != 2 or not (small and medium and 0 < small < medium):
            raise ValueError(f"eval_size_thresholds must be two sides in px, 0 < small < medium "
                             f"(COCO: (32, 96)), got {self.eval_size_thresholds}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    def resolve_data_dir(self):
        """The dataset folder; generates the synthetic dataset if this experiment uses it."""
        if self.synthetic_dataset is not None:
            from ..data.synthetic import SyntheticSpec, default_root, ensure_dataset

            if self.data_dir is None:
                self.data_dir = default_root(self.synthetic_name)
            ensure_dataset(self.data_dir, SyntheticSpec(**self.synthetic_dataset), log=logger.info)
        if self.data_dir is None:
            # YOLOX's get_yolox_datadir() points into site-packages for a pip-installed yolox:
            # use $YOLOX_DATADIR/COCO, else datasets/COCO in this repository.
            base = os.environ.get("YOLOX_DATADIR") or os.path.join(
                os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
            self.data_dir = os.path.join(base, "COCO")
        return self.data_dir

    def head_class(self):
        """The head class of this experiment's model: ``None`` for YOLOX's ``YOLOXHead``, or a
        subclass with the same parameters (``BatchedSimOTAHead`` with ``batched_assignment``)."""
        if self.batched_assignment:
            from ..models.batched_simota import BatchedSimOTAHead

            return BatchedSimOTAHead
        return None

    def get_model(self):
        """YOLOX's model (built once, cached in ``self.model``) with the ``stem`` and head class of
        this experiment."""
        from ..models.stem import set_stem

        head_class = self.head_class()
        if getattr(self, "model", None) is None and head_class is not None:
            from yolox.models import YOLOX, YOLOPAFPN

            in_channels = [256, 512, 1024]
            backbone = YOLOPAFPN(self.depth, self.width, in_channels=in_channels, act=self.act)
            head = head_class(self.num_classes, self.width, in_channels=in_channels, act=self.act)
            self.model = YOLOX(backbone, head)  # YOLOX's get_model then initialises it as usual
        model = super().get_model()
        return set_stem(model, self.stem, self.act)

    def merge(self, cfg_list):
        merge_opts(self, cfg_list)

    # ------------------------------------------------------------------ data
    def get_data_loader(self, batch_size, is_distributed, no_aug=False, cache_img=False, start_iter=0):
        """YOLOX's training loader (mosaic, mixup) with checked files and a resumable sampler.

        Args:
            start_iter: iterations already trained; the sampler skips their images.
        """
        from yolox.data import DataLoader, MosaicDetection, TrainTransform
        from yolox.utils import get_rank, wait_for_the_master

        from ..data.coco import CheckedCOCODataset
        from ..data.sampler import ResumableInfiniteSampler
        from ..data.seeded import PositionSeededBatchSampler, PositionSeededDataset
        from ..data.worker_seed import worker_init_fn

        with wait_for_the_master():
            data_dir = self.resolve_data_dir()
            dataset = CheckedCOCODataset(
                data_dir=data_dir, json_file=self.train_ann, num_classes=self.num_classes,
                img_size=self.input_size,
                preproc=TrainTransform(max_labels=50, flip_prob=self.flip_prob, hsv_prob=self.hsv_prob),
                cache=cache_img,
            )
        self.dataset = MosaicDetection(
            dataset, mosaic=not no_aug, img_size=self.input_size,
            preproc=TrainTransform(max_labels=120, flip_prob=self.flip_prob, hsv_prob=self.hsv_prob),
            degrees=self.degrees, translate=self.translate, mosaic_scale=self.mosaic_scale,
            mixup_scale=self.mixup_scale, shear=self.shear, enable_mixup=self.enable_mixup,
            mosaic_prob=self.mosaic_prob, mixup_prob=self.mixup_prob,
        )
        if is_distributed:
            batch_size = batch_size // dist.get_world_size()
        rank = get_rank()
        start = start_iter * batch_size
        sampler = ResumableInfiniteSampler(len(self.dataset), seed=self.seed if self.seed else 0, skip=start)
        batch_sampler = PositionSeededBatchSampler(sampler=sampler, batch_size=batch_size, drop_last=False,
                                                   mosaic=not no_aug, start=start)
        # YOLOX closes mosaic at the start of (0-based) epoch max_epoch - no_aug_epochs - 1
        batch_sampler.mosaic_until = max(0, self.max_epoch - self.no_aug_epochs - 1) * len(batch_sampler) * batch_size
        seed = self.seed if self.seed is not None else random.SystemRandom().randrange(2 ** 31)
        kwargs = {"num_workers": self.data_num_workers, "pin_memory": torch.cuda.is_available(),
                  "batch_sampler": batch_sampler}
        if self.data_num_workers > 0:
            kwargs["worker_init_fn"] = worker_init_fn(rank)  # YOLOX's uses uuid4
        return DataLoader(PositionSeededDataset(self.dataset, seed, rank), **kwargs)

    def get_eval_loader(self, batch_size, is_distributed, testdev=False, legacy=False):
        from yolox.data import ValTransform

        from ..data.coco import CheckedCOCODataset

        data_dir = self.resolve_data_dir()
        valdataset = CheckedCOCODataset(
            data_dir=data_dir, json_file=self.val_ann if not testdev else self.test_ann,
            name="val2017" if not testdev else "test2017", num_classes=self.num_classes,
            img_size=self.test_size, preproc=ValTransform(legacy=legacy),
        )
        if is_distributed:
            batch_size = batch_size // dist.get_world_size()
            sampler = torch.utils.data.distributed.DistributedSampler(valdataset, shuffle=False)
        else:
            sampler = torch.utils.data.SequentialSampler(valdataset)
        return torch.utils.data.DataLoader(
            valdataset, batch_size=batch_size, sampler=sampler,
            num_workers=self.data_num_workers, pin_memory=torch.cuda.is_available(),
        )

    def random_resize(self, data_loader, epoch, rank, is_distributed):
        """A new multiscale input size, chosen on rank 0 and broadcast (CPU or CUDA)."""
        size = torch.zeros(2, dtype=torch.long)
        if rank == 0:
            factor = self.input_size[1] * 1.0 / self.input_size[0]
            if not hasattr(self, "random_size"):
                base = int(self.input_size[0] / 32)
                self.random_size = (base - self.multiscale_range, base + self.multiscale_range)
            s = random.randint(*self.random_size)
            size[0], size[1] = int(32 * s), 32 * int(s * factor)
        if is_distributed:
            if dist.get_backend() == "nccl":
                size = size.cuda()
            dist.barrier()
            dist.broadcast(size, 0)
        return int(size[0]), int(size[1])

    # ------------------------------------------------------------------ eval / train
    def get_evaluator(self, batch_size, is_distributed, testdev=False, legacy=False):
        from ..evaluators import COCOEvaluator

        evaluator = COCOEvaluator(
            dataloader=self.get_eval_loader(batch_size, is_distributed, testdev, legacy),
            img_size=self.test_size, confthre=self.test_conf, nmsthre=self.nmsthre,
            num_classes=self.num_classes, testdev=testdev,
        )
        evaluator.size_thresholds = tuple(self.eval_size_thresholds)
        return evaluator

    def get_trainer(self, args):
        from ..core.trainer import Trainer

        return Trainer(self, args)

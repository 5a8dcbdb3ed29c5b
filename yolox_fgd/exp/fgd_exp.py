"""``FGDExp``: a YOLOX experiment whose model learns from a frozen teacher with FGD.

An FGD experiment file only sets attributes (YOLOX ``Exp`` pattern), e.g. ``exps/fgd_yolox_m.py``.
The student is this experiment's own model (``depth``, ``width``, ...); the teacher is another
YOLOX experiment (a name such as ``"yolox-l"`` or an experiment file) with its checkpoint.
"""
import os

import torch

from .base_exp import Exp

__all__ = ["FGDExp", "RENAMED_OPTIONS"]

# options renamed when the distillation schedule became distillation-wide (issue 29): the old
# name on the command line or in an experiment file is refused with the new one
RENAMED_OPTIONS = {
    "fgd_warmup_iters": "distill_warmup_iters", "fgd_decay": "distill_decay",
    "fgd_decay_final": "distill_decay_final", "fgd_stop_epoch": "distill_stop_epoch",
    "fgd_no_aug_factor": "distill_no_aug_factor", "fgd_diagnostics_interval": "distill_diagnostics_interval",
}


def renamed_option_error(old):
    """The ValueError for a renamed option ``old``."""
    return ValueError(f"option {old!r} is now {RENAMED_OPTIONS[old]!r} (it scales all distillation, not FGD "
                      f"alone): write {RENAMED_OPTIONS[old]} instead")


class FGDExp(Exp):
    def __init__(self):
        super().__init__()
        # ---------------- teacher ---------------- #
        # a YOLOX experiment name ("yolox-l") or an experiment file path
        self.teacher_exp = "yolox-l"
        # its checkpoint: {"model": ...} as the official releases, or a bare state dict
        self.teacher_ckpt = None
        # the teacher's stem when its experiment does not set one (YOLOX names: "focus")
        self.teacher_stem = None
        # evaluate the teacher on the validation set before training and log its AP
        self.teacher_eval_first = False
        # how the teacher's BatchNorm normalises while it teaches: "running" (eval mode, its
        # running statistics) or "batch" (each batch's own statistics, running ones untouched: the
        # scale the student's own maps have in training; in eval mode a few channels of a YOLOX
        # teacher's maps are 5-10x larger, tools/map_stats.py, docs/coco_shaped.md). The official
        # FGD YOLOX code ran the teacher in train mode, batch statistics and drifting running ones
        self.teacher_bn_stats = "running"

        # ---------------- FGD (Yang et al., CVPR 2022) ---------------- #
        # where FGD taps both models: "stems" (outputs of head.stems[i], 256*width channels: the
        # maps the official FGD YOLOX run distils, issue 14) or "pafpn" (the PAFPN outputs, the
        # stems' inputs: (256, 512, 1024)*width channels); not in the paper: "cls_convs" / "reg_convs"
        # (the head's classification / regression branch outputs, 256*width channels)
        self.fgd_tap = "stems"
        # distilled levels: p3 (stride 8), p4 (16), p5 (32)
        self.fgd_levels = ("p3", "p4", "p5")
        self.fgd_temp = 0.5
        self.fgd_alpha = 2e-3
        self.fgd_beta = 1e-3
        self.fgd_gamma = 1e-3
        self.fgd_lambda = 1e-5
        # total divided by (w/ref)*(h/ref), as the official YOLOX config (None: no division)
        self.fgd_ref_size = 640
        # source-document variants: "paper" | "per_gt" (Hypothesis 1)
        self.fgd_fg_norm = "paper"
        # "teacher" (paper) | "student" | "none" | "diff" (Hypothesis 3)
        self.fgd_attention = "teacher"
        # per-level overrides, e.g. {"p5": {"alpha": 1e-3, "beta": 5e-4}}
        self.fgd_level_overrides = {}
        # ---------------- remedies (issue 11, docs/fgd_on_yolox.md); off = the paper ---------------- #
        # standardise both maps per channel over (N, H, W) before every term (PKD, NeurIPS 2022)
        self.fgd_feature_norm = False
        # channel sums weighed as `fgd_channel_ref` channels (None: off; 256 = FGD's mmdet neck)
        self.fgd_channel_ref = None
        # student-side projection: "conv1x1" (the paper's align) | "mlp" (3x3 conv-BN-ReLU-1x1 conv;
        # Miles and Mikolajczyk, AAAI 2024), yolox_fgd/losses/projector.py
        self.fgd_projector = "conv1x1"
        # learning-rate multiplier of the FGD modules (projections, GcBlocks) against the student's
        # (mmcv's paramwise lr_mult); 1: one optimizer over both, as the official code
        self.fgd_modules_lr_mult = 1.0
        # the FGD maintainer's rule (yzd-v/FGD#11): over the first K iterations (FGD's factor 0)
        # measure FGD's terms, then scale all four weights together so that the smallest weighted
        # term equals the smaller of the classification and IoU losses; scales FGD only; 0: off
        self.fgd_calibrate_iters = 0

        # ---------------- schedule of all distillation (FGD, head outputs, cross-head) ---------------- #
        # linear ramp of the distillation weight from 0 to 1 over this many iterations (0: none)
        self.distill_warmup_iters = 0
        # decay over training: None or "cosine" (YOLOv6, DAMO-YOLO) from 1 to distill_decay_final
        # at the last iteration
        self.distill_decay = None
        self.distill_decay_final = 0.01
        # no distillation from this epoch on, 1-based (mmyolo's StopDistillHook); None: never
        self.distill_stop_epoch = None
        # the weight times this from the epoch YOLOX closes mosaic on (max_epoch - no_aug_epochs,
        # 1-based); 0 is mmyolo's StopDistillHook at RTMDet's stage switch; 1: off
        self.distill_no_aug_factor = 1.0
        # under torch.distributed, over whose batch the batch statistics of the distillation are
        # taken (fgd_feature_norm's standardisation, the head output distillation's normaliser,
        # the cross-head alignment): "process" (each process's batch, as mmrazor's PKD; what the
        # benchmark's settings were chosen with, one process) or "global" (all processes', as
        # SyncBatchNorm; N processes x batch b then compute what one process with N*b does)
        self.distill_batch_stats = "process"

        # beside FGD, not in the paper: distillation of the head's objectness and class logits
        # (binary KL to the teacher's probabilities, classes weighted by the teacher's objectness;
        # Hinton et al. 2015, yolox_fgd/losses/head_kd.py), with this weight; 0: off. The
        # distillation schedule (distill_*) multiplies it
        self.head_kd_weight = 0.0
        # with head_kd_weight > 0: weight of the boxes in it (the student's box regression learns
        # the teacher's boxes, GIoU loss weighted by the teacher's objectness: LD's localisation
        # distillation for YOLOX's direct regression, yolox_fgd/losses/head_kd.py); 0: off
        self.head_kd_box_weight = 0.0
        # what weighs each position's box: "objectness" (the teacher's) or "score" (the teacher's
        # objectness times its highest class probability, YOLOX's score; PaddleDetection's PP-YOLOE
        # distillation weighs its boxes by a score)
        self.head_kd_box_weighting = "objectness"
        # temperature of its KL terms (Hinton et al. 2015: both logits divided by T, the loss
        # multiplied by T^2); 1: the probabilities as they are
        self.head_kd_temperature = 1.0
        # with head_kd_weight > 0: the input size (H, W) (or one int) at which the teacher computes
        # the head outputs it distils: every batch resized to it, the outputs resampled to the
        # student's grid (Qi et al., CVPR 2021, multi-scale aligned distillation;
        # yolox_fgd/distill/resample.py); a multiscale batch otherwise reaches the teacher at
        # sizes it was not made for; teacher_assignment reads the same outputs. None: the batch as
        # the student sees it
        self.head_kd_teacher_size = None
        # beside FGD, not in the paper: the student's SimOTA label assignment computed from the
        # teacher's predictions instead of its own (Label Assignment Distillation, Nguyen et al.,
        # WACV 2022; yolox_fgd/models/teacher_assigned_head.py); the loss stays the student's.
        # Not with batched_assignment. The distillation schedule does not act on it
        self.teacher_assignment = False
        # beside FGD, not in the paper: cross-head distillation (CrossKD, Wang et al., CVPR 2024;
        # yolox_fgd/distill/cross_head.py): the student's head maps after the first conv of each
        # branch go on through the teacher's head (a 1x1 projection to its channels, standardised to
        # its statistics), and those predictions learn the teacher's with the head output
        # distillation's loss, with this weight; 0: off. The distillation schedule multiplies it
        self.crosskd_weight = 0.0
        # the cross-head loss's box weight, box weighting and temperature (as head_kd_*'s, for
        # the cross-head predictions)
        self.crosskd_box_weight = 0.0
        self.crosskd_box_weighting = "objectness"
        self.crosskd_temperature = 1.0
        # log gradient norms of every distillation term against the detection loss's, map RMS and
        # attention entropies every N iterations (0: off); written to diagnostics.jsonl (costs one
        # backward per term on those iterations)
        self.distill_diagnostics_interval = 0

    # ------------------------------------------------------------------ checks
    def merge(self, cfg_list):
        """``key value`` options; a renamed option's old name is refused with its new one."""
        for key in list(cfg_list or [])[0::2]:
            if key in RENAMED_OPTIONS:
                raise renamed_option_error(key)
        super().merge(cfg_list)

    def check_config(self):
        for old in RENAMED_OPTIONS:
            if old in vars(self):
                raise renamed_option_error(old)
        super().check_config()
        from ..distill.features import PAFPN_LEVELS
        from ..losses import ATTENTION_VARIANTS, FG_NORM_VARIANTS

        levels = tuple(self.fgd_levels)
        unknown = [lvl for lvl in levels if lvl not in PAFPN_LEVELS]
        if not levels or unknown or len(set(levels)) != len(levels):
            raise ValueError(f"fgd_levels={levels} must be distinct names among {tuple(PAFPN_LEVELS)}")
        extra = [lvl for lvl in self.fgd_level_overrides if lvl not in levels]
        if extra:
            raise ValueError(f"fgd_level_overrides names levels {extra} that are not in fgd_levels={levels}")
        from ..distill.features import TAPS
        from ..losses.projector import PROJECTORS

        if self.fgd_tap not in TAPS:
            raise ValueError(f"fgd_tap={self.fgd_tap!r} must be one of {TAPS}")
        if self.fgd_fg_norm not in FG_NORM_VARIANTS:
            raise ValueError(f"fgd_fg_norm={self.fgd_fg_norm!r} must be one of {FG_NORM_VARIANTS}")
        if self.fgd_attention not in ATTENTION_VARIANTS:
            raise ValueError(f"fgd_attention={self.fgd_attention!r} must be one of {ATTENTION_VARIANTS}")
        if self.fgd_channel_ref is not None and self.fgd_channel_ref <= 0:
            raise ValueError(f"fgd_channel_ref must be a positive channel count or None, got {self.fgd_channel_ref}")
        if self.fgd_projector not in PROJECTORS:
            raise ValueError(f"fgd_projector={self.fgd_projector!r} must be one of {PROJECTORS}")
        if not self.fgd_modules_lr_mult > 0:
            raise ValueError(f"fgd_modules_lr_mult must be positive, got {self.fgd_modules_lr_mult}")
        if self.fgd_calibrate_iters < 0:
            raise ValueError(f"fgd_calibrate_iters must be >= 0, got {self.fgd_calibrate_iters}")
        if self.distill_warmup_iters < 0:
            raise ValueError(f"distill_warmup_iters must be >= 0, got {self.distill_warmup_iters}")
        if self.distill_decay not in (None, "cosine"):
            raise ValueError(f"distill_decay must be None or 'cosine', got {self.distill_decay!r}")
        if not 0 <= self.distill_decay_final <= 1:
            raise ValueError(f"distill_decay_final must be in [0, 1], got {self.distill_decay_final}")
        if self.distill_stop_epoch is not None and not 1 <= self.distill_stop_epoch <= self.max_epoch + 1:
            raise ValueError(f"distill_stop_epoch must be None or in 1..max_epoch+1 ({self.max_epoch + 1}), "
                             f"got {self.distill_stop_epoch}")
        from ..distill.teacher import BN_STATS
        from ..losses.batch_stats import BATCH_STATS

        if self.teacher_bn_stats not in BN_STATS:
            raise ValueError(f"teacher_bn_stats={self.teacher_bn_stats!r} must be one of {BN_STATS}")

        if self.distill_batch_stats not in BATCH_STATS:
            raise ValueError(f"distill_batch_stats={self.distill_batch_stats!r} must be one of {BATCH_STATS}")
        if not self.distill_no_aug_factor >= 0:
            raise ValueError(f"distill_no_aug_factor must be >= 0 (1: off, 0: no distillation without mosaic), "
                             f"got {self.distill_no_aug_factor}")
        if not self.head_kd_weight >= 0:
            raise ValueError(f"head_kd_weight must be >= 0 (0: off), got {self.head_kd_weight}")
        for prefix in ("head_kd", "crosskd"):
            if not getattr(self, f"{prefix}_temperature") > 0:
                raise ValueError(f"{prefix}_temperature must be > 0 (1: the probabilities as they are), "
                                 f"got {getattr(self, f'{prefix}_temperature')}")
        if self.teacher_assignment not in (True, False):
            raise ValueError(f"teacher_assignment must be True or False, got {self.teacher_assignment!r}")
        if self.teacher_assignment and self.batched_assignment:
            raise ValueError("teacher_assignment works on YOLOX's own per-image assignment: set batched_assignment False")

        if self.head_kd_teacher_size is not None:
            size = self.head_kd_teacher_size
            size = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
            if (not isinstance(size, (tuple, list)) or len(size) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 and v % 32 == 0 for v in size)):
                raise ValueError(f"head_kd_teacher_size={self.head_kd_teacher_size!r} must be None or an input size "
                                 "(H, W) (or one int) of positive multiples of 32, e.g. the teacher's test_size")
            if not self.head_kd_weight > 0:
                raise ValueError(f"head_kd_teacher_size {self.head_kd_teacher_size} sets where the teacher computes the "
                                 "head output distillation's targets, which is off (head_kd_weight 0): set "
                                 "head_kd_weight > 0 too")
            self.head_kd_teacher_size = tuple(size)

        from ..losses.head_kd import BOX_WEIGHTINGS

        if not self.crosskd_weight >= 0:
            raise ValueError(f"crosskd_weight must be >= 0 (0: off), got {self.crosskd_weight}")
        for prefix, what in (("head_kd", "head output distillation"), ("crosskd", "cross-head distillation")):
            weighting, box_weight = getattr(self, f"{prefix}_box_weighting"), getattr(self, f"{prefix}_box_weight")
            if weighting not in BOX_WEIGHTINGS:
                raise ValueError(f"{prefix}_box_weighting={weighting!r} must be one of {BOX_WEIGHTINGS}")
            if not box_weight >= 0:
                raise ValueError(f"{prefix}_box_weight must be >= 0 (0: off), got {box_weight}")
            if box_weight > 0 and not getattr(self, f"{prefix}_weight") > 0:
                raise ValueError(f"{prefix}_box_weight {box_weight} weighs the boxes inside the {what}, which is "
                                 f"off ({prefix}_weight 0): set {prefix}_weight > 0 too")
        if self.crosskd_weight > 0 and self.head_kd_teacher_size is not None:
            raise ValueError("crosskd_weight runs the teacher's head on the student's maps, of the student's input "
                             "size: it does not combine with head_kd_teacher_size; set one of them off")
        if self.distill_diagnostics_interval < 0:
            raise ValueError(f"distill_diagnostics_interval must be >= 0, got {self.distill_diagnostics_interval}")

    def check_before_launch(self, args):
        """Fail before any process starts when the teacher checkpoint is missing."""
        from ..cli.common import check_checkpoint_path
        from ..utils.checkpoint import CheckpointError

        if self.teacher_ckpt is None:
            raise CheckpointError("no teacher checkpoint: set teacher_ckpt in the experiment or pass `teacher_ckpt PATH`")
        check_checkpoint_path(self.teacher_ckpt, "teacher checkpoint",
                              "set teacher_ckpt in the experiment or pass `teacher_ckpt PATH` after the options")

    # ------------------------------------------------------------------ factories
    def fgd_params(self, level):
        """Keyword arguments of ``FGDLoss`` for one level (shared values + its overrides)."""
        params = dict(temp=self.fgd_temp, alpha=self.fgd_alpha, beta=self.fgd_beta, gamma=self.fgd_gamma,
                      lambda_=self.fgd_lambda, ref_size=self.fgd_ref_size, fg_norm=self.fgd_fg_norm,
                      attention=self.fgd_attention, feature_norm=self.fgd_feature_norm,
                      batch_stats=self.distill_batch_stats,
                      channel_ref=self.fgd_channel_ref, projector=self.fgd_projector)
        for key, value in dict(self.fgd_level_overrides.get(level, {})).items():
            key = "lambda_" if key == "lambda" else key
            if key not in params:
                raise ValueError(f"fgd_level_overrides[{level!r}] has unknown key {key!r}; known: {sorted(params)}")
            params[key] = value
        return params

    def head_class(self):
        """With ``teacher_assignment`` the student's head is ``TeacherAssignedHead`` (YOLOX's
        head, assignment from the teacher's predictions; the same parameters)."""
        if self.teacher_assignment:
            from ..models.teacher_assigned_head import TeacherAssignedHead

            return TeacherAssignedHead
        return super().head_class()

    def get_teacher_exp(self):
        """The teacher's experiment, from ``teacher_exp`` (an experiment file or a YOLOX name such
        as ``"yolox-l"``), built with this experiment's ``num_classes``: teacher and student
        predict the classes of one dataset, and the count given once (in the student's file or
        as ``num_classes N`` on the command line) holds for both; YOLOX's named experiments would
        otherwise say COCO's 80. A teacher checkpoint of another class count is refused when it
        loads, with both counts named (:func:`~yolox_fgd.distill.teacher.build_teacher`)."""
        from .build import load_exp

        name = self.teacher_exp
        if name.endswith(".py") or os.path.sep in name:
            exp = load_exp(exp_file=name)
        else:
            exp = load_exp(exp_name=name)
        exp.num_classes = self.num_classes
        return exp

    def get_teacher(self, device="cpu"):
        """The frozen teacher (:class:`yolox_fgd.distill.teacher.TeacherModel`), loaded from
        ``teacher_ckpt``."""
        from ..distill.teacher import build_teacher

        return build_teacher(self.get_teacher_exp(), self.teacher_ckpt, self.num_classes, device,
                             stem=self.teacher_stem, name=self.teacher_exp, bn_stats=self.teacher_bn_stats)

    def get_fgd_losses(self, student_channels, teacher_channels):
        """One ``FGDLoss`` per level, sized from the declared channels ``{level: C}``."""
        from ..losses import FGDLoss

        return {lvl: FGDLoss(student_channels[lvl], teacher_channels[lvl], **self.fgd_params(lvl))
                for lvl in self.fgd_levels}

    def get_distill_terms(self, student, teacher):
        """The distillation terms that are on, in the order they add to the loss: FGD (always),
        the head output distillation (``head_kd_weight > 0``), the cross-head distillation
        (``crosskd_weight > 0``); sized from the two models' declared channels.

        Args:
            student: the student YOLOX model; teacher: the teacher's YOLOX model.
        """
        from ..distill.features import tap_channels
        from ..distill.terms import CrossHeadTerm, FGDTerm, HeadOutputTerm
        from ..losses.head_kd import HeadKDLoss

        fgd = self.get_fgd_losses(tap_channels(student, self.fgd_tap), tap_channels(teacher, self.fgd_tap))
        terms = [FGDTerm(fgd, self.fgd_tap, self.fgd_calibrate_iters, self.fgd_modules_lr_mult)]
        if self.head_kd_weight > 0:
            loss = HeadKDLoss(self.head_kd_box_weight, self.head_kd_temperature, self.head_kd_box_weighting,
                              self.distill_batch_stats)
            terms.append(HeadOutputTerm(loss, self.head_kd_weight))
        if self.crosskd_weight > 0:
            from ..distill.cross_head import CrossHead, branch_channels

            loss = HeadKDLoss(self.crosskd_box_weight, self.crosskd_temperature, self.crosskd_box_weighting,
                              self.distill_batch_stats)
            cross_head = CrossHead(branch_channels(student), branch_channels(teacher), self.distill_batch_stats)
            terms.append(CrossHeadTerm(cross_head, loss, self.crosskd_weight))
        return terms

    def get_distiller(self, teacher):
        """The student (``get_model()``) and its distillation terms as one module (a new one at
        every call; the student is YOLOX's cached model).

        Args:
            teacher: the frozen teacher (:class:`~yolox_fgd.distill.teacher.TeacherModel`).
        """
        from ..distill.distiller import Distiller

        student = self.get_model()
        return Distiller(student, self.get_distill_terms(student, teacher.model),
                         teacher_assignment=self.teacher_assignment, teacher_head_size=self.head_kd_teacher_size)

    def get_optimizer(self, batch_size, module=None):
        """SGD with YOLOX's groups and settings over ``module``, the trained module (default:
        ``self.model``, the student alone); a :class:`~yolox_fgd.distill.distiller.Distiller`
        gives its parts and their learning-rate multiples (``param_groups()``): the FGD modules'
        ``fgd_modules_lr_mult`` (mmcv's ``paramwise_cfg`` ``lr_mult``: their gradient is
        proportional to the FGD weights, so at small weights they barely learn and the student is
        pulled towards a projection that does not fit the teacher, docs/fgd_on_yolox.md
        section 8). Consecutive parts of one multiple share YOLOX's three groups.
        """
        from ..models.param_groups import sgd_param_groups

        module = self.model if module is None else module
        parts = module.param_groups() if hasattr(module, "param_groups") else [(module, 1.0)]
        lr = self.warmup_lr if self.warmup_epochs > 0 else self.basic_lr_per_img * batch_size
        groups = sgd_param_groups(parts, lr, self.weight_decay)
        return torch.optim.SGD(groups, lr=lr, momentum=self.momentum, nesterov=True)

    def distillation_summary(self):
        """What the student is taught with, in a few words (the demo's table, the trainer's log):
        the terms that are on with their weights, FGD named only when one of its weights is not 0."""
        parts = []
        if self.head_kd_weight > 0:
            boxes = f", boxes {self.head_kd_box_weight:g}" if self.head_kd_box_weight > 0 else ""
            parts.append(f"head outputs (objectness and classes {self.head_kd_weight:g}{boxes})")
        if any(w > 0 for w in (self.fgd_alpha, self.fgd_beta, self.fgd_gamma, self.fgd_lambda)):
            how = ", normalised" if self.fgd_feature_norm else ""
            parts.append(f"FGD ({self.fgd_tap} maps, alpha {self.fgd_alpha:g}{how})")
        if self.crosskd_weight > 0:
            parts.append(f"cross-head ({self.crosskd_weight:g})")
        if self.teacher_assignment:
            parts.append("the teacher's label assignment")
        if not parts:
            return "nothing (every distillation weight 0)"
        late = f"; x{self.distill_no_aug_factor:g} without mosaic" if self.distill_no_aug_factor != 1 else ""
        return " + ".join(parts) + late

    def get_trainer(self, args):
        from ..core.fgd_trainer import FGDTrainer

        return FGDTrainer(self, args)


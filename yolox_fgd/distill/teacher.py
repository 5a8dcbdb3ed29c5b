"""The frozen teacher: built from a YOLOX experiment, loaded strictly, never trained.

The teacher stays outside everything that trains (the student's optimizer, EMA, DDP wrapper and
checkpoint). It is built in eval mode and the trainer puts it in eval mode again at every step:
the official FGD YOLOX code let the teacher's BatchNorm statistics drift by running it in training
mode.
"""
import os

from loguru import logger
from torch import nn

from ..utils.checkpoint import CheckpointError, file_sha256, load_checkpoint, model_state_dict

__all__ = ["BN_STATS", "TeacherModel", "build_teacher"]

# how the teacher's BatchNorm normalises during distillation: with its running statistics (eval
# mode, the default) or with each batch's own (as the student's, in train mode)
BN_STATS = ("running", "batch")


class TeacherModel(nn.Module):
    """A frozen YOLOX model (``requires_grad=False`` everywhere), built in eval mode.

    Attributes:
        model: the YOLOX model (``backbone`` = YOLOPAFPN, ``head``).
        exp: its experiment; ``ckpt_path``, ``ckpt_sha256``: where its weights came from.
    """

    def __init__(self, model, exp, ckpt_path, bn_stats="running"):
        super().__init__()
        if bn_stats not in BN_STATS:
            raise ValueError(f"the teacher's BatchNorm statistics must be one of {BN_STATS}, got {bn_stats!r}")
        self.model = model
        self.exp = exp
        self.ckpt_path = ckpt_path
        self.ckpt_sha256 = file_sha256(ckpt_path) if ckpt_path and os.path.isfile(ckpt_path) else None
        self.bn_stats = bn_stats
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.freeze()

    def freeze(self):
        """Eval mode (the trainer calls it before every teacher forward: nothing may switch its
        BatchNorm to batch statistics by accident); with ``bn_stats="batch"`` its BatchNorm layers
        then normalise with each batch's own statistics, their running statistics untouched
        (momentum 0)."""
        self.eval()
        if self.bn_stats == "batch":
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.momentum = 0.0
                    m.train()
        return self

    @property
    def backbone(self):
        return self.model.backbone

    @property
    def head(self):
        return self.model.head

    def forward(self, x):
        """Detections ``(N, A, 5 + num_classes)`` in eval mode (used for its AP check)."""
        return self.model(x)


def build_teacher(exp, ckpt_path, num_classes, device="cpu", stem=None, name=None, bn_stats="running"):
    """Build, load and freeze the teacher.

    Args:
        exp: the teacher's experiment (an ``Exp`` object; ``FGDExp.get_teacher`` loads it from
            ``exp.teacher_exp``).
        ckpt_path: its checkpoint (``{"model": ...}`` as YOLOX releases, or a bare state dict).
        num_classes: the student's class count; a teacher predicting another count is refused.
        stem: ``"focus"``/``"conv6"``/``"conv3"`` for a teacher experiment without a ``stem``
            attribute (YOLOX's own); ``None`` keeps the experiment's.
        name: how messages call the teacher (default: the experiment's ``exp_name``).
        bn_stats: :data:`BN_STATS` (:meth:`TeacherModel.freeze`).

    Raises:
        CheckpointError: checkpoint missing, unreadable, or with missing/unexpected keys or
            shapes that do not fit (the first few are named).
        ValueError: the teacher predicts another number of classes than the student.
    """
    if ckpt_path is None:
        raise CheckpointError(
            "no teacher checkpoint: set teacher_ckpt in the experiment (or `teacher_ckpt PATH` on the "
            "command line), e.g. the official yolox_l.pth"
        )
    teacher = name or getattr(exp, "exp_name", type(exp).__name__)
    ckpt = load_checkpoint(ckpt_path, map_location="cpu", what="teacher checkpoint")
    state = model_state_dict(ckpt, ckpt_path)
    if stem is not None:
        if hasattr(exp, "stem"):
            exp.stem = stem
        else:
            from ..models.stem import set_stem

            set_stem(exp.get_model(), stem, exp.act)
    model = exp.get_model()
    if exp.num_classes != num_classes:
        raise ValueError(
            f"the teacher ({teacher}) predicts {exp.num_classes} classes but the student "
            f"{num_classes}: distil between models of the same dataset"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        cls_shape = state.get("head.cls_preds.0.weight")
        hint = ""
        if cls_shape is not None and cls_shape.shape[0] != num_classes:
            hint = f" (the checkpoint predicts {cls_shape.shape[0]} classes, the student {num_classes})"
        raise CheckpointError(
            f"teacher checkpoint {ckpt_path} does not fit {teacher}{hint}: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys "
            f"{unexpected[:3]}, {len(wrong)} of another shape {wrong[:3]}"
        )
    model.load_state_dict(state, strict=True)
    teacher_model = TeacherModel(model, exp, ckpt_path, bn_stats).to(device)
    logger.info(f"teacher {teacher} loaded from {ckpt_path} (sha256 {teacher_model.ckpt_sha256[:12]}...)")
    return teacher_model


"""Cross-head distillation (CrossKD): the student's head features run through the teacher's head.

Wang, Chen, Zheng, Li, Cheng and Hou, "CrossKD: Cross-Head Knowledge Distillation for Object
Detection", CVPR 2024 (github.com/jbwang1997/CrossKD, ``CrossKDGFL.reuse_teacher_head``): the
student's map inside its head, after all but the last of the branch convs, goes on through the
*teacher's* remaining head layers; the cross-head predictions learn the teacher's predictions.
The student is then never asked to make its own predictions equal to the teacher's (those stay
supervised by the labels alone, if direct head distillation is off); the distillation's gradient
reaches the student's features through the teacher's head, the one head that already knows how
to read a map into the teacher's boxes and classes.

For YOLOX's head (per level: ``stems`` 1x1 conv, then two 3x3 convs per branch, ``cls_convs`` and
``reg_convs``, then ``cls_preds`` / ``reg_preds`` + ``obj_preds``) the crossing is after the
first conv of each branch, leaving the teacher's second conv and its predictions, as CrossKD's
GFL setting (``reused_teacher_head_idx=3`` of 4 convs) leaves one. Two changes from the paper,
both because the heads are of different widths here (YOLOX scales the head with the model:
``256 * width`` channels):

* a 1x1 conv maps the student's ``Cs`` channels to the teacher's ``C`` (CrossKD's heads have the
  same width and need none; none here either when the counts agree); without a bias, which the
  standardisation below would cancel (its gradient is zero);
* YOLOX's ``BaseConv`` applies its SiLU in place, so the map is taken after the activation
  (CrossKD takes it before and applies the activation after the alignment).

Then, as CrossKD's ``align_scale``: each channel of the projected map is standardised over
``(N, H, W)`` and given the teacher's per-channel mean and standard deviation of its own map at
the same place, so the teacher's next conv (and its BatchNorm's running statistics) sees inputs
of the scale it was trained on.
"""
from torch import nn

from ..losses.batch_stats import channel_moments, standardize_channels
from .features import PAFPN_LEVELS, FeatureHooks

__all__ = ["BRANCHES", "BranchTap", "CrossHead", "align_to_statistics", "branch_channels"]

BRANCHES = ("cls", "reg")


def branch_channels(model):
    """``{level: channels}`` of the maps after the first conv of a YOLOX head's branches."""
    out = {}
    for lvl, (idx, _) in PAFPN_LEVELS.items():
        first = model.head.cls_convs[idx][0]
        if not hasattr(first, "bn"):
            raise TypeError(f"cross-head distillation needs YOLOX's BaseConv branches (depthwise=False); "
                            f"head.cls_convs[{idx}][0] is a {type(first).__name__}")
        out[lvl] = first.bn.num_features
    return out


def align_to_statistics(x, ref, eps=1e-6, batch_stats="process"):
    """``x`` ``(N, C, H, W)`` standardised per channel over ``(N, H, W)``, then scaled and shifted to
    the per-channel mean and standard deviation of ``ref`` (same shape; no gradient is taken
    through it). CrossKD's ``align_scale``. ``batch_stats``: this process's batch or every
    process's (:mod:`yolox_fgd.losses.batch_stats`)."""
    mean, var = channel_moments(ref.detach().float(), batch_stats)
    std = var.add(eps).sqrt()
    return standardize_channels(x.float(), eps, batch_stats) * std + mean


class CrossHead(nn.Module):
    """The trainable part of cross-head distillation: per level and branch, the projection of the
    student's map onto the teacher's channels (none at a level whose counts agree).

    Args:
        student_channels, teacher_channels: ``{level: channels}`` after the first branch conv
            (:func:`branch_channels`).
        batch_stats: over whose batch the alignment takes its statistics (``"process"`` or
            ``"global"``).
    """

    def __init__(self, student_channels, teacher_channels, batch_stats="process"):
        super().__init__()
        self.batch_stats = batch_stats
        self.proj = nn.ModuleDict()
        for lvl in PAFPN_LEVELS:
            if student_channels[lvl] != teacher_channels[lvl]:
                for branch in BRANCHES:
                    self.proj[f"{branch}_{lvl}"] = nn.Conv2d(student_channels[lvl], teacher_channels[lvl], 1, bias=False)

    def forward(self, student_maps, teacher_maps, teacher_head):
        """Cross-head predictions.

        Args:
            student_maps: ``{level: (cls (N, Cs, H, W), reg (N, Cs, H, W))}``, the student's maps
                after the first conv of each branch (:class:`BranchTap`), with their graph.
            teacher_maps: the teacher's at the same place, ``{level: (cls, reg)}`` with ``C``
                channels (:func:`~yolox_fgd.distill.features.head_logits` ``branch_maps``).
            teacher_head: the teacher's ``YOLOXHead`` (frozen: the gradient passes through it to
                the student, nothing of it trains; it is not a submodule here).

        Returns:
            ``{level: (obj (N, 1, H, W), cls (N, num_classes, H, W), reg (N, 4, H, W))}``, the
            teacher's head's raw outputs on the student's maps.
        """
        out = {}
        for lvl, (idx, _) in PAFPN_LEVELS.items():
            crossed = []
            for branch, s_map, t_map in zip(BRANCHES, student_maps[lvl], teacher_maps[lvl]):
                key = f"{branch}_{lvl}"
                x = align_to_statistics(self.proj[key](s_map) if key in self.proj else s_map, t_map,
                                        batch_stats=self.batch_stats).to(t_map.dtype)
                crossed.append(getattr(teacher_head, f"{branch}_convs")[idx][1:](x))
            cls_feat, reg_feat = crossed
            out[lvl] = (teacher_head.obj_preds[idx](reg_feat), teacher_head.cls_preds[idx](cls_feat),
                        teacher_head.reg_preds[idx](reg_feat))
        return out


class BranchTap:
    """Captures the student's maps after the first conv of each head branch
    (``head.cls_convs[i][0]``, ``head.reg_convs[i][0]``) during its own forward, with their graph.

    Args:
        model: the student (DDP wrappers are unwrapped).
    """

    def __init__(self, model):
        self.hooks = FeatureHooks({f"{branch}_{lvl}": (model, f"head.{branch}_convs.{idx}.0")
                                   for lvl, (idx, _) in PAFPN_LEVELS.items() for branch in BRANCHES})

    def pop(self):
        """``{level: (cls, reg)}`` of the last forward, cleared after reading."""
        return {lvl: tuple(self.hooks.pop(f"{branch}_{lvl}") for branch in BRANCHES) for lvl in PAFPN_LEVELS}

    def remove(self):
        self.hooks.remove()

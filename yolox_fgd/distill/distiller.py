"""Student + FGD loss modules as one trainable module: what the optimizer, DDP and checkpoints see.

As in timm's distillation task, the trainable projections (here the FGD align convs and GcBlocks)
live with the student, so DDP synchronises their gradients and the optimizer trains them; the
teacher stays outside (its features arrive as an argument).
"""
from torch import nn

from ..models.teacher_assigned_head import flatten_head_outputs
from .features import LEVEL_STRIDES
from .schedule import TERMS

__all__ = ["Distiller"]


class Distiller(nn.Module):
    """YOLOX student plus one ``FGDLoss`` per distilled level.

    Args:
        student: a YOLOX model (``backbone`` = YOLOPAFPN, ``head``).
        fgd_losses: ``{"p3": FGDLoss, ...}`` keyed by level name.
        head_kd: a :class:`~yolox_fgd.losses.head_kd.HeadKDLoss` (distillation of the head's
            objectness and class logits, and optionally its boxes, beside FGD) or ``None`` (off,
            the paper).
        head_kd_weight: its weight (the detection loss has weight 1).
        teacher_assignment: the student's label assignment from the teacher's predictions (its
            head is a :class:`~yolox_fgd.models.teacher_assigned_head.TeacherAssignedHead`;
            ``teacher_logits`` are then needed at every forward).
        cross_head: a :class:`~yolox_fgd.distill.cross_head.CrossHead` (cross-head distillation,
            CrossKD: the student's head maps through the teacher's head, its predictions scored
            against the teacher's with ``head_kd``'s loss) or ``None`` (off).
        cross_head_weight: its weight.

    The student's maps come from a :class:`~yolox_fgd.distill.features.StudentTap`, given after
    construction with :meth:`attach_tap` (its hooks must be registered after the EMA copy of the
    student exists); with ``head_kd``, its head's logits from a
    :class:`~yolox_fgd.distill.features.HeadOutputTap` given the same way; with ``cross_head``, its
    head's branch maps from a :class:`~yolox_fgd.distill.cross_head.BranchTap`.
    """

    def __init__(self, student, fgd_losses, head_kd=None, head_kd_weight=0.0, teacher_assignment=False,
                 cross_head=None, cross_head_weight=0.0):
        super().__init__()
        if (head_kd_weight > 0 or cross_head is not None) and head_kd is None:
            raise ValueError("head output distillation (direct or cross-head) needs its loss: pass head_kd")
        if teacher_assignment and not hasattr(student.head, "set_assignment_predictions"):
            raise TypeError(f"teacher_assignment needs a TeacherAssignedHead, the student has a {type(student.head).__name__}")
        self.teacher_assignment = bool(teacher_assignment)
        self.student = student
        self.fgd_losses = nn.ModuleDict(fgd_losses)
        self.head_kd = head_kd  # no parameters: the state dict is the same with and without it
        self.head_kd_weight = float(head_kd_weight)
        self.cross_head = cross_head
        self.cross_head_weight = float(cross_head_weight)
        self._tap = None
        self._head_tap = None
        self._branch_tap = None

    @property
    def direct_head_kd(self):
        """Whether the student's own head outputs are distilled (``head_kd_weight > 0``)."""
        return self.head_kd is not None and self.head_kd_weight > 0

    def attach_tap(self, tap, head_tap=None, branch_tap=None):
        """Where the student's maps come from (a ``StudentTap``; ``None`` detaches), with direct
        head distillation its head's logits (a ``HeadOutputTap``), with ``cross_head`` its head's
        branch maps (a ``BranchTap``)."""
        if tap is not None and self.direct_head_kd and head_tap is None:
            raise RuntimeError("Distiller has head_kd: attach_tap() needs a HeadOutputTap too")
        if tap is not None and self.cross_head is not None and branch_tap is None:
            raise RuntimeError("Distiller has cross_head: attach_tap() needs a BranchTap too")
        self._tap = tap
        self._head_tap = head_tap
        self._branch_tap = branch_tap

    def forward(self, inps, targets, teacher_feats, distill_weight=1.0, keep_graph_terms=False,
                teacher_logits=None, teacher_branch_maps=None, teacher_head=None):
        """One training forward.

        Args:
            inps: ``(N, 3, H, W)`` batch at the current multiscale size.
            targets: ``(N, M, 5)`` YOLOX targets in input pixels.
            teacher_feats: ``{level: map}``, the teacher's maps at the same tap for the same batch.
            distill_weight: factor on the FGD total (warm-up, decay, stop, calibration), a
                Python float.
            keep_graph_terms: also return ``graph_terms`` (for diagnostics): the detection loss
                and every weighted term of every level as they enter ``total_loss``, with their
                autograd graphs, and ``map_stats`` (``{level: FGDLoss.map_statistics}``).

        Returns:
            YOLOX's loss dict with ``total_loss`` = detection + ``distill_weight`` * FGD, plus
            ``fgd_loss`` (weighted FGD total), per level ``fgd_loss_<lvl>`` and the unweighted
            terms ``fgd_fg_<lvl>``, ``fgd_bg_<lvl>``, ``fgd_attention_<lvl>``, ``fgd_rela_<lvl>``, and
            per term the weighted sum over levels before ``distill_weight``,
            ``fgd_weighted_<term>`` (what the loss calibration measures); with ``head_kd``
            (``teacher_logits``: ``{level: (obj, cls, reg)}``, :func:`~yolox_fgd.distill.features.head_logits`)
            also ``head_kd_obj``, ``head_kd_cls``, ``head_kd_box`` if the boxes are distilled
            (unweighted) and ``head_kd_loss`` (weighted, times ``distill_weight``), added to
            ``total_loss``; with ``cross_head`` (``teacher_branch_maps`` ``{level: (cls, reg)}`` and
            ``teacher_head``, the teacher's ``YOLOXHead``, too) the same keys as ``crosskd_*``.
        """
        if self._tap is None:
            raise RuntimeError("Distiller.attach_tap() was not called: no student features to distil")
        if self.teacher_assignment:
            if teacher_logits is None:
                raise ValueError("Distiller has teacher_assignment: pass the teacher's head logits (teacher_logits)")
            self.student.head.set_assignment_predictions(flatten_head_outputs(teacher_logits, LEVEL_STRIDES))
        outputs = self.student(inps, targets)
        student_feats = self._tap.pop()
        input_size = (int(inps.shape[2]), int(inps.shape[3]))
        fgd_total = 0.0
        weighted = {key: 0.0 for key in TERMS}
        graph_terms = {"detection": outputs["total_loss"]} if keep_graph_terms else None
        map_stats = {} if keep_graph_terms else None
        for name, loss_fn in self.fgd_losses.items():
            terms = loss_fn(student_feats[name], teacher_feats[name], targets, input_size)
            fgd_total = fgd_total + terms["loss"]
            outputs[f"fgd_loss_{name}"] = terms["loss"].detach()
            for key in TERMS:
                outputs[f"fgd_{key}_{name}"] = terms[key].detach()
                weighted[key] = weighted[key] + terms[f"weighted_{key}"].detach()
                if keep_graph_terms:
                    graph_terms[f"{key}_{name}"] = terms[f"weighted_{key}"] * distill_weight
            if keep_graph_terms:
                map_stats[name] = loss_fn.map_statistics(student_feats[name], teacher_feats[name])
        for key in TERMS:
            outputs[f"fgd_weighted_{key}"] = weighted[key]
        fgd_total = fgd_total * distill_weight
        outputs["fgd_loss"] = fgd_total.detach() if hasattr(fgd_total, "detach") else fgd_total
        outputs["total_loss"] = outputs["total_loss"] + fgd_total
        if self.head_kd is not None and teacher_logits is None:
            raise ValueError("Distiller has head_kd: pass the teacher's head logits (teacher_logits)")
        if self.direct_head_kd:
            self.add_head_kd(outputs, graph_terms, "head_kd", self._head_tap.pop(), teacher_logits,
                             self.head_kd_weight * distill_weight)
        if self.cross_head is not None:
            if teacher_branch_maps is None or teacher_head is None:
                raise ValueError("Distiller has cross_head: pass teacher_branch_maps and teacher_head")
            crossed = self.cross_head(self._branch_tap.pop(), teacher_branch_maps, teacher_head)
            self.add_head_kd(outputs, graph_terms, "crosskd", crossed, teacher_logits,
                             self.cross_head_weight * distill_weight)
        if keep_graph_terms:
            outputs["graph_terms"] = graph_terms
            outputs["map_stats"] = map_stats
        return outputs

    def add_head_kd(self, outputs, graph_terms, prefix, predictions, teacher_logits, weight):
        """``head_kd``'s loss of ``predictions`` against the teacher's, times ``weight``, into
        ``total_loss``; its terms logged as ``<prefix>_obj|cls|box`` and ``<prefix>_loss``."""
        kd = self.head_kd(predictions, teacher_logits)
        kd_total = kd["loss"] * weight
        for key in ("obj", "cls", "box"):
            if key in kd:
                outputs[f"{prefix}_{key}"] = kd[key].detach()
        outputs[f"{prefix}_loss"] = kd_total.detach()
        outputs["total_loss"] = outputs["total_loss"] + kd_total
        if graph_terms is not None:
            graph_terms[prefix] = kd_total

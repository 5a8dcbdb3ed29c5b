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

    The student's maps come from a :class:`~yolox_fgd.distill.features.StudentTap`, given after
    construction with :meth:`attach_tap` (its hooks must be registered after the EMA copy of the
    student exists); with ``head_kd``, its head's logits from a
    :class:`~yolox_fgd.distill.features.HeadOutputTap` given the same way.
    """

    def __init__(self, student, fgd_losses, head_kd=None, head_kd_weight=0.0, teacher_assignment=False):
        super().__init__()
        if teacher_assignment and not hasattr(student.head, "set_assignment_predictions"):
            raise TypeError(f"teacher_assignment needs a TeacherAssignedHead, the student has a {type(student.head).__name__}")
        self.teacher_assignment = bool(teacher_assignment)
        self.student = student
        self.fgd_losses = nn.ModuleDict(fgd_losses)
        self.head_kd = head_kd  # no parameters: the state dict is the same with and without it
        self.head_kd_weight = float(head_kd_weight)
        self._tap = None
        self._head_tap = None

    def attach_tap(self, tap, head_tap=None):
        """Where the student's maps come from (a ``StudentTap``; ``None`` detaches), and with
        ``head_kd`` its head's logits (a ``HeadOutputTap``)."""
        if tap is not None and self.head_kd is not None and head_tap is None:
            raise RuntimeError("Distiller has head_kd: attach_tap() needs a HeadOutputTap too")
        self._tap = tap
        self._head_tap = head_tap

    def forward(self, inps, targets, teacher_feats, distill_weight=1.0, keep_graph_terms=False,
                teacher_logits=None):
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
            ``total_loss``.
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
        if self.head_kd is not None:
            if teacher_logits is None:
                raise ValueError("Distiller has head_kd: pass the teacher's head logits (teacher_logits)")
            kd = self.head_kd(self._head_tap.pop(), teacher_logits)
            kd_total = kd["loss"] * (self.head_kd_weight * distill_weight)
            for key in ("obj", "cls", "box"):
                if key in kd:
                    outputs[f"head_kd_{key}"] = kd[key].detach()
            outputs["head_kd_loss"] = kd_total.detach()
            outputs["total_loss"] = outputs["total_loss"] + kd_total
            if keep_graph_terms:
                graph_terms["head_kd"] = kd_total
        if keep_graph_terms:
            outputs["graph_terms"] = graph_terms
            outputs["map_stats"] = map_stats
        return outputs

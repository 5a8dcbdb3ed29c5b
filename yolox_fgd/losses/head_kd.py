"""Distillation of the head's outputs: the student's objectness and class logits learn the
teacher's probabilities at every position of every level (``exp.head_kd_weight``; not part of
FGD, an addition beside it, docs/fgd_on_yolox.md section 9).

Soft targets as in Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network"
(2015), with YOLOX's per-output sigmoids in place of a softmax: each output is a Bernoulli
variable and the loss is the binary KL divergence from the teacher's probability to the
student's. Detectors distil their dense outputs this way in, e.g., mmdetection's LD
(``KnowledgeDistillationKLDivLoss``, Zheng et al., CVPR 2022) and PaddleDetection's PP-YOLOE
distillation (class logits); the weighting of the classes by the teacher's objectness follows
YOLOX's own score ``sigmoid(obj) * sigmoid(cls)``: where the teacher sees no object, its class
probabilities mean nothing.

The boxes (``box_weight > 0``): at every position the student's box learns the teacher's, with
YOLOX's GIoU loss form (``1 - GIoU``, Rezatofighi et al., CVPR 2019; YOLOX's ``IOUloss(loss_type=
"giou")``), weighted by the teacher's objectness like the classes: the localisation
distillation of LD (Zheng et al., CVPR 2022) for a head that regresses boxes directly instead
of distributions, as PP-YOLOE's and DAMO-YOLO's distillations distil the boxes beside the
classes.

``box_weighting="score"`` weighs each position's box by the teacher's score ``sigmoid(obj) *
max_c sigmoid(cls_c)`` (YOLOX's detection score) instead of its objectness alone, and divides by
the sum of those scores: a position where the teacher sees an object but not of which class
counts less. PaddleDetection's PP-YOLOE distillation (``ppdet/slim/distill_loss.py``,
``DistillPPYOLOELoss.bbox_loss``) weighs its box distillation by a per-position score and
divides by the scores' sum the same way.
"""
import torch
import torch.distributed
import torch.nn.functional as F
from torch import nn

from .batch_stats import BATCH_STATS, global_sum, is_global

__all__ = ["BOX_WEIGHTINGS", "HeadKDLoss", "binary_kl", "cell_giou"]

BOX_WEIGHTINGS = ("objectness", "score")


def binary_kl(student_logits, teacher_logits, temperature=1.0):
    """``T^2 KL(Bernoulli(sigmoid(t / T)) || Bernoulli(sigmoid(s / T)))`` elementwise, in nats
    (>= 0, 0 where the logits agree): the binary cross-entropy towards the teacher's softened
    probability minus its entropy (same gradient as the cross-entropy). ``T > 1`` softens both
    (Hinton et al. 2015: the factor ``T^2`` keeps the gradient's scale)."""
    s, t = student_logits.float() / temperature, teacher_logits.float() / temperature
    target = torch.sigmoid(t)
    return (F.binary_cross_entropy_with_logits(s, target, reduction="none")
            - F.binary_cross_entropy_with_logits(t, target, reduction="none")) * temperature ** 2


def cell_giou(student_reg, teacher_reg, max_log_size=10.0):
    """GIoU of the boxes that two YOLOX regression outputs of the same position decode to.

    YOLOX decodes ``reg`` at grid cell ``g`` of stride ``s`` as the centre ``(reg_xy + g) * s`` and
    the size ``exp(reg_wh) * s``; both boxes share ``g`` and ``s`` and the IoU is invariant to
    shift and scale, so the boxes are compared in cell units without the grid.

    Args:
        student_reg, teacher_reg: ``(N, 4, H, W)`` raw outputs of ``head.reg_preds[i]``.
        max_log_size: the log sizes are clamped to this (``exp`` of a diverging output stays
            finite).

    Returns:
        ``(N, 1, H, W)`` GIoU in [-1, 1] (1: the same box).
    """
    def corners(reg):
        reg = reg.float()
        half = torch.exp(reg[:, 2:].clamp(max=max_log_size)) / 2
        return reg[:, :2] - half, reg[:, :2] + half

    s_lo, s_hi = corners(student_reg)
    t_lo, t_hi = corners(teacher_reg)
    area = lambda lo, hi: (hi - lo).prod(1, keepdim=True)  # noqa: E731
    inter = (torch.min(s_hi, t_hi) - torch.max(s_lo, t_lo)).clamp(min=0).prod(1, keepdim=True)
    union = area(s_lo, s_hi) + area(t_lo, t_hi) - inter
    hull = area(torch.min(s_lo, t_lo), torch.max(s_hi, t_hi))
    eps = 1e-7
    return inter / (union + eps) - (hull - union) / (hull + eps)


class HeadKDLoss(nn.Module):
    """Objectness and class distillation over all positions of all levels.

    With ``p = sigmoid(teacher objectness)`` per position and ``P = sum p`` over the batch and
    the levels (the teacher's expected object count, at least 1; YOLOX divides its losses by the
    number of foreground positions the same way):

    * ``obj = sum KL(obj_t || obj_s) / P`` over every position;
    * ``cls = sum p * sum_c KL(cls_t,c || cls_s,c) / P``;
    * with ``box_weight > 0``: ``box = sum w * (1 - GIoU(box_s, box_t)) / W`` with ``w = p``
      (``box_weighting="objectness"``, ``W = P``) or ``w = p * max_c sigmoid(cls_t,c)``, the
      teacher's score (``"score"``, ``W = sum w``, at least 1).

    ``loss = obj + cls + box_weight * box``.

    Args:
        box_weight: weight of the box term (0: the boxes are not distilled, nor computed).
        temperature: ``T`` of the KL terms (:func:`binary_kl`); the weights ``p`` are the
            teacher's objectness probabilities at ``T = 1``.
        box_weighting: ``"objectness"`` or ``"score"``: what weighs each position's box term.
        batch_stats: ``"process"``: ``P`` (and ``W``) of this process's batch; ``"global"``: their
            mean over the processes (every process divides by the same count, and the mean of the
            processes' losses is the loss of their batches together;
            :mod:`yolox_fgd.losses.batch_stats`).

    No parameters; no host synchronisation.
    """

    def __init__(self, box_weight=0.0, temperature=1.0, box_weighting="objectness", batch_stats="process"):
        super().__init__()
        if batch_stats not in BATCH_STATS:
            raise ValueError(f"batch_stats must be one of {BATCH_STATS}, got {batch_stats!r}")
        self.batch_stats = batch_stats
        if box_weighting not in BOX_WEIGHTINGS:
            raise ValueError(f"box_weighting must be one of {BOX_WEIGHTINGS}, got {box_weighting!r}")
        self.box_weighting = box_weighting
        if not box_weight >= 0:
            raise ValueError(f"box_weight must be >= 0 (0: off), got {box_weight}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.box_weight, self.temperature = float(box_weight), float(temperature)

    def forward(self, student, teacher):
        """
        Args:
            student, teacher: ``{level: (obj (N, 1, H, W), cls (N, C, H, W), reg (N, 4, H, W))}``
                logits and box regressions; the teacher's without a graph; ``reg`` is needed
                (and read) only with ``box_weight > 0``.

        Returns:
            ``{"obj", "cls", "loss"}`` scalars (nats per expected teacher object), and ``"box"``
            (GIoU loss per expected teacher object) with ``box_weight > 0``.
        """
        obj_sum = cls_sum = box_sum = count = box_count = 0.0
        for lvl, t_out in teacher.items():
            s_out = student[lvl]
            want = 3 if self.box_weight > 0 else 2
            if len(s_out) < want or len(t_out) < want:
                raise ValueError(f"head outputs at {lvl}: box distillation needs (obj, cls, reg) from both "
                                 f"models, got {len(s_out)} and {len(t_out)} tensors")
            shapes = [(tuple(s.shape), tuple(t.shape)) for s, t in zip(s_out[:want], t_out[:want])]
            if any(s != t for s, t in shapes):
                raise ValueError(f"head outputs at {lvl} do not pair up: (student, teacher) shapes of "
                                 f"{('obj', 'cls', 'reg')[:want]}: {shapes}")
            p = torch.sigmoid(t_out[0].float())
            obj_sum = obj_sum + binary_kl(s_out[0], t_out[0], self.temperature).sum()
            cls_sum = cls_sum + (p * binary_kl(s_out[1], t_out[1], self.temperature).sum(1, keepdim=True)).sum()
            if self.box_weight > 0:
                w = p if self.box_weighting == "objectness" else p * torch.sigmoid(t_out[1].float()).amax(1, keepdim=True)
                box_sum = box_sum + (w * (1 - cell_giou(s_out[2], t_out[2]))).sum()
                box_count = box_count + w.sum()
            count = count + p.sum()
        if is_global(self.batch_stats):
            world = torch.distributed.get_world_size()
            count = global_sum(count) / world
            box_count = global_sum(box_count) / world if self.box_weight > 0 else box_count
        count = torch.clamp(count, min=1.0)
        out = {"obj": obj_sum / count, "cls": cls_sum / count}
        out["loss"] = out["obj"] + out["cls"]
        if self.box_weight > 0:
            out["box"] = box_sum / torch.clamp(box_count, min=1.0)
            out["loss"] = out["loss"] + self.box_weight * out["box"]
        return out

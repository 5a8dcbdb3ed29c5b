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
"""
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HeadKDLoss", "binary_kl"]


def binary_kl(student_logits, teacher_logits):
    """``KL(Bernoulli(sigmoid(t)) || Bernoulli(sigmoid(s)))`` elementwise, in nats (>= 0, 0 where
    the logits agree): the binary cross-entropy towards the teacher's probability minus its
    entropy (same gradient as the cross-entropy)."""
    target = torch.sigmoid(teacher_logits.float())
    s, t = student_logits.float(), teacher_logits.float()
    return (F.binary_cross_entropy_with_logits(s, target, reduction="none")
            - F.binary_cross_entropy_with_logits(t, target, reduction="none"))


class HeadKDLoss(nn.Module):
    """Objectness and class distillation over all positions of all levels.

    With ``p = sigmoid(teacher objectness)`` per position and ``P = sum p`` over the batch and
    the levels (the teacher's expected object count, at least 1; YOLOX divides its losses by the
    number of foreground positions the same way):

    * ``obj = sum KL(obj_t || obj_s) / P`` over every position;
    * ``cls = sum p * sum_c KL(cls_t,c || cls_s,c) / P``.

    No parameters; no host synchronisation.
    """

    def forward(self, student, teacher):
        """
        Args:
            student, teacher: ``{level: (obj (N, 1, H, W), cls (N, C, H, W))}`` logits; the
                teacher's without a graph.

        Returns:
            ``{"obj": scalar, "cls": scalar}`` (nats per expected teacher object).
        """
        obj_sum = cls_sum = count = 0.0
        for lvl, (t_obj, t_cls) in teacher.items():
            s_obj, s_cls = student[lvl]
            if s_obj.shape != t_obj.shape or s_cls.shape != t_cls.shape:
                raise ValueError(f"head outputs at {lvl} do not pair up: student obj {tuple(s_obj.shape)} / cls "
                                 f"{tuple(s_cls.shape)}, teacher {tuple(t_obj.shape)} / {tuple(t_cls.shape)}")
            p = torch.sigmoid(t_obj.float())
            obj_sum = obj_sum + binary_kl(s_obj, t_obj).sum()
            cls_sum = cls_sum + (p * binary_kl(s_cls, t_cls).sum(1, keepdim=True)).sum()
            count = count + p.sum()
        count = torch.clamp(count, min=1.0)
        return {"obj": obj_sum / count, "cls": cls_sum / count}

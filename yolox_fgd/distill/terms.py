"""Distillation terms: one interface for every method that adds a loss to the student's.

A term (timm's ``distillation.py`` dict of named losses; mmrazor's loss mappings without their
string layers, docs/design.md) says what it needs from the teacher (:data:`TEACHER_OUTPUTS`),
taps what it needs from the student's own forward (:meth:`DistillTerm.attach`), and returns its
weighted loss with its named, detached terms for the log. The :class:`~yolox_fgd.distill.distiller.Distiller`
holds the terms; the schedule's factor (warm-up, decay, stop, mosaic-free factor) scales them all
from outside, a term's own weight and calibration from inside.

* :class:`FGDTerm`: FGD (Yang et al., CVPR 2022) at one tap, one ``FGDLoss`` per level (Eqs. 7-10),
  with the FGD maintainer's loss calibration (:class:`~yolox_fgd.distill.schedule.LossCalibration`);
* :class:`HeadOutputTerm`: the student's head outputs learn the teacher's
  (:class:`~yolox_fgd.losses.head_kd.HeadKDLoss`; not in the FGD paper);
* :class:`CrossHeadTerm`: the student's head maps through the teacher's head (CrossKD, Wang et al.,
  CVPR 2024; :mod:`yolox_fgd.distill.cross_head`), scored with a ``HeadKDLoss``.

To add a method: subclass :class:`DistillTerm`, declare ``name``, ``teacher_needs`` and what its
checkpoint entry is called, and give it to the Distiller (``FGDExp.get_distill_terms``).
"""
from dataclasses import dataclass
from typing import Optional

from torch import nn

from .cross_head import BranchTap
from .features import HeadOutputTap, StudentTap
from .schedule import TERMS, LossCalibration

__all__ = ["CrossHeadTerm", "DistillTerm", "FGDTerm", "GraphCapture", "HeadOutputTerm", "TEACHER_OUTPUTS",
           "TeacherTargets"]

# what a term may need from the teacher: its maps at a tap, its head outputs, its head's branch maps
TEACHER_OUTPUTS = ("maps", "head_outputs", "branch_maps")


@dataclass
class TeacherTargets:
    """What the teacher computed for one batch (``Distiller.teacher_targets``), no graph.

    Attributes:
        maps: ``{tap: {level: (N, C, H, W)}}`` for the taps the terms asked for.
        head_outputs: ``{level: (obj (N, 1, H, W), cls (N, K, H, W), reg (N, 4, H, W))}`` raw head
            outputs on the student's grid, or ``None``.
        branch_maps: ``{level: (cls, reg)}`` maps after the first conv of each head branch, or ``None``.
        head: the teacher's ``YOLOXHead`` (frozen) when ``branch_maps`` is given, else ``None``.
    """

    maps: dict
    head_outputs: Optional[dict] = None
    branch_maps: Optional[dict] = None
    head: Optional[nn.Module] = None


class GraphCapture:
    """The diagnostics channel of one forward: each weighted term as it enters ``total_loss``,
    with its autograd graph (``terms``, ``"detection"`` first), and per level the statistics of
    the maps FGD compares (``map_stats``). Filled by the terms when passed to the Distiller's
    forward; read by :class:`~yolox_fgd.distill.diagnostics.FGDDiagnostics`."""

    def __init__(self):
        self.terms = {}
        self.map_stats = {}


class DistillTerm(nn.Module):
    """Base of the distillation terms.

    Class attributes of a subclass:
        name: prefix of its log keys (``<name>_...``) and its total's key ``<name>_loss``.
        teacher_needs: the :data:`TEACHER_OUTPUTS` it reads.
        log_decimals: decimals of its keys in the progress line.
        lr_mult: learning-rate multiple of its parameters (none: 1).
    """

    name = "term"
    teacher_needs = frozenset()
    log_decimals = 1
    lr_mult = 1.0
    divergence_hint = ""

    def attach(self, student):
        """Register the student-side hooks this term reads (after the student's EMA copy exists)."""

    def detach(self):
        """Remove them."""

    def forward(self, targets, input_size, teacher, det_losses, weight, capture=None):
        """The term for one training forward of the student (whose tapped outputs it pops).

        Args:
            targets: ``(N, M, 5)`` YOLOX targets in input pixels.
            input_size: ``(h, w)`` of the batch.
            teacher: :class:`TeacherTargets` of the same batch.
            det_losses: the student's detection loss dict of this forward (YOLOX's keys).
            weight: the schedule's factor (a Python float) on this term.
            capture: a :class:`GraphCapture` or ``None``.

        Returns:
            ``(loss, logs)``: the weighted loss (a scalar with its graph, added to ``total_loss``)
            and ``{key: detached scalar}`` of its named terms.
        """
        raise NotImplementedError

    def checkpoint_state(self):
        """Its entries of the training checkpoint (``{}``: none)."""
        return {}

    def replica_state(self):
        """Floats of its own state that every process must hold alike (checked under DDP)."""
        return []

    def load_checkpoint_state(self, ckpt):
        """Restore them from a checkpoint dict; raise ValueError naming what is missing."""


class FGDTerm(DistillTerm):
    """FGD at ``tap``: one :class:`~yolox_fgd.losses.FGDLoss` per level, their total times
    ``weight * calibration``.

    Args:
        losses: ``{level: FGDLoss}``.
        tap: where both models are tapped (:data:`~yolox_fgd.distill.features.TAPS`).
        calibrate_iters: the loss calibration's length (0: off); it measures the weighted FGD
            terms and scales FGD only.
        lr_mult: learning-rate multiple of the projections and GcBlocks.

    Logs ``fgd_loss_<lvl>`` and the unweighted ``fgd_<term>_<lvl>`` of every level and the total
    ``fgd_loss``; checkpoint keys ``fgd`` (the modules) and ``fgd_calibration``.
    """

    name = "fgd"
    teacher_needs = frozenset({"maps"})
    log_decimals = 4
    divergence_hint = "the FGD weights (fgd_feature_norm True keeps the FGD terms on the scale of the maps)"

    def __init__(self, losses, tap, calibrate_iters=0, lr_mult=1.0):
        super().__init__()
        self.losses = nn.ModuleDict(losses)
        self.tap, self.levels = tap, tuple(losses)
        self.calibration = LossCalibration(calibrate_iters)
        self.lr_mult = float(lr_mult)
        self._tap = None

    def attach(self, student):
        self.detach()
        self._tap = StudentTap(student, self.tap, self.levels)

    def detach(self):
        if self._tap is not None:
            self._tap.remove()
            self._tap = None

    def forward(self, targets, input_size, teacher, det_losses, weight, capture=None):
        if self._tap is None:
            raise RuntimeError("FGDTerm.attach(student) was not called: no student maps to distil")
        student_maps, teacher_maps = self._tap.pop(), teacher.maps[self.tap]
        factor = weight * self.calibration.factor()
        total, logs = 0.0, {}
        weighted = {key: 0.0 for key in TERMS}
        for name, loss_fn in self.losses.items():
            terms = loss_fn(student_maps[name], teacher_maps[name], targets, input_size)
            total = total + terms["loss"]
            logs[f"fgd_loss_{name}"] = terms["loss"].detach()
            for key in TERMS:
                logs[f"fgd_{key}_{name}"] = terms[key].detach()
                weighted[key] = weighted[key] + terms[f"weighted_{key}"].detach()
                if capture is not None:
                    capture.terms[f"{key}_{name}"] = terms[f"weighted_{key}"] * factor
            if capture is not None:
                capture.map_stats[name] = loss_fn.map_statistics(student_maps[name], teacher_maps[name])
        if not self.calibration.done:
            self.calibration.update(det_losses["cls_loss"], det_losses["iou_loss"], weighted)
        return total * factor, logs

    def checkpoint_state(self):
        return {"fgd": self.losses.state_dict(), "fgd_calibration": self.calibration.state_dict()}

    def replica_state(self):
        return [self.calibration.factor()]

    def load_checkpoint_state(self, ckpt):
        if "fgd" not in ckpt:
            raise ValueError("the checkpoint to resume has no FGD modules ('fgd' key): it comes from a plain run; "
                             "use -c without --resume to start distillation from it")
        self.losses.load_state_dict(ckpt["fgd"])
        if "fgd_calibration" in ckpt:
            self.calibration.load_state_dict(ckpt["fgd_calibration"])


class HeadOutputTerm(DistillTerm):
    """The student's head outputs (objectness, classes, optionally boxes) learn the teacher's.

    Args:
        loss: a :class:`~yolox_fgd.losses.head_kd.HeadKDLoss`.
        weight: its weight (the detection loss has weight 1).

    Logs ``head_kd_obj``, ``head_kd_cls``, ``head_kd_box`` (unweighted) and ``head_kd_loss``.
    """

    name = "head_kd"
    teacher_needs = frozenset({"head_outputs"})
    divergence_hint = "head_kd_weight"

    def __init__(self, loss, weight):
        super().__init__()
        self.loss, self.weight = loss, float(weight)
        self._tap = None

    def attach(self, student):
        self.detach()
        self._tap = HeadOutputTap(student)

    def detach(self):
        if self._tap is not None:
            self._tap.remove()
            self._tap = None

    def student_predictions(self, teacher):
        """The student's outputs this term scores (the live head's, from its hooks)."""
        if self._tap is None:
            raise RuntimeError(f"{type(self).__name__}.attach(student) was not called: no student outputs to distil")
        return self._tap.pop()

    def forward(self, targets, input_size, teacher, det_losses, weight, capture=None):
        kd = self.loss(self.student_predictions(teacher), teacher.head_outputs)
        total = kd["loss"] * (self.weight * weight)
        logs = {f"{self.name}_{key}": kd[key].detach() for key in ("obj", "cls", "box") if key in kd}
        if capture is not None:
            capture.terms[self.name] = total
        return total, logs


class CrossHeadTerm(HeadOutputTerm):
    """Cross-head distillation (CrossKD): the student's maps after the first conv of each head
    branch, projected to the teacher's channels and aligned to its statistics, run through the
    teacher's remaining head; those predictions learn the teacher's with ``loss``.

    Args:
        cross_head: the :class:`~yolox_fgd.distill.cross_head.CrossHead` (trainable projections).
        loss: a :class:`~yolox_fgd.losses.head_kd.HeadKDLoss`.
        weight: its weight.

    Logs ``crosskd_obj``, ``crosskd_cls``, ``crosskd_box`` and ``crosskd_loss``; checkpoint key
    ``cross_head``.
    """

    name = "crosskd"
    teacher_needs = frozenset({"head_outputs", "branch_maps"})
    divergence_hint = "crosskd_weight"

    def __init__(self, cross_head, loss, weight):
        super().__init__(loss, weight)
        self.cross_head = cross_head

    def attach(self, student):
        self.detach()
        self._tap = BranchTap(student)

    def student_predictions(self, teacher):
        branch_maps = super().student_predictions(teacher)
        return self.cross_head(branch_maps, teacher.branch_maps, teacher.head)

    def checkpoint_state(self):
        return {"cross_head": self.cross_head.state_dict()}

    def load_checkpoint_state(self, ckpt):
        if ckpt.get("cross_head") is None:
            raise ValueError("the checkpoint to resume has no cross-head projections ('cross_head' key): it was "
                             "trained without crosskd_weight; use -c without --resume to start from it")
        self.cross_head.load_state_dict(ckpt["cross_head"])

"""The Distiller: the student and its distillation terms as one trainable module, the one owner
of distillation.

As in timm's distillation task, the trainable parts of the distillation (FGD's align convs and
GcBlocks, the cross-head projections) live with the student, so DDP synchronises their gradients,
the optimizer trains them and the checkpoint keeps them; the teacher stays outside (its outputs
arrive as an argument, computed by :meth:`Distiller.teacher_targets` outside DDP). The Distiller
decides, from its terms, what the teacher computes and what the student's hooks capture; the
trainer only calls, per step::

    teacher = distiller.teacher_targets(teacher_model, images)      # no_grad, eval mode
    losses = ddp_wrapped_distiller(images, targets, teacher, weight)  # one forward, dict of scalars
"""
import contextlib

import torch
from torch import nn

from ..models.teacher_assigned_head import flatten_head_outputs
from .features import LEVEL_STRIDES, head_logits, maps_at_tap
from .resample import resample_head_outputs, resize_images
from .terms import TeacherTargets

__all__ = ["Distiller"]


class Distiller(nn.Module):
    """A YOLOX student and its distillation terms.

    Args:
        student: a YOLOX model (``backbone`` = YOLOPAFPN, ``head``).
        terms: :class:`~yolox_fgd.distill.terms.DistillTerm` instances, added to the detection
            loss in this order, each once (their ``name`` is unique).
        teacher_assignment: the student's SimOTA label assignment from the teacher's predictions
            (Label Assignment Distillation; the student's head is a
            :class:`~yolox_fgd.models.teacher_assigned_head.TeacherAssignedHead`). Not a loss
            term: no schedule acts on it.
        teacher_head_size: ``(H, W)`` at which the teacher computes its head outputs (every batch
            resized to it, the outputs resampled to the student's grid; Qi et al., CVPR 2021), or
            ``None``: the batch as the student sees it.

    The student-side hooks are registered by :meth:`attach` (after the student's EMA copy
    exists, so the copy carries none) and removed by :meth:`detach`.
    """

    def __init__(self, student, terms, teacher_assignment=False, teacher_head_size=None):
        super().__init__()
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"distillation terms must have distinct names, got {names}")
        if teacher_assignment and not hasattr(student.head, "assignment_from"):
            raise TypeError(f"teacher_assignment needs a TeacherAssignedHead, the student has a {type(student.head).__name__}")
        self.student = student
        self.terms = nn.ModuleDict({t.name: t for t in terms})
        self.teacher_assignment = bool(teacher_assignment)
        self.teacher_head_size = None if teacher_head_size is None else tuple(int(v) for v in teacher_head_size)
        self.attached = False
        # log decimals of every key the terms returned (filled by forward; the trainer's progress line)
        self.log_decimals = {}

    # ------------------------------------------------------------------ what is computed
    def teacher_needs(self):
        """The teacher outputs the terms (and the teacher assignment) read."""
        needs = set().union(*(t.teacher_needs for t in self.terms.values())) if self.terms else set()
        return needs | ({"head_outputs"} if self.teacher_assignment else set())

    @torch.no_grad()
    def teacher_targets(self, teacher, images):
        """What the terms need from the teacher for ``images`` ``(N, 3, H, W)``.

        The teacher is frozen first (every call: eval mode, or its chosen BatchNorm statistics;
        :meth:`~yolox_fgd.distill.teacher.TeacherModel.freeze`), runs without a graph, under the
        caller's autocast.

        Args:
            teacher: the frozen teacher (:class:`~yolox_fgd.distill.teacher.TeacherModel`).

        Returns:
            :class:`~yolox_fgd.distill.terms.TeacherTargets` holding only what is needed.
        """
        teacher.freeze()
        model, needs = teacher.model, self.teacher_needs()
        fpn = model.backbone(images)
        maps = {}
        for term in self.terms.values():
            if "maps" in term.teacher_needs and term.tap not in maps:
                maps[term.tap] = maps_at_tap(model, fpn, term.tap, term.levels)
        branch_maps = {} if "branch_maps" in needs else None
        head_outputs = None
        if "head_outputs" in needs:
            size = self.teacher_head_size
            if size is None or tuple(images.shape[-2:]) == size:
                head_outputs = head_logits(model, fpn, branch_maps)
            else:
                outputs = head_logits(model, model.backbone(resize_images(images, size)))
                head_outputs = resample_head_outputs(outputs, LEVEL_STRIDES, size, images.shape[-2:])
        return TeacherTargets(maps, head_outputs, branch_maps, model.head if branch_maps is not None else None)

    # ------------------------------------------------------------------ student hooks
    def attach(self):
        """Register every term's hooks on the student."""
        for term in self.terms.values():
            term.attach(self.student)
        self.attached = True

    def detach(self):
        """Remove them."""
        for term in self.terms.values():
            term.detach()
        self.attached = False

    # ------------------------------------------------------------------ training forward
    def forward(self, images, targets, teacher, weight=1.0, capture=None):
        """One training forward.

        Args:
            images: ``(N, 3, H, W)`` batch at the current multiscale size.
            targets: ``(N, M, 5)`` YOLOX targets in input pixels.
            teacher: :class:`~yolox_fgd.distill.terms.TeacherTargets` of the same batch.
            weight: the schedule's factor on every term (a Python float).
            capture: a :class:`~yolox_fgd.distill.terms.GraphCapture` for diagnostics, or ``None``.

        Returns:
            YOLOX's loss dict, ``total_loss`` = detection + the terms' weighted losses (in term
            order), each term's ``<name>_loss`` and its named terms; every value a scalar.
        """
        if not self.attached:
            raise RuntimeError("Distiller.attach() was not called: no student outputs to distil")
        if self.teacher_assignment and teacher.head_outputs is None:
            raise ValueError("Distiller has teacher_assignment: the teacher targets hold no head outputs")
        assignment = contextlib.nullcontext()
        if self.teacher_assignment:
            assignment = self.student.head.assignment_from(flatten_head_outputs(teacher.head_outputs, LEVEL_STRIDES))
        with assignment:
            outputs = self.student(images, targets)
        if capture is not None:
            capture.terms["detection"] = outputs["total_loss"]
        input_size = (int(images.shape[2]), int(images.shape[3]))
        for term in self.terms.values():
            loss, logs = term(targets, input_size, teacher, outputs, weight, capture)
            for key, value in logs.items():
                outputs[key] = value
                self.log_decimals[key] = term.log_decimals
            key = f"{term.name}_loss"
            outputs[key] = loss.detach() if hasattr(loss, "detach") else loss
            self.log_decimals[key] = term.log_decimals
            outputs["total_loss"] = outputs["total_loss"] + loss
        return outputs

    # ------------------------------------------------------------------ optimizer, checkpoint, messages
    def param_groups(self):
        """``[(module, lr_mult)]``: the student at 1, then each term with parameters at its
        ``lr_mult``; together every trainable parameter of the Distiller (the optimizer's
        builder, ``FGDExp.get_optimizer``, checks that each is in exactly one group)."""
        parts = [(self.student, 1.0)]
        parts += [(term, float(term.lr_mult)) for term in self.terms.values()
                  if any(p.requires_grad for p in term.parameters())]
        return parts

    def checkpoint_state(self):
        """The terms' checkpoint entries (``fgd``, ``fgd_calibration``, ``cross_head`` ...)."""
        state = {}
        for term in self.terms.values():
            state.update(term.checkpoint_state())
        return state

    def load_checkpoint_state(self, ckpt):
        """Restore the terms from a checkpoint dict (ValueError naming what is missing)."""
        for term in self.terms.values():
            term.load_checkpoint_state(ckpt)

    def replica_state(self):
        """Floats of the terms' own state that must agree across processes (FGD's calibration)."""
        return [v for term in self.terms.values() for v in term.replica_state()]

    def divergence_hint(self):
        """What to lower when training diverges, besides the learning rate."""
        hints = [t.divergence_hint for t in self.terms.values() if t.divergence_hint]
        return " or ".join(hints)

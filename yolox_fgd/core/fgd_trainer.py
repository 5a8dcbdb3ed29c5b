"""``FGDTrainer``: the device-agnostic YOLOX trainer with a frozen teacher and FGD losses.

Per step (docs/design.md, section 2): the batch is resized to the multiscale size; the teacher's backbone
(and, with a head tap such as ``fgd_tap = "stems"``, its head up to the tap; with ``head_kd_weight``
also its objectness and class logits) runs on that same tensor under ``no_grad``, in eval mode
re-asserted every step, under the student's autocast; the student runs with its targets while
forward hooks capture its maps at the same tap (and its logits); one ``FGDLoss`` per level (and
the ``HeadKDLoss``) adds to the detection loss; one backward and one optimizer step train the
student and the FGD modules together.

What trains (optimizer, DDP, checkpoint ``fgd`` key) is the :class:`Distiller`; EMA and the
checkpoint's ``model`` key hold the student only, so YOLOX's own tools load it.
"""
import torch
import torch.distributed as dist
from loguru import logger
from yolox.utils import get_model_info

from ..distill.cross_head import BranchTap
from ..distill.diagnostics import FGDDiagnostics
from ..distill.features import (LEVEL_STRIDES, PAFPN_LEVELS, HeadOutputTap, StudentTap, head_logits, maps_at_tap,
                                reached_prefixes, tap_channels)
from ..distill.resample import resample_head_outputs, resize_images
from ..distill.schedule import DistillWeight, LossCalibration
from ..utils.modules import unwrap
from .trainer import Trainer

__all__ = ["FGDTrainer"]


class FGDTrainer(Trainer):
    """Trainer for ``FGDExp`` experiments (see module docstring)."""

    def __init__(self, exp, args):
        super().__init__(exp, args)
        self.teacher = None
        self.hooks = None
        self.head_hooks = None
        self.branch_hooks = None
        self.weight_schedule = None
        self.calibration = LossCalibration(exp.fgd_calibrate_iters)
        self.diagnostics = None

    # ------------------------------------------------------------------ setup
    def build_model(self):
        # The student first: it then draws the same random initial weights as in a plain run.
        self.exp.get_model()
        self.teacher = self.exp.get_teacher(device="cpu")
        distiller = self.exp.get_distiller(self.teacher)
        self.check_level_pairing(distiller.student, self.teacher.model)
        self.log_model_line("student", distiller.student, self.exp)
        self.log_model_line("teacher", self.teacher.model, self.teacher.exp)
        self.teacher.to(self.device)
        if self.memory_format is not None:
            self.teacher.to(memory_format=self.memory_format)
        return distiller

    def check_level_pairing(self, student, teacher):
        """Student and teacher levels must have the same strides (and so the same map sizes)."""
        s_strides, t_strides = list(student.head.strides), list(teacher.head.strides)
        if len(s_strides) != len(t_strides) or s_strides != t_strides:
            raise ValueError(
                f"student and teacher levels do not pair up: student strides {s_strides}, "
                f"teacher strides {t_strides}; FGD distils outputs of equal stride"
            )
        for lvl in self.exp.fgd_levels:
            idx, stride = PAFPN_LEVELS[lvl]
            if s_strides[idx] != stride:
                raise ValueError(f"level {lvl} expects stride {stride}, the student has {s_strides[idx]}")

    def log_model_line(self, role, model, exp):
        channels = tap_channels(model, self.exp.fgd_tap)
        levels = ", ".join(f"{lvl}: {channels[lvl]}ch/s{PAFPN_LEVELS[lvl][1]}" for lvl in self.exp.fgd_levels)
        info = get_model_info(model, self.exp.test_size)
        logger.info(f"{role}: {info} at {tuple(self.exp.test_size)}, distilled maps: {self.exp.fgd_tap} "
                    f"outputs, levels {levels}")

    def before_train(self):
        super().before_train()
        if self.exp.teacher_eval_first:
            self.evaluate_teacher()
        # Hooks after the EMA copy exists; they record only the live modules they were put on.
        self.hooks = StudentTap(self.student, self.exp.fgd_tap, self.exp.fgd_levels)
        distiller = unwrap(self.model)
        if distiller.direct_head_kd:
            self.head_hooks = HeadOutputTap(self.student)
        if distiller.cross_head is not None:
            self.branch_hooks = BranchTap(self.student)
        distiller.attach_tap(self.hooks, self.head_hooks, self.branch_hooks)
        exp = self.exp
        self.weight_schedule = DistillWeight(self.max_iter, self.max_epoch, exp.fgd_warmup_iters, exp.fgd_decay,
                                             exp.fgd_decay_final, exp.fgd_stop_epoch,
                                             no_aug_epoch=self.mosaic_off_epoch,
                                             no_aug_factor=exp.fgd_no_aug_factor)
        if exp.fgd_diagnostics_interval:
            if self.is_distributed:
                raise ValueError("fgd_diagnostics_interval needs a single process (it takes gradients of each "
                                 "term outside DDP's backward); set it to 0 or run with -d 1")
            self.diagnostics = FGDDiagnostics(self.file_name if self.rank == 0 else None)
        channels = {lvl: loss.teacher_channels for lvl, loss in unwrap(self.model).fgd_losses.items()}
        logger.info(f"FGD on {list(exp.fgd_levels)} (teacher channels {channels}), warm-up "
                    f"{exp.fgd_warmup_iters} iterations, decay {exp.fgd_decay} (final {exp.fgd_decay_final}), "
                    f"stop epoch {exp.fgd_stop_epoch}, factor {exp.fgd_no_aug_factor} from epoch "
                    f"{self.mosaic_off_epoch} (mosaic-free), feature_norm {exp.fgd_feature_norm}, channel_ref "
                    f"{exp.fgd_channel_ref}, projector {exp.fgd_projector}, calibration over {exp.fgd_calibrate_iters} iterations"
                    f"; head output distillation weight {exp.head_kd_weight} (boxes {exp.head_kd_box_weight} weighted by "
                    f"{exp.head_kd_box_weighting}, temperature {exp.head_kd_temperature}, teacher input "
                    f"{exp.head_kd_teacher_size or 'the batch as the student sees it'}); label assignment from the "
                    f"{'teacher' if exp.teacher_assignment else 'student'}'s predictions; cross-head distillation "
                    f"weight {exp.crosskd_weight}")

    def student_of(self, model):
        """The student inside the trained :class:`Distiller`."""
        return unwrap(model).student

    def evaluate_teacher(self):
        """Log the teacher's AP on the validation set (a wrongly loaded teacher shows at once)."""
        logger.info("evaluating the teacher before training ...")
        ap50_95, ap50, summary = self.exp.eval(self.teacher, self.evaluator, self.is_distributed)
        self.teacher.eval()
        if self.rank == 0:
            logger.info(f"teacher AP50:95 {100 * ap50_95:.2f}, AP50 {100 * ap50:.2f}\n{summary}")
        self.teacher_ap = ap50_95

    def after_train(self):
        if self.hooks is not None:
            self.hooks.remove()
            unwrap(self.model).attach_tap(None)
        for hooks in (self.head_hooks, self.branch_hooks):
            if hooks is not None:
                hooks.remove()
        super().after_train()

    # ------------------------------------------------------------------ step
    def distill_weight(self):
        """The factor on the FGD total at this iteration (:class:`DistillWeight` times the
        calibration's factor), a Python float."""
        return self.weight_schedule(self.progress_in_iter, self.calibration.factor())

    def diagnostics_due(self):
        interval = self.exp.fgd_diagnostics_interval
        return self.diagnostics is not None and (self.progress_in_iter + 1) % interval == 0

    def forward_losses(self, inps, targets):
        self.teacher.eval()  # every step: nothing may have switched its BatchNorm to batch statistics
        with torch.no_grad():
            fpn = self.teacher.model.backbone(inps)
            teacher_feats = maps_at_tap(self.teacher.model, fpn, self.exp.fgd_tap, self.exp.fgd_levels)
            teacher_logits = branch_maps = None
            if self.branch_hooks is not None:
                branch_maps = {}
            if unwrap(self.model).head_kd is not None or self.exp.teacher_assignment:
                teacher_logits = self.teacher_head_outputs(inps, fpn, branch_maps)
        self.last_distill_weight = self.distill_weight()
        return self.model(inps, targets, teacher_feats, self.last_distill_weight,
                          keep_graph_terms=self.diagnostics_due(), teacher_logits=teacher_logits,
                          teacher_branch_maps=branch_maps,
                          teacher_head=self.teacher.model.head if branch_maps is not None else None)

    def teacher_head_outputs(self, inps, fpn, branch_maps=None):
        """The teacher's head outputs for the head output distillation and the teacher's label
        assignment: from ``fpn`` (its backbone on this batch), or with ``exp.head_kd_teacher_size``
        from the batch resized to that size, resampled to the student's grid
        (:mod:`yolox_fgd.distill.resample`). ``branch_maps`` (a dict) receives the maps after the
        first conv of each head branch (cross-head distillation; not with a teacher size)."""
        size = self.exp.head_kd_teacher_size
        if size is None or tuple(inps.shape[-2:]) == tuple(size):
            return head_logits(self.teacher.model, fpn, branch_maps)
        model = self.teacher.model
        outputs = head_logits(model, model.backbone(resize_images(inps, size)))
        return resample_head_outputs(outputs, LEVEL_STRIDES, size, inps.shape[-2:])

    def before_backward(self, outputs):
        """Loss calibration (while measuring) and, on diagnostic iterations, per-term gradient
        norms and map statistics (``diagnostics.jsonl``)."""
        if not self.calibration.done:
            self.calibration.update(outputs)
        graph_terms = outputs.pop("graph_terms", None)
        map_stats = outputs.pop("map_stats", None)
        if graph_terms is not None:
            named = [(n, p) for n, p in self.student.named_parameters() if p.requires_grad]
            reached = [i for i, (n, _) in enumerate(named) if n.startswith(reached_prefixes(self.exp.fgd_tap))]
            self.diagnostics.record(
                graph_terms, map_stats, [p for _, p in named], epoch=self.epoch + 1,
                iteration=self.progress_in_iter + 1, distill_weight=self.last_distill_weight, reached=reached)

    # ------------------------------------------------------------------ epochs / checkpoints
    def after_epoch(self):
        super().after_epoch()
        self.check_replicas_in_sync()

    def check_replicas_in_sync(self):
        """Under DDP, check that student and FGD parameters are identical on every rank."""
        if not self.is_distributed:
            return
        flat = torch.cat([p.detach().float().reshape(-1) for p in unwrap(self.model).parameters()])
        lo, hi = flat.clone(), flat.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if not torch.equal(lo, hi):
            raise RuntimeError("student/FGD parameters differ between ranks: gradients were not synchronised")
        logger.info(f"replicas in sync: student and FGD parameters identical on {dist.get_world_size()} ranks")

    def extra_checkpoint_state(self):
        cross_head = unwrap(self.model).cross_head
        return {
            "fgd": unwrap(self.model).fgd_losses.state_dict(),
            "cross_head": cross_head.state_dict() if cross_head is not None else None,
            "fgd_calibration": self.calibration.state_dict(),
            "teacher_ckpt": self.exp.teacher_ckpt,
            "teacher_sha256": self.teacher.ckpt_sha256 if self.teacher is not None else None,
        }

    def load_extra_state(self, ckpt):
        if "fgd" not in ckpt:
            raise ValueError(
                "the checkpoint to resume has no FGD modules ('fgd' key): it comes from a plain run; "
                "use -c without --resume to start distillation from it"
            )
        unwrap(self.model).fgd_losses.load_state_dict(ckpt["fgd"])
        cross_head = unwrap(self.model).cross_head
        if cross_head is not None:
            if ckpt.get("cross_head") is None:
                raise ValueError("the checkpoint to resume has no cross-head projections ('cross_head' key): it was "
                                 "trained without crosskd_weight; use -c without --resume to start from it")
            cross_head.load_state_dict(ckpt["cross_head"])
        if "fgd_calibration" in ckpt:
            self.calibration.load_state_dict(ckpt["fgd_calibration"])
        saved = ckpt.get("teacher_sha256")
        if saved and self.teacher is not None and saved != self.teacher.ckpt_sha256:
            logger.warning(
                f"resuming with another teacher: the checkpoint was trained with {ckpt.get('teacher_ckpt')} "
                f"(sha256 {saved[:12]}...), now {self.exp.teacher_ckpt} (sha256 {self.teacher.ckpt_sha256[:12]}...)"
            )

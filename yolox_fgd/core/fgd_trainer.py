"""``FGDTrainer``: the device-agnostic YOLOX trainer with a frozen teacher and a Distiller.

Per step (docs/design.md, section 2): the batch is resized to the multiscale size; the
:class:`~yolox_fgd.distill.distiller.Distiller` computes what its terms need from the teacher on
that same tensor (``teacher_targets``: no graph, eval mode, the student's autocast); the Distiller
(wrapped by DDP) runs the student and adds its terms, scaled by the distillation schedule's factor
(:class:`~yolox_fgd.distill.schedule.DistillWeight`), to the detection loss; one backward and one
optimizer step train the student and the distillation modules together.

What trains (optimizer, DDP, the checkpoint's distillation keys) is the Distiller; EMA and the
checkpoint's ``model`` key hold the student only, so YOLOX's own tools load it. The trainer knows
nothing of the terms: it asks the Distiller for its parameter groups, checkpoint state, log
decimals and divergence hint.
"""
import torch
import torch.distributed as dist
from loguru import logger
from yolox.utils import get_model_info

from ..distill.diagnostics import FGDDiagnostics
from ..distill.features import PAFPN_LEVELS, reached_prefixes, tap_channels
from ..distill.schedule import DistillWeight
from ..distill.terms import GraphCapture
from ..utils.modules import unwrap
from .trainer import Trainer

__all__ = ["FGDTrainer"]


class FGDTrainer(Trainer):
    """Trainer for ``FGDExp`` experiments (see module docstring)."""

    def __init__(self, exp, args):
        super().__init__(exp, args)
        self.teacher = None
        self.weight_schedule = None
        self.diagnostics = None
        self.capture = None

    @property
    def distiller(self):
        """The trained :class:`~yolox_fgd.distill.distiller.Distiller` (unwrapped from DDP)."""
        return unwrap(self.model)

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

    def make_optimizer(self, model):
        return self.exp.get_optimizer(self.args.batch_size, model)

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
        self.distiller.attach()
        self.log_decimals = self.distiller.log_decimals
        exp = self.exp
        self.weight_schedule = DistillWeight(self.max_iter, self.max_epoch, exp.distill_warmup_iters, exp.distill_decay,
                                             exp.distill_decay_final, exp.distill_stop_epoch,
                                             no_aug_epoch=self.mosaic_off_epoch,
                                             no_aug_factor=exp.distill_no_aug_factor)
        if exp.distill_diagnostics_interval:
            if self.is_distributed:
                raise ValueError("distill_diagnostics_interval needs a single process (it takes gradients of each "
                                 "term outside DDP's backward); set it to 0 or run with -d 1")
            self.diagnostics = FGDDiagnostics(self.file_name if self.rank == 0 else None)
        channels = {lvl: loss.teacher_channels for lvl, loss in self.distiller.terms["fgd"].losses.items()}
        logger.info(f"distillation terms {list(self.distiller.terms)}: FGD on {list(exp.fgd_levels)} (teacher channels "
                    f"{channels}), feature_norm {exp.fgd_feature_norm}, channel_ref {exp.fgd_channel_ref}, projector "
                    f"{exp.fgd_projector}, calibration over {exp.fgd_calibrate_iters} iterations; head output "
                    f"distillation weight {exp.head_kd_weight} (boxes {exp.head_kd_box_weight} weighted by "
                    f"{exp.head_kd_box_weighting}, temperature {exp.head_kd_temperature}, teacher input "
                    f"{exp.head_kd_teacher_size or 'the batch as the student sees it'}); label assignment from the "
                    f"{'teacher' if exp.teacher_assignment else 'student'}'s predictions; cross-head distillation "
                    f"weight {exp.crosskd_weight}; schedule of all of it: warm-up {exp.distill_warmup_iters} "
                    f"iterations, decay {exp.distill_decay} (final {exp.distill_decay_final}), stop epoch "
                    f"{exp.distill_stop_epoch}, factor {exp.distill_no_aug_factor} from epoch {self.mosaic_off_epoch} "
                    "(mosaic-free)")

    def student_of(self, model):
        """The student inside the trained :class:`Distiller`."""
        return unwrap(model).student

    def evaluate_teacher(self):
        """Log the teacher's AP on the validation set (a wrongly loaded teacher shows at once)."""
        logger.info("evaluating the teacher before training ...")
        ap50_95, ap50, summary = self.exp.eval(self.teacher, self.evaluator, self.is_distributed)
        self.teacher.freeze()
        if self.rank == 0:
            logger.info(f"teacher AP50:95 {100 * ap50_95:.2f}, AP50 {100 * ap50:.2f}\n{summary}")
        self.teacher_ap = ap50_95

    def after_train(self):
        self.distiller.detach()
        super().after_train()

    # ------------------------------------------------------------------ step
    def diagnostics_due(self):
        interval = self.exp.distill_diagnostics_interval
        return self.diagnostics is not None and (self.progress_in_iter + 1) % interval == 0

    def forward_losses(self, inps, targets):
        teacher = self.distiller.teacher_targets(self.teacher, inps)
        self.last_distill_weight = self.weight_schedule(self.progress_in_iter)
        self.capture = GraphCapture() if self.diagnostics_due() else None
        return self.model(inps, targets, teacher, self.last_distill_weight, self.capture)

    def before_backward(self, outputs):
        """On diagnostic iterations, per-term gradient norms and map statistics (``diagnostics.jsonl``)."""
        if self.capture is None:
            return
        named = [(n, p) for n, p in self.student.named_parameters() if p.requires_grad]
        reached = [i for i, (n, _) in enumerate(named) if n.startswith(reached_prefixes(self.exp.fgd_tap))]
        self.diagnostics.record(
            self.capture.terms, self.capture.map_stats, [p for _, p in named], epoch=self.epoch + 1,
            iteration=self.progress_in_iter + 1, distill_weight=self.last_distill_weight, reached=reached)
        self.capture = None

    def divergence_hint(self):
        return self.distiller.divergence_hint() or super().divergence_hint()

    # ------------------------------------------------------------------ epochs / checkpoints
    def after_epoch(self):
        super().after_epoch()
        self.check_replicas_in_sync()

    def check_replicas_in_sync(self):
        """Under DDP, check that student and distillation parameters, the loss scale (fp16) and the
        distillation's own state (FGD's calibration) are identical on every rank."""
        if not self.is_distributed:
            return
        flat = torch.cat([p.detach().float().reshape(-1) for p in self.distiller.parameters()])
        state = [float(self.scaler.get_scale()) if self.amp_training else 0.0] + self.distiller.replica_state()
        flat = torch.cat([flat, torch.tensor(state, dtype=flat.dtype, device=flat.device)])
        lo, hi = flat.clone(), flat.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if not torch.equal(lo, hi):
            raise RuntimeError("student/FGD parameters, loss scale or calibration differ between ranks: the ranks "
                               "did not take the same steps")
        logger.info(f"replicas in sync: student and FGD parameters identical on {dist.get_world_size()} ranks "
                    "(and the loss scale and calibration)")

    def extra_checkpoint_state(self):
        return {
            **self.distiller.checkpoint_state(),
            "teacher_ckpt": self.exp.teacher_ckpt,
            "teacher_sha256": self.teacher.ckpt_sha256 if self.teacher is not None else None,
        }

    def load_extra_state(self, ckpt):
        self.distiller.load_checkpoint_state(ckpt)
        saved = ckpt.get("teacher_sha256")
        if saved and self.teacher is not None and saved != self.teacher.ckpt_sha256:
            logger.warning(
                f"resuming with another teacher: the checkpoint was trained with {ckpt.get('teacher_ckpt')} "
                f"(sha256 {saved[:12]}...), now {self.exp.teacher_ckpt} (sha256 {self.teacher.ckpt_sha256[:12]}...)"
            )

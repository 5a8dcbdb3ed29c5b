"""Device-agnostic YOLOX trainer (CPU and CUDA, fp16 on CUDA), with exact resume.

Subclass of ``yolox.core.Trainer`` (0.3.0). It keeps YOLOX's loop and call order::

    train -> before_train -> for epoch: before_epoch -> for iter: before_iter -> train_one_iter
          -> after_iter -> after_epoch -> after_train

and replaces the steps that assume CUDA (``torch.cuda.set_device``, the CUDA-stream
prefetcher, ``torch.cuda.amp``, ``gpu_mem_usage``, the norm all-reduce through CUDA tensors).
Extension points for subclasses: :meth:`build_model` (what DDP wraps), :meth:`make_optimizer`,
:meth:`forward_losses` (the loss dict of one step), :meth:`before_backward`,
:meth:`divergence_hint`, :meth:`extra_checkpoint_state` / :meth:`load_extra_state`, and
``log_decimals`` (the keys of the loss dict to log besides YOLOX's ``*loss*`` keys, with their
decimals).

Checkpoints keep YOLOX's format: ``model`` is the student weights (the EMA when EMA is on) that
YOLOX's own tools load; ``optimizer``, ``start_epoch``, ``best_ap`` as YOLOX; plus
``train_model`` (the live weights), ``ema_updates``, ``scaler``, ``input_size`` and ``rng``
so that ``--resume`` continues exactly. Files are written atomically.
"""
import datetime
import json
import os
import shutil
import sys
import time

import torch
import torch.distributed as dist
from loguru import logger
from torch.nn.parallel import DistributedDataParallel as DDP
from yolox.core import Trainer as YOLOXTrainer
from yolox.utils import adjust_status, get_model_info, load_ckpt, synchronize
from yolox.utils.allreduce_norm import get_async_norm_states

from ..data.prefetcher import make_prefetcher
from ..models.param_groups import LR_MULT
from ..utils.checkpoint import (CheckpointError, copy_atomic, load_checkpoint, load_initial_weights,
                                model_state_dict, remove_stale_temporaries, save_checkpoint_atomic)
from ..utils.faults import fault_point, poisoned_loss
from ..utils.device import memory_usage_mb, resolve_device
from ..utils.ema import RampedModelEMA
from ..utils.modules import unwrap
from .metric_loggers import open_metric_logger
from .rng import get_rng_state, set_rng_state

__all__ = ["Trainer", "all_reduce_norm"]


def all_reduce_norm(module):
    """Average BatchNorm statistics over ranks (YOLOX's version needs CUDA tensors)."""
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for tensor in get_async_norm_states(module).values():
        if tensor.dtype.is_floating_point:
            dist.all_reduce(tensor)
            tensor.div_(world)


class Trainer(YOLOXTrainer):
    """YOLOX's trainer on CPU or CUDA. ``args.device``: ``auto``, ``cpu`` or ``cuda``."""

    def __init__(self, exp, args):
        try:
            super().__init__(exp, args)
        except OSError as e:
            folder = os.path.join(exp.output_dir, args.experiment_name)
            raise OSError(f"output folder {folder} cannot be created: {e}; set output_dir") from e
        self.device = resolve_device(getattr(args, "device", "auto"), self.local_rank)
        if self.amp_training and self.device.type != "cuda":
            logger.info("--fp16 on the CPU: float16 autocast and loss scaling as on CUDA, much slower; meant for "
                        "testing the fp16 path, not for training")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_training)
        self.ema_decay = exp.ema_decay
        # gradient-norm clipping over all trained parameters (None: off; DAMO-YOLO and
        # PP-YOLOE's distillation clip at 30)
        self.grad_clip_norm = exp.grad_clip_norm
        # decimals of the loss-dict keys logged besides YOLOX's *loss* keys (which get 1)
        self.log_decimals = {}
        self.resume_state = None
        self.metric_logger = None
        self.memory_format = None
        self.nonfinite_steps = 0
        self.consecutive_nonfinite = 0

    # ------------------------------------------------------------------ helpers
    @property
    def student(self):
        """The YOLOX model being trained (what EMA, evaluation and the ``model`` checkpoint key see)."""
        return self.student_of(self.model)

    def student_of(self, model):
        """The YOLOX model inside the trained module ``model`` (here: ``model`` itself, unwrapped
        from DDP). Subclasses whose trained module holds more than the student override this."""
        return unwrap(model)

    # ------------------------------------------------------------------ step
    def forward_losses(self, inps, targets):
        """The loss dict of one step (``total_loss`` plus the terms to log)."""
        return self.model(inps, targets)

    def before_backward(self, outputs):
        """Hook for subclasses: look at the step's loss dict while its autograd graph still exists."""

    def divergence_hint(self):
        """What else to lower than the learning rate when training diverges ("": nothing)."""
        return ""

    def lower_what(self):
        hint = self.divergence_hint()
        return "lower the learning rate" + (f" or {hint}" if hint else "")

    def diverged_forward_error(self, err):
        """What to raise when the forward itself fails. YOLOX's SimOTA computes a binary cross
        entropy of the predicted scores: once the weights have run away (finite losses of 1e4 and
        more take steps that the non-finite check cannot refuse), the scores are NaN and torch
        fails there with "all elements of input should be between 0 and 1". That is a diverged
        run, said as such; any other error passes unchanged."""
        if "should be between 0 and 1" not in str(err):
            return err
        return FloatingPointError(
            f"the student's predictions became NaN at epoch {self.epoch + 1} iteration {self.progress_in_iter + 1}: "
            f"training diverged (YOLOX's label assignment failed with: {err}). The loss of the last progress "
            f"line shows which term ran away; {self.lower_what()}, and start again or --resume from a checkpoint "
            "written before it diverged")

    def train_one_iter(self):
        iter_start_time = time.time()
        inps, targets = self.prefetcher.next()
        inps = inps.to(self.device, self.data_type, non_blocking=True)
        targets = targets.to(self.device, self.data_type, non_blocking=True)
        targets.requires_grad = False
        inps, targets = self.exp.preprocess(inps, targets, self.input_size)
        if self.memory_format is not None:
            inps = inps.contiguous(memory_format=self.memory_format)
        data_end_time = time.time()

        # float16 on every device (a CPU's autocast defaults to bfloat16, which has fp16's speed
        # but not its range: --fp16 on a CPU tests what --fp16 on CUDA does)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp_training):
            try:
                outputs = self.forward_losses(inps, targets)
            except RuntimeError as err:
                raise self.diverged_forward_error(err) from err
        outputs["total_loss"] = poisoned_loss(outputs["total_loss"], self.progress_in_iter + 1)
        self.before_backward(outputs)
        loss = outputs["total_loss"]

        self.optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        if self.step_is_finite(outputs):
            if self.grad_clip_norm:
                self.scaler.unscale_(self.optimizer)  # clip the true gradient, not the scaled one
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.use_model_ema:
                self.ema_model.update(self.student)
        else:
            if self.amp_training:
                # as in a plain AMP loop, the scaler sees the step's gradients and updates on every
                # rank (a NaN loss's gradients back the scale off), so the ranks' scales stay equal
                self.scaler.unscale_(self.optimizer)
                self.scaler.update()
            self.optimizer.zero_grad()

        lr = self.lr_scheduler.update_lr(self.progress_in_iter + 1)
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = lr * param_group.get(LR_MULT, 1.0)

        self.meter.update(
            iter_time=time.time() - iter_start_time,
            data_time=data_end_time - iter_start_time,
            lr=lr,
            **outputs,
        )

    def step_is_finite(self, outputs):
        """Check the step's losses (and, without fp16, its gradients) for NaN/Inf.

        One boolean is read from the device per step, after backward; everything else stays
        on the device. Under fp16 the GradScaler skips overflowing steps itself: those are not
        faults, so gradients are only checked in full precision. Under torch.distributed the flag
        is all-reduced (MIN) first: every rank takes the same decision, and at the limit every rank
        stops with the same message, naming each rank's non-finite terms.
        On a non-finite step: ``exp.nonfinite_policy == "stop"`` raises at once; ``"skip"`` skips
        the optimizer and EMA update, counts the step, and raises after
        ``exp.nonfinite_max_consecutive`` consecutive ones (0: never).

        Raises:
            FloatingPointError: naming the iteration and the non-finite terms (detection term or
                distillation term and level).
        """
        names = [k for k, v in outputs.items() if torch.is_tensor(v) and v.is_floating_point()]
        values = [outputs[k].detach().float().reshape(()) for k in names]
        if not self.amp_training:
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            if grads:
                names.append("gradient norm")
                values.append(torch.nn.utils.get_total_norm(grads))
        values = torch.stack(values)
        finite = torch.isfinite(values)
        flag = finite.all()
        distributed = self.world_size_or_one() > 1
        if distributed:
            flag = flag.to(torch.int32)
            dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        if bool(flag):  # the one host sync of the check
            self.consecutive_nonfinite = 0
            return True
        bad = ", ".join(f"{n}={v:.4g}" for n, v, ok in zip(names, values.tolist(), finite.tolist()) if not ok)
        if distributed:
            every = [None] * dist.get_world_size()
            dist.all_gather_object(every, bad)
            bad = "; ".join(f"rank {r}: {b or 'all finite'}" for r, b in enumerate(every))
        self.nonfinite_steps += 1
        self.consecutive_nonfinite += 1
        where = (f"epoch {self.epoch + 1} iter {self.iter + 1} (iteration {self.progress_in_iter + 1})")
        policy = self.exp.nonfinite_policy
        limit = self.exp.nonfinite_max_consecutive
        if policy == "stop" or (limit and self.consecutive_nonfinite >= limit):
            what = self.lower_what()
            raise FloatingPointError(
                f"non-finite loss at {where}: {bad}; {self.consecutive_nonfinite} consecutive non-finite "
                f"step(s), {self.nonfinite_steps} in total (nonfinite_policy={policy!r}, "
                f"nonfinite_max_consecutive={limit}). {what[0].upper() + what[1:]}, or check the data"
            )
        logger.warning(f"skipping the step at {where}: non-finite {bad} "
                       f"({self.consecutive_nonfinite} consecutive, {self.nonfinite_steps} skipped so far)")
        return False

    # ------------------------------------------------------------------ setup
    def check_output_dir(self):
        """The output folder is writable and has room for a few checkpoints; stale temporaries
        of a killed writer are removed."""
        probe = os.path.join(self.file_name, ".write_test")
        try:
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as e:
            raise OSError(f"output folder {self.file_name} is not writable: {e}") from e
        params = sum(p.numel() * p.element_size() for p in self.model.parameters())
        need = 4 * params  # weights + EMA + momentum per checkpoint, and a temporary copy
        free = shutil.disk_usage(self.file_name).free
        if free < need:
            raise OSError(
                f"not enough disk space in {self.file_name}: {free / 2**20:.0f} MB free, a checkpoint "
                f"needs about {need / 2**20:.0f} MB; free space or set output_dir"
            )
        stale = remove_stale_temporaries(self.file_name)
        if stale:
            logger.warning(f"removed {len(stale)} partial checkpoint file(s) of an interrupted write: {stale}")

    def exp_values(self):
        """The experiment's plain values (numbers, strings, tuples of them), with the run's batch
        size, fp16 flag, experiment class and command."""
        def plain(v):
            if isinstance(v, (bool, int, float, str)) or v is None:
                return True
            if isinstance(v, (tuple, list)):
                return all(plain(x) for x in v)
            if isinstance(v, dict):
                return all(isinstance(k, str) and plain(x) for k, x in v.items())
            return False
        values = {k: v for k, v in sorted(vars(self.exp).items()) if not k.startswith("_") and plain(v)}
        values["exp_class"] = f"{type(self.exp).__module__}.{type(self.exp).__name__}"
        values["batch_size"] = self.args.batch_size
        values["fp16"] = bool(self.args.fp16)
        values["command"] = " ".join(["python", os.path.relpath(sys.argv[0])] + sys.argv[1:]) if sys.argv[0] else ""
        return values

    def write_exp_values(self):
        """:meth:`exp_values` in ``exp.json`` (what ``tools/compare_runs.py --diff`` reads)."""
        with open(os.path.join(self.file_name, "exp.json"), "w") as f:
            json.dump(self.exp_values(), f, indent=1)

    def make_optimizer(self, model):
        """The optimizer of the trained module ``model`` (YOLOX's ``exp.get_optimizer``)."""
        return self.exp.get_optimizer(self.args.batch_size)

    def build_model(self):
        """The module trained and wrapped by DDP (here: the YOLOX model)."""
        model = self.exp.get_model()
        logger.info(f"Model Summary: {get_model_info(model, self.exp.test_size)}")
        return model

    def before_train(self):
        self.train_start_time = time.time()
        logger.info(f"args: {self.args}")
        logger.info(f"exp value:\n{self.exp}")
        self.exp.check_config()
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.memory_format = torch.channels_last if self.exp.channels_last else None
        model = self.build_model().to(self.device)
        if self.memory_format is not None:
            model = model.to(memory_format=self.memory_format)
        self.model = model
        self.on_rank0_for_all(lambda: (self.check_output_dir(), self.write_exp_values()))
        self.optimizer = self.make_optimizer(model)
        model = self.resume_train(model)

        self.no_aug = self.start_epoch >= self.max_epoch - self.exp.no_aug_epochs
        self.train_loader = self.exp.get_data_loader(
            batch_size=self.args.batch_size, is_distributed=self.is_distributed,
            no_aug=self.no_aug, cache_img=self.args.cache, start_iter=0,
        )
        self.max_iter = len(self.train_loader)
        if self.start_epoch > 0:  # continue the sampler's stream where the checkpoint left it
            self.train_loader = self.exp.get_data_loader(
                batch_size=self.args.batch_size, is_distributed=self.is_distributed,
                no_aug=self.no_aug, cache_img=self.args.cache,
                start_iter=self.start_epoch * self.max_iter,
            )
        logger.info("init prefetcher, this might take one minute or less...")
        self.prefetcher = make_prefetcher(self.train_loader, self.device)
        self.lr_scheduler = self.exp.get_lr_scheduler(
            self.exp.basic_lr_per_img * self.args.batch_size, self.max_iter
        )

        if self.is_distributed:
            device_ids = [self.local_rank] if self.device.type == "cuda" else None
            model = DDP(model, device_ids=device_ids, broadcast_buffers=False)
        self.model = model

        if self.use_model_ema:
            self.ema_model = RampedModelEMA(self.student, self.ema_decay, ramp_iters=self.exp.ema_ramp_iters)
            self.ema_model.updates = self.max_iter * self.start_epoch
        self.restore_resume_state()

        self.evaluator = self.exp.get_evaluator(
            batch_size=self.args.batch_size, is_distributed=self.is_distributed
        )
        self.on_rank0_for_all(self.open_loggers)
        logger.info("Training start...")
        logger.info(f"\n{model}")

    def open_loggers(self):
        """Rank 0's metric logger (``-l``: tensorboard or wandb, :mod:`yolox_fgd.core.metric_loggers`)."""
        self.metric_logger = open_metric_logger(self.args.logger, self.file_name, self.exp_values(),
                                                getattr(self.args, "wandb_options", None))

    def on_rank0_for_all(self, check):
        """Run ``check`` (a set-up step that may refuse to train: output folder, disk space,
        loggers) on rank 0, and raise its error on every rank: under torch.distributed the other
        ranks would otherwise wait in the next collective until the peer watchdog fires."""
        error = None
        if self.rank == 0:
            try:
                check()
            except (OSError, ValueError, RuntimeError, ImportError) as e:
                error = e
        if self.world_size_or_one() > 1:
            sent = [None if error is None else (type(error).__name__, str(error))]
            dist.broadcast_object_list(sent, src=0)
            if error is None and sent[0] is not None:
                kind = {"OSError": OSError, "ValueError": ValueError, "ImportError": ImportError}.get(sent[0][0],
                                                                                                   RuntimeError)
                raise kind(f"rank 0 cannot train: {sent[0][1]}")
        if error is not None:
            raise error

    def after_train(self):
        # YOLOX's own after_train, with the metric logger in place of its wandb branch
        logger.info(f"Training of experiment is done and the best AP is {self.best_ap * 100:.2f}")
        if self.metric_logger is not None:
            self.metric_logger.close()

    # ------------------------------------------------------------------ epochs
    def train_in_epoch(self):
        """YOLOX's epoch loop; ``exp.train_until_epoch`` stops early (the schedule is unchanged,
        so ``--resume`` continues as if the run had not stopped)."""
        until = self.exp.train_until_epoch
        last = self.max_epoch if until is None else min(self.max_epoch, int(until))
        for self.epoch in range(self.start_epoch, last):
            self.before_epoch()
            self.train_in_iter()
            self.after_epoch()

    def before_epoch(self):
        logger.info(f"---> start train epoch{self.epoch + 1}")
        if self.epoch + 1 == self.mosaic_off_epoch or self.no_aug:
            logger.info("--->No mosaic aug now!")
            self.train_loader.close_mosaic()
            logger.info("--->Add additional L1 loss now!")
            self.student.head.use_l1 = True
            self.exp.eval_interval = 1
            if not self.no_aug:
                # saved before this epoch trains: resuming from it trains this epoch (YOLOX 0.3.0
                # labels it epoch + 1, so a resume from it skipped the first mosaic-free epoch)
                self.save_ckpt(ckpt_name="last_mosaic_epoch", start_epoch=self.epoch)

    @property
    def mosaic_off_epoch(self):
        """1-based epoch at whose start YOLOX closes mosaic (``max_epoch - no_aug_epochs``)."""
        return self.max_epoch - self.exp.no_aug_epochs

    def after_epoch(self):
        # under DDP each rank's BatchNorm statistics (and its EMA's) are its own: averaged every
        # epoch before the checkpoint (YOLOX averages them before evaluating), so that the
        # checkpoint holds what every rank holds and a resume continues every rank exactly
        all_reduce_norm(self.student)
        if self.use_model_ema:
            all_reduce_norm(self.ema_model.ema)
        self.save_ckpt(ckpt_name="latest")
        if (self.epoch + 1) % self.exp.eval_interval == 0:
            all_reduce_norm(self.student)
            self.evaluate_and_save_model()

    def evaluate_and_save_model(self):
        """Evaluate the student (its EMA when on), log AP, save ``last_epoch`` (and best)."""
        evalmodel = self.ema_model.ema if self.use_model_ema else self.student
        with adjust_status(evalmodel, training=False):
            ap50_95, ap50, summary = self.exp.eval(evalmodel, self.evaluator, self.is_distributed)
        update_best_ckpt = ap50_95 > self.best_ap
        self.best_ap = max(self.best_ap, ap50_95)
        stats = getattr(self.evaluator, "stats", None) or {}
        if self.rank == 0:
            if self.metric_logger is not None:
                metrics = {"AP50": ap50, "AP50_95": ap50_95, **{k: stats[k] for k in ("AP75", "APs", "APm", "APl")
                                                                if k in stats}}
                self.metric_logger.log_eval(metrics, self.epoch + 1)
            logger.info("\n" + summary)
            self.append_metrics(ap50_95, ap50, stats)
        synchronize()
        self.save_ckpt("last_epoch", update_best_ckpt)
        if self.save_history_ckpt:
            self.save_ckpt(f"epoch_{self.epoch + 1}")

    def after_iter(self):
        """Log in YOLOX's format (losses, lr, memory, ETA) and pick the next multiscale size."""
        if (self.iter + 1) % self.exp.print_interval == 0:
            left_iters = self.max_iter * self.max_epoch - (self.progress_in_iter + 1)
            eta_seconds = self.meter["iter_time"].global_avg * left_iters
            eta_str = f"ETA: {datetime.timedelta(seconds=int(eta_seconds))}"
            progress_str = f"epoch: {self.epoch + 1}/{self.max_epoch}, iter: {self.iter + 1}/{self.max_iter}"
            loss_meter = {k: v for k, v in self.meter.items() if "loss" in k or k in self.log_decimals}
            loss_str = ", ".join(f"{k}: {float(v.latest):.{self.log_decimals.get(k, 1)}f}" for k, v in loss_meter.items())
            time_meter = self.meter.get_filtered_meter("time")
            time_str = ", ".join(f"{k}: {v.avg:.3f}s" for k, v in time_meter.items())
            logger.info(
                f"{progress_str}, mem: {memory_usage_mb(self.device):.0f}Mb, {time_str}, {loss_str}, "
                f"lr: {self.meter['lr'].latest:.3e}, size: {self.input_size[0]:d}, {eta_str}"
            )
            if self.metric_logger is not None:
                metrics = {**{k: float(v.latest) for k, v in loss_meter.items()}, "lr": self.meter["lr"].latest}
                self.metric_logger.log_train(metrics, self.progress_in_iter + 1)
            self.meter.clear_meters()

        fault_point("iter")
        if (self.progress_in_iter + 1) % self.exp.multiscale_interval == 0:
            self.input_size = self.exp.random_resize(
                self.train_loader, self.epoch, self.rank, self.is_distributed
            )

    def append_metrics(self, ap50_95, ap50, stats):
        """One json line per evaluation in ``metrics.jsonl`` (epoch, COCO stats, seconds trained)."""
        record = {"epoch": self.epoch + 1, "AP": float(ap50_95), "AP50": float(ap50),
                  **{k: v for k, v in stats.items() if k not in ("AP", "AP50")},
                  "train_seconds": round(time.time() - self.train_start_time, 1)}
        with open(os.path.join(self.file_name, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ checkpoints
    def resume_train(self, model):
        ckpt_file = self.args.ckpt
        if self.args.resume:
            if ckpt_file is None:
                ckpt_file = os.path.join(self.file_name, "latest_ckpt.pth")
            logger.info(f"resume training from {ckpt_file}")
            # to the CPU: load_state_dict moves weights and optimizer state where the parameters are,
            # and the RNG states must stay CPU tensors
            ckpt = load_checkpoint(ckpt_file, map_location="cpu", what="checkpoint to resume")
            missing = [k for k in ("model", "optimizer", "start_epoch") if k not in ckpt]
            if missing:
                raise CheckpointError(
                    f"{ckpt_file} cannot be resumed: it lacks {missing} (a weights-only file such "
                    "as an official release); use -c without --resume to fine-tune from it"
                )
            self.student_of(model).load_state_dict(ckpt.get("train_model", ckpt["model"]))
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.best_ap = ckpt.get("best_ap", 0)
            self.start_epoch = (
                self.args.start_epoch - 1 if self.args.start_epoch is not None else ckpt["start_epoch"]
            )
            self.resume_state = ckpt
            self.load_extra_state(ckpt)
            logger.info(f"loaded checkpoint '{ckpt_file}' (epoch {self.start_epoch})")
        else:
            if ckpt_file is not None:
                logger.info(f"loading checkpoint {ckpt_file} for fine tuning")
                ckpt = load_checkpoint(ckpt_file, map_location="cpu")
                load_ckpt(self.student_of(model), model_state_dict(ckpt, ckpt_file))
            elif self.exp.init_ckpt is not None:
                logger.info(f"initial weights from {self.exp.init_ckpt} (init_ckpt)")
                load_initial_weights(self.student_of(model), self.exp.init_ckpt)
            self.start_epoch = 0
        return model

    def restore_resume_state(self):
        """After EMA and loader exist: EMA weights and count, scaler, input size, RNG."""
        ckpt = self.resume_state
        if ckpt is None:
            return
        if self.use_model_ema:
            self.ema_model.ema.load_state_dict(ckpt["model"])
            self.ema_model.updates = ckpt.get("ema_updates", self.ema_model.updates)
        if "scaler" in ckpt and self.amp_training:
            self.scaler.load_state_dict(ckpt["scaler"])
        if "input_size" in ckpt:
            self.input_size = tuple(int(v) for v in ckpt["input_size"])
        states = ckpt.get("rng_ranks") or ([ckpt["rng"]] if "rng" in ckpt and ckpt.get("world_size", 1) == 1 else [])
        if len(states) == self.world_size_or_one():  # per-process states: each rank takes its own
            set_rng_state(states[self.rank])
        self.resume_state = None

    def world_size_or_one(self):
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    def load_extra_state(self, ckpt):
        """Hook for subclasses: restore their own checkpoint keys."""

    def extra_checkpoint_state(self):
        """Hook for subclasses: extra checkpoint keys (dict)."""
        return {}

    def checkpoint_state(self, start_epoch=None, rng_states=None):
        """The checkpoint's dict; ``start_epoch`` (0-based, the epoch a resume trains first)
        defaults to the epoch after the current one (a checkpoint written after an epoch);
        ``rng_states``: every rank's generator states (:meth:`gather_rng_states`; default this
        process's alone)."""
        student = self.student
        rng_states = rng_states or [get_rng_state()]
        state = {
            "start_epoch": self.epoch + 1 if start_epoch is None else int(start_epoch),
            "model": (self.ema_model.ema if self.use_model_ema else student).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "best_ap": float(self.best_ap),
            "input_size": list(self.input_size),
            "rng": rng_states[0],
            "rng_ranks": rng_states,
            "world_size": self.world_size_or_one(),
        }
        if self.use_model_ema:
            state["train_model"] = student.state_dict()
            state["ema_updates"] = self.ema_model.updates
        if self.amp_training:
            state["scaler"] = self.scaler.state_dict()
        state.update(self.extra_checkpoint_state())
        return state

    def gather_rng_states(self):
        """Every rank's generator states, in rank order (a collective under torch.distributed:
        every rank calls it), so that a resumed multi-process run draws what it would have drawn."""
        state = get_rng_state()
        if self.world_size_or_one() == 1:
            return [state]
        states = [None] * dist.get_world_size()
        dist.all_gather_object(states, state)
        return states

    def save_ckpt(self, ckpt_name, update_best_ckpt=False, start_epoch=None):
        """Write ``<ckpt_name>_ckpt.pth`` on rank 0 (every rank calls it: the RNG states are gathered)."""
        rng_states = self.gather_rng_states()
        if self.rank != 0:
            return
        path = os.path.join(self.file_name, f"{ckpt_name}_ckpt.pth")
        logger.info(f"Save weights to {path}")
        save_checkpoint_atomic(self.checkpoint_state(start_epoch, rng_states), path)
        if update_best_ckpt:
            copy_atomic(path, os.path.join(self.file_name, "best_ckpt.pth"))
        if self.metric_logger is not None:
            self.metric_logger.checkpoint_saved(self.file_name, ckpt_name, update_best_ckpt)

"""Where the trainer's metrics go besides the console: tensorboard or Weights & Biases (YOLOX's
``-l/--logger``), behind one interface instead of YOLOX's if/elif in four trainer methods.

* ``tensorboard`` (default): ``<run>/tensorboard``, ``train/<loss>`` and ``train/lr`` every print
  interval, ``val/COCOAP50``, ``val/COCOAP50_95`` (and ``val/COCOAP75``, ``val/COCOAPs|m|l``) every
  evaluation;
* ``wandb``: YOLOX 0.3.0's :class:`yolox.utils.WandbLogger` with the ``wandb-<key> value`` options
  of the command line (``wandb-project``, ``wandb-name``, ``wandb-entity``, ...), the same keys, the
  experiment's values as the run's config, and the checkpoints as artifacts (as YOLOX logs them).
  ``WANDB_MODE=offline`` keeps the run in a local folder (``wandb sync`` sends it later).
"""
import os

__all__ = ["LOGGERS", "TensorboardMetrics", "WandbMetrics", "check_logger", "open_metric_logger", "split_wandb_options"]

LOGGERS = ("tensorboard", "wandb")
WANDB_PREFIX = "wandb-"


def check_logger(name):
    """Refuse an unknown logger, or wandb where it is not installed (before anything starts)."""
    if name not in LOGGERS:
        raise ValueError(f"-l/--logger {name!r} is not supported: choose one of {LOGGERS}")
    if name == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError as e:
            raise ImportError("-l wandb needs the wandb package: pip install wandb (tools/setup_env.sh installs it), "
                              "or log to tensorboard (the default)") from e


def split_wandb_options(opts):
    """``(experiment options, wandb options)`` from the command line's trailing ``key value``
    pairs: YOLOX passes the ``wandb-<key>`` pairs to wandb and the rest to the experiment."""
    opts = list(opts or [])
    exp_opts, wandb_opts = [], {}
    for key, value in zip(opts[0::2], opts[1::2]):
        if str(key).startswith(WANDB_PREFIX):
            wandb_opts[str(key)[len(WANDB_PREFIX):]] = value
        else:
            exp_opts += [key, value]
    if len(opts) % 2:
        exp_opts.append(opts[-1])  # the experiment's merge names the odd item
    return exp_opts, wandb_opts


class TensorboardMetrics:
    """tensorboard scalars under ``<run>/tensorboard``."""

    def __init__(self, run_dir):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(os.path.join(run_dir, "tensorboard"))

    def log_train(self, metrics, step):
        for key, value in metrics.items():
            self.writer.add_scalar(f"train/{key}", float(value), step)

    def log_eval(self, metrics, epoch):
        for key, value in metrics.items():
            self.writer.add_scalar(f"val/COCO{key}", float(value), epoch)

    def checkpoint_saved(self, run_dir, name, is_best):
        pass

    def close(self):
        self.writer.close()


class WandbMetrics:
    """Weights & Biases through YOLOX's ``WandbLogger``.

    Args:
        run_dir: the run's folder (wandb's ``dir``).
        config: the experiment's plain values.
        options: ``{key: value}`` of the ``wandb-<key>`` command-line options.
    """

    def __init__(self, run_dir, config, options):
        from yolox.utils import WandbLogger

        options = dict(options)
        options.setdefault("save_dir", run_dir)
        self.logger = WandbLogger(config=config, **options)

    def log_train(self, metrics, step):
        self.logger.log_metrics({f"train/{k}": float(v) for k, v in metrics.items()}, step=step)

    def log_eval(self, metrics, epoch):
        self.logger.log_metrics({**{f"val/COCO{k}": float(v) for k, v in metrics.items()}, "epoch": epoch})

    def checkpoint_saved(self, run_dir, name, is_best):
        self.logger.save_checkpoint(run_dir, name, is_best)

    def close(self):
        self.logger.finish()


def open_metric_logger(name, run_dir, config, wandb_options=None):
    """The metric logger ``name`` (:data:`LOGGERS`) of a run."""
    check_logger(name)
    if name == "wandb":
        return WandbMetrics(run_dir, config, wandb_options or {})
    return TensorboardMetrics(run_dir)

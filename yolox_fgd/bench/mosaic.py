"""``--from-mosaic ARM``: arms that start from ARM's checkpoint of the epoch mosaic closes on.

The trainer writes ``last_mosaic_epoch_ckpt.pth`` before the epoch in which it closes mosaic. An
arm that differs from ARM only in what acts from that epoch on (``distill_no_aug_factor``) trains
its first epochs exactly as ARM does, so it can start from that checkpoint of the same seed
(``tools/train.py --resume -c CKPT``) and train only the mosaic-free epochs: the same run, bit
for bit, in a third of the time on the demo benchmark. This module decides which arms start
from which epoch and checks the checkpoint before a run starts from it.
"""
import os

from ..cli.training_runs import REPO
from .arms import load_arm_exp

__all__ = ["MOSAIC_CKPT", "mosaic_starts", "check_mosaic_checkpoint", "mosaic_checkpoint"]

MOSAIC_CKPT = "last_mosaic_epoch_ckpt.pth"  # the trainer's checkpoint of the epoch that closes mosaic


def mosaic_checkpoint(out, source, seed):
    """The path of ``source``'s last-mosaic checkpoint of ``seed`` under the output folder ``out``."""
    return os.path.join(out, source, f"seed{seed}", MOSAIC_CKPT)


def mosaic_starts(arms, source):
    """``{arm name: epoch}``: the arms that start from ``source``'s last-mosaic checkpoints
    (``--from-mosaic``) and the 0-based epoch they train first, ``max_epoch - no_aug_epochs - 1``
    (the trainer writes that checkpoint before the epoch in which it closes mosaic, 1-based
    ``max_epoch - no_aug_epochs``). Every other arm of ``source``'s experiment file qualifies;
    they must share its ``max_epoch`` and ``no_aug_epochs``. ``arms``: :class:`~yolox_fgd.bench.arms.Arm`.

    Raises:
        ValueError: ``source`` is no arm, has no epoch that closes mosaic, no other arm shares
            its experiment file, or one that does has another schedule (named).
    """
    if source is None:
        return {}
    by_name = {arm.name: arm for arm in arms}
    if source not in by_name:
        raise ValueError(f"--from-mosaic {source}: no such arm; the arms are {', '.join(by_name)}")

    def epochs(arm):
        exp = load_arm_exp(arm.exp, arm.opts)
        return exp.max_epoch, exp.no_aug_epochs

    src = by_name[source]
    max_epoch, no_aug = epochs(src)
    if not 0 < no_aug < max_epoch:
        raise ValueError(f"--from-mosaic {source}: it has no epoch that closes mosaic (max_epoch {max_epoch}, "
                         f"no_aug_epochs {no_aug})")
    starts = {}
    for arm in arms:
        if arm.name == source or arm.exp != src.exp:
            continue
        if epochs(arm) != (max_epoch, no_aug):
            raise ValueError(f"--from-mosaic {source}: arm {arm.name!r} has another max_epoch or no_aug_epochs "
                             f"than {source!r} ({epochs(arm)} against {(max_epoch, no_aug)}); it cannot start "
                             "from its checkpoints: drop it or give it the same schedule")
        starts[arm.name] = max_epoch - no_aug - 1
    if not starts:
        raise ValueError(f"--from-mosaic {source}: no other arm uses its experiment file "
                         f"({os.path.relpath(src.exp, REPO)}), so none can start from its checkpoints")
    return starts


def check_mosaic_checkpoint(path, source, seed, epoch):
    """Check that ``path``, ``source``'s last-mosaic checkpoint of ``seed``, is there and is the one
    written before 0-based ``epoch`` trained. A checkpoint from before 2026-11-29 is labelled
    ``epoch + 1`` (YOLOX 0.3.0's label, fixed in the trainer since); the run that starts from it
    trains ``epoch`` first either way (:func:`~yolox_fgd.cli.training_runs.run_training` passes the
    trainer ``-e`` for such a checkpoint; the file itself is never changed).

    Raises:
        FileNotFoundError: ``source`` has not reached that epoch on this seed.
        ValueError: the checkpoint is of another epoch.
    """
    from ..utils.checkpoint import load_checkpoint

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: arm {source!r} has not reached "
                                f"epoch {epoch + 1} on seed {seed}")
    label = load_checkpoint(path, map_location="cpu", what="last-mosaic checkpoint")["start_epoch"]
    if label not in (epoch, epoch + 1):
        raise ValueError(f"{path} resumes at epoch {label + 1}, not {epoch + 1}: it is "
                         f"not the checkpoint of the epoch {source!r} closes mosaic on")

"""What the command-line tools share: error reporting and the checks made before any work."""
import os
import sys

from loguru import logger

from ..utils.checkpoint import CheckpointError

__all__ = ["USER_ERRORS", "run_cli", "check_checkpoint_path", "check_dataset", "apply_test_options",
           "load_student_and_teacher"]

# FloatingPointError: a run that diverged (non-finite losses, NaN predictions), said with where and why
USER_ERRORS = (CheckpointError, FileNotFoundError, ImportError, ValueError, OSError, RuntimeError, FloatingPointError)


def run_cli(main, argv=None):
    """Call ``main(argv)``; a user error prints ``error: <message>`` and exits 1.

    Set ``YOLOX_FGD_DEBUG=1`` to get the traceback instead. Any other exception propagates with
    its traceback, printed to the real stderr (YOLOX's logger setup replaces ``sys.stderr`` by a
    stream into the log that is gone once training has ended: Python would print "lost sys.stderr").
    """
    try:
        return main(argv)
    except USER_ERRORS as e:
        if os.environ.get("YOLOX_FGD_DEBUG"):
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            raise
        logger.remove()
        print(f"error: {e}", file=sys.__stderr__, flush=True)
        sys.exit(1)
    except BaseException:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        raise


def check_checkpoint_path(path, what="checkpoint", hint="check the path given with -c/--ckpt"):
    """Raise ``CheckpointError`` naming ``what``, the path and ``hint`` when ``path`` is not a file."""
    if path is not None and not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path} ({hint})")


def check_dataset(exp, splits=("train", "val")):
    """Annotation files of the experiment's dataset exist, are COCO json, match num_classes."""
    from ..data.coco import check_annotations

    data_dir = exp.resolve_data_dir() if hasattr(exp, "resolve_data_dir") else exp.data_dir
    for split in splits:
        check_annotations(data_dir, getattr(exp, f"{split}_ann"), exp.num_classes)


def apply_test_options(exp, args):
    """YOLOX's ``--conf``, ``--nms`` and ``--tsize`` overrides of the test settings."""
    if args.conf is not None:
        exp.test_conf = args.conf
    if args.nms is not None:
        exp.nmsthre = args.nms
    if args.tsize is not None:
        exp.test_size = (args.tsize, args.tsize)


def load_student_and_teacher(exp_file, opts, args, student_ckpt):
    """An FGD experiment with its ``key value`` options, its student with the weights of
    ``student_ckpt`` (``None``: the experiment's ``init_ckpt``, or random weights without one) and
    its teacher's YOLOX model: what the tools that look at both models' maps start from.

    Raises:
        ValueError: ``exp_file`` is not an FGD experiment (it has no teacher).
        CheckpointError: the teacher checkpoint (or ``student_ckpt``) is missing or does not fit.
    """
    from ..exp.build import load_exp
    from .eval import load_model_weights

    exp = load_exp(exp_file)
    exp.merge(opts)
    if not hasattr(exp, "fgd_levels"):
        raise ValueError(f"{exp_file} is not an FGD experiment (no teacher, no fgd_levels): give an FGD experiment")
    exp.check_before_launch(args)
    student_ckpt = student_ckpt or exp.init_ckpt
    student = exp.get_model() if student_ckpt is None else load_model_weights(exp.get_model(), student_ckpt)
    return exp, student, exp.get_teacher().model

"""What the command-line tools share: error reporting and the checks made before any work."""
import os
import sys

from loguru import logger

from ..utils.checkpoint import CheckpointError

__all__ = ["USER_ERRORS", "run_cli", "check_checkpoint_path", "check_dataset", "apply_test_options"]

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

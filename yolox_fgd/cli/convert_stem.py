"""``tools/convert_stem.py --ckpt IN --out OUT``: Focus stem -> conv6 stem, exactly.

Reads a YOLOX checkpoint (``{"model": ...}`` with any other keys, or a bare state dict) and
writes the same checkpoint with the stem converted in ``model`` (and ``train_model``, and the
optimizer's momentum for that weight); every other key is kept. Train or evaluate the result
with an experiment whose ``stem`` is ``"conv6"``.
"""
import argparse

from loguru import logger

from ..models.stem import FOCUS_KEY, convert_focus_state_dict, convert_optimizer_state
from ..utils.checkpoint import load_checkpoint, model_state_dict, save_checkpoint_atomic
from .common import run_cli

__all__ = ["main", "convert_checkpoint"]


def convert_checkpoint(ckpt):
    """The converted checkpoint (a new dict) and a list of what was converted."""
    done = []
    if isinstance(ckpt, dict) and "model" in ckpt:
        out = dict(ckpt)
        focus_shape = tuple(ckpt["model"][FOCUS_KEY].shape) if FOCUS_KEY in ckpt["model"] else None
        out["model"] = convert_focus_state_dict(ckpt["model"])
        done.append("model")
        if isinstance(ckpt.get("train_model"), dict):
            out["train_model"] = convert_focus_state_dict(ckpt["train_model"])
            done.append("train_model")
        if isinstance(ckpt.get("optimizer"), dict) and focus_shape:
            n = convert_optimizer_state(out["optimizer"], focus_shape)
            done.append(f"optimizer ({n} tensor(s))")
        return out, done
    return convert_focus_state_dict(model_state_dict(ckpt)), ["state dict"]


def main(argv=None):
    p = argparse.ArgumentParser("yolox-fgd convert_stem", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="YOLOX checkpoint with a Focus stem")
    p.add_argument("--out", required=True, help="where to write the conv6 checkpoint")
    args = p.parse_args(argv)
    ckpt = load_checkpoint(args.ckpt)
    out, done = convert_checkpoint(ckpt)
    save_checkpoint_atomic(out, args.out)
    logger.info(f"converted the Focus stem of {args.ckpt} ({', '.join(done)}) -> {args.out} (use stem conv6)")
    return args.out


def cli():
    run_cli(main)

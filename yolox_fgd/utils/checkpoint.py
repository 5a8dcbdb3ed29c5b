"""Checkpoint I/O in YOLOX's format, written atomically and read with clear errors.

YOLOX checkpoints are dicts ``{"model": state_dict, "optimizer", "start_epoch", "best_ap"}``;
official releases hold ``{"model": ...}``; some tools save a bare state dict. Writing goes to a
temporary file in the same folder, flushed to disk, then renamed over the target, so a crash
never leaves a truncated ``latest_ckpt.pth`` and a failed write never destroys the previous one.
"""
import hashlib
import os
import pickle
import shutil
import tempfile
import zipfile

import torch
from loguru import logger

from .faults import fault_point

__all__ = ["save_checkpoint_atomic", "load_checkpoint", "model_state_dict", "load_initial_weights",
           "CheckpointError", "file_sha256"]


def file_sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _umask_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _temp_beside(path):
    """A temporary file in ``path``'s folder with the permissions a plain ``open`` would give."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.fchmod(fd, _umask_mode())
    return fd, tmp


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, unreadable or of the wrong content."""


def save_checkpoint_atomic(state, path):
    """``torch.save`` to ``path`` through a temporary file and ``os.replace``."""
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        fault_point("save")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temporaries(folder):
    """Delete temporary files a killed writer left in ``folder`` (never a finished checkpoint)."""
    removed = []
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith(".") and name.endswith(".tmp") and "_ckpt.pth." in name:
                os.remove(os.path.join(folder, name))
                removed.append(name)
    return removed


def copy_atomic(src, dst):
    """Copy ``src`` to ``dst`` through a temporary file and ``os.replace``."""
    fd, tmp = _temp_beside(dst)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path, map_location="cpu", what="checkpoint"):
    """Read a checkpoint file, ``weights_only=True`` where the content allows it.

    Raises:
        CheckpointError: the file is missing, empty, truncated or not a torch checkpoint; the
            message names the file and says what to do.
    """
    if path is None:
        raise CheckpointError(f"no {what} given: pass a checkpoint path with -c/--ckpt")
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path} (check the path given with -c/--ckpt)")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{what} {path} is empty (0 bytes): the file was not written completely")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e) and "Unsupported class" not in str(e):
            raise CheckpointError(
                f"cannot read {what} {path}: not a torch checkpoint (unpickling failed). The file is "
                "corrupt or truncated; use another checkpoint (e.g. best_ckpt.pth or last_epoch_ckpt.pth)"
            ) from e
        logger.warning(
            f"{path} holds objects beyond tensors (older YOLOX releases pickle more than weights); "
            "loading it with weights_only=False: only do this for files you trust"
        )
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"cannot read {what} {path}: {e}. The file is corrupt or truncated; "
            "use another checkpoint (e.g. best_ckpt.pth or last_epoch_ckpt.pth)"
        ) from e
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - any failure here means an unreadable file
        raise CheckpointError(f"cannot read {what} {path}: {e}. The file is corrupt or truncated") from e


def model_state_dict(ckpt, path="checkpoint"):
    """The model state dict of a loaded checkpoint: ``ckpt["model"]`` or a bare state dict."""
    if isinstance(ckpt, dict) and "model" in ckpt and isinstance(ckpt["model"], dict):
        return ckpt["model"]
    if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    keys = list(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
    raise CheckpointError(
        f"{path} holds no model weights: expected a YOLOX checkpoint {{'model': state_dict, ...}} "
        f"or a bare state dict, found {keys}"
    )


def load_initial_weights(model, path):
    """Load a checkpoint's model weights into ``model`` strictly (every key, every shape), cast
    to the model's dtypes (a fp16 file fits a fp32 model). The ``init_ckpt`` of an experiment.

    Raises:
        CheckpointError: the file cannot be read, or its weights do not fit ``model`` (the
            message names the first keys that differ and what to do).
    """
    state = model_state_dict(load_checkpoint(path, what="initial weights (init_ckpt)"), path)
    own = model.state_dict()
    differ = sorted(k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape))
    unexpected = sorted(k for k in state if k not in own)
    if differ or unexpected:
        raise CheckpointError(
            f"init_ckpt {path} does not fit this experiment's model: {len(differ)} weight(s) missing "
            f"or shaped differently (first: {differ[:3]}), {len(unexpected)} unexpected (first: "
            f"{unexpected[:3]}). It must come from a model with the same widths, stem and classes; "
            "pass `init_ckpt None` to start from random weights"
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})

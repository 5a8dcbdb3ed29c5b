"""Which device a run uses, and its memory in use (CPU or CUDA)."""
import resource

import torch

__all__ = ["resolve_device", "memory_usage_mb"]


def resolve_device(name="auto", local_rank=0):
    """``torch.device`` for ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but CUDA is not available; use --device cpu")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def memory_usage_mb(device):
    """Peak CUDA memory allocated on ``device``, or the process's peak resident memory on CPU (MB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / (1024 * 1024)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

"""What a measurement ran on, in words: the line every benchmark and results file carries.

Runs of this project agree bit for bit on one machine and not across machines (CPU float
kernels round differently; docs/fgd_on_yolox.md, section 13), so a figure without its machine
cannot be compared with another: the CPU model and the torch build are part of the figure.
"""
import os
import platform

import torch

__all__ = ["cpu_model", "describe_device"]


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere);
    ``"unknown CPU"`` when neither says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_device(device="cpu", threads=None):
    """``"AMD EPYC, 2 CPU cores, x86_64 Linux, torch 2.14.1"`` or ``"NVIDIA H200, torch 2.14.1,
    CUDA 13.0"``.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
        threads: torch CPU threads of the measurement, added when given (``"..., 1 thread"``).
    """
    device = torch.device(device)
    if device.type == "cuda":
        text = f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    else:
        text = (f"{cpu_model()}, {os.cpu_count()} CPU cores, {platform.machine()} {platform.system()}, "
                f"torch {torch.__version__}")
    if threads is not None:
        text += f", {threads} thread{'s' if threads != 1 else ''}"
    return text

"""Timing for the benchmark scripts: median wall time of a step, and CUDA peak memory."""
import statistics
import time

import torch

__all__ = ["time_step"]


def time_step(step, device, reps=5, warmup=2):
    """Median milliseconds of ``step()`` over ``reps`` runs after ``warmup`` untimed ones, and the
    peak CUDA memory of the timed runs in MB (NaN on CPU). CUDA work is synchronised per run."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    mem = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else float("nan")
    return statistics.median(times) * 1000, mem

"""Batches on the training device: YOLOX's CUDA-stream prefetcher on CUDA, a plain reader on CPU.

YOLOX 0.3.0's ``DataPrefetcher`` creates a CUDA stream unconditionally.
"""
from yolox.data import DataPrefetcher

__all__ = ["CPUPrefetcher", "make_prefetcher"]


class CPUPrefetcher:
    """Same interface as ``yolox.data.DataPrefetcher`` (``next() -> (images, targets)``) on CPU.

    It reads a batch only when asked, so the random state at an epoch boundary is the one after
    the epoch's last batch: this is what makes resuming exact.
    """

    def __init__(self, loader):
        self.loader = iter(loader)

    def next(self):
        try:
            images, targets, _, _ = next(self.loader)
        except StopIteration:
            return None, None
        return images, targets


def make_prefetcher(loader, device):
    return DataPrefetcher(loader) if device.type == "cuda" else CPUPrefetcher(loader)

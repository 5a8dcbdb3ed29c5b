"""YOLOX's infinite sampler, able to start at a given position (for exact resume)."""
import itertools

from yolox.data import InfiniteSampler

__all__ = ["ResumableInfiniteSampler"]


class ResumableInfiniteSampler(InfiniteSampler):
    """``yolox.data.InfiniteSampler`` that skips the first ``skip`` indices of its stream.

    YOLOX rebuilds the sampler when it resumes and so starts the index stream from the beginning:
    a resumed run sees the first epoch's order again. With ``skip = start_epoch * iters_per_epoch
    * per_rank_batch`` the resumed run continues the stream where the checkpoint left it.
    """

    def __init__(self, size, shuffle=True, seed=0, rank=0, world_size=1, skip=0):
        super().__init__(size, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)
        self._skip = int(skip)

    def __iter__(self):
        start = self._rank + self._skip * self._world_size
        yield from itertools.islice(self._infinite_indices(), start, None, self._world_size)

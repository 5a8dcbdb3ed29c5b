"""Augmentations seeded by the position of a sample in the training stream.

YOLOX's augmentations (mosaic partners, affine, HSV, flips) draw from Python's ``random`` and
NumPy's global generators, in whichever loader worker happens to process the sample. Seeding the
workers once (``worker_seed``) makes a run repeatable, but a resumed run starts new workers, and
it cannot put them back where the interrupted run's workers were: it would replay the first
epoch's draws. Here every sample is augmented right after seeding both generators from
``(experiment seed, rank, position of the sample in the rank's stream)``, so the augmentation of
the k-th sample is the same whether the run was interrupted or not, whatever the number of
workers, and whatever else the trainer drew from torch's or Python's generators before.

The mosaic switch-off of YOLOX's last epochs (``close_mosaic``) is also made a function of the
position: a worker that prefetched the first batches of the no-mosaic epoch before the trainer
called ``close_mosaic`` would otherwise have built them with mosaic in an uninterrupted run and
without it in a resumed one.
"""
import random

import numpy as np
import torch
from yolox.data import YoloBatchSampler

__all__ = ["PositionSeededBatchSampler", "PositionSeededDataset", "sample_seed"]


def sample_seed(seed, rank, position):
    """A 32-bit seed for the sample at ``position`` of ``rank``'s stream of a run seeded ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(position)]).generate_state(1)[0])


class PositionSeededBatchSampler(YoloBatchSampler):
    """YOLOX's batch sampler whose items carry their position: ``(mosaic, index, position)``.

    Args:
        start: position of the first sample (samples already trained, for ``--resume``).
        mosaic_until: position from which mosaic is off (``None``: only ``close_mosaic``).
    """

    def __init__(self, *args, start=0, mosaic_until=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.position = int(start)
        self.mosaic_until = mosaic_until

    def __iter__(self):
        for batch in super(YoloBatchSampler, self).__iter__():
            items = []
            for idx in batch:
                mosaic = self.mosaic and (self.mosaic_until is None or self.position < self.mosaic_until)
                items.append((mosaic, idx, self.position))
                self.position += 1
            yield items


class PositionSeededDataset(torch.utils.data.Dataset):
    """Wraps YOLOX's ``MosaicDetection``: seeds ``random`` and NumPy from the item's position
    before augmenting it. In the main process (no workers) the generators' states are restored
    afterwards, so loading data does not change what the trainer itself draws (multiscale sizes).
    """

    def __init__(self, dataset, seed, rank=0):
        self.dataset = dataset
        self.seed = int(seed)
        self.rank = int(rank)

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):  # input_dim, close_mosaic, ... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, item):
        mosaic, index, position = item
        in_main = torch.utils.data.get_worker_info() is None
        if in_main:
            saved = random.getstate(), np.random.get_state()
        s = sample_seed(self.seed, self.rank, position)
        random.seed(s)
        np.random.seed(s)
        try:
            return self.dataset[(mosaic, index)]
        finally:
            if in_main:
                random.setstate(saved[0])
                np.random.set_state(saved[1])

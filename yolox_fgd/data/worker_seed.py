"""Seeding of data-loader workers, so that a seeded run draws the same augmentations every time.

YOLOX's augmentations (mosaic, mixup, HSV, flips, affine) draw from Python's ``random`` and from
NumPy. YOLOX 0.3.0 seeds them in each worker with ``uuid4`` (``worker_init_reset_seed``), so two
runs with the same ``seed`` see different augmentations whenever ``data_num_workers > 0``: the
demo's "same seed" comparison of a baseline and an FGD student would not be one.
"""
import functools
import random

import numpy as np
import torch

__all__ = ["seed_worker", "worker_init_fn"]


def seed_worker(worker_id, rank=0):
    """``worker_init_fn``: seed ``random`` and NumPy from the worker's torch seed and the rank.

    torch gives worker ``w`` of a loader the seed ``base + w``, with ``base`` drawn from the
    main process's torch generator when the loader's iterator starts: seeded runs repeat, unseeded
    ones differ. The rank is mixed in so that the processes of a distributed run draw different
    augmentations.
    """
    seed = (torch.initial_seed() + 1_000_003 * int(rank)) % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def worker_init_fn(rank):
    """:func:`seed_worker` bound to ``rank`` (picklable, for spawned workers)."""
    return functools.partial(seed_worker, rank=rank)

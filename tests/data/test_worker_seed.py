"""Data-loader workers are seeded from torch's generator: seeded runs draw the same augmentations."""
import random

import numpy as np
import torch

from tests.conftest import TINY_EXP
from yolox_fgd.data.worker_seed import seed_worker
from yolox_fgd.exp.build import load_exp


def first_batch(seed, global_draws=0):
    """The first mosaic batch of a 2-worker loader of an experiment with ``seed``, after
    ``global_draws`` numbers were drawn from torch's global generator (what building a teacher
    and FGD modules does before the loader starts)."""
    exp = load_exp(TINY_EXP)
    exp.data_num_workers = 2
    exp.seed = seed
    torch.manual_seed(99)
    torch.randn(global_draws)
    images, targets, _, _ = next(iter(exp.get_data_loader(batch_size=4, is_distributed=False)))
    return images, targets


def test_seeded_loader_with_workers_repeats_its_augmentations(tiny_data):
    """Two loaders with two worker processes and the same experiment seed give the same mosaic
    batch (YOLOX's uuid4 worker seeding gave a different one every time); another seed differs."""
    a, b, c = first_batch(0), first_batch(0), first_batch(1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_augmentations_do_not_depend_on_torch_global_generator(tiny_data):
    """The workers' seeds come from the loader's own generator, seeded from the experiment's seed:
    drawing from torch's global generator first (a teacher and FGD modules being built) leaves
    the batch unchanged, so a plain and an FGD run on the same seed see the same data."""
    a, b = first_batch(0, global_draws=0), first_batch(0, global_draws=12345)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_ranks_draw_different_augmentations():
    """The same worker seed on two ranks seeds Python's and NumPy's generators differently."""
    draws = []
    for rank in (0, 1):
        torch.manual_seed(7)
        seed_worker(0, rank=rank)
        draws.append((random.random(), float(np.random.rand())))
    assert draws[0] != draws[1]

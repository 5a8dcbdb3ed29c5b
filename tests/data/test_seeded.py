"""Augmentations seeded by stream position: resumed loaders, worker counts and close_mosaic."""
import random

import numpy as np
import torch

from tests.conftest import TINY_EXP
from yolox_fgd.data.seeded import sample_seed
from yolox_fgd.exp.build import load_exp


def batches(count, start_iter=0, workers=2, **attrs):
    exp = load_exp(TINY_EXP)
    exp.data_num_workers = workers
    for k, v in attrs.items():
        setattr(exp, k, v)
    it = iter(exp.get_data_loader(batch_size=2, is_distributed=False, start_iter=start_iter))
    return [next(it)[:2] for _ in range(count)], exp


def same(a, b):
    return torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_a_loader_started_mid_stream_gives_the_batches_of_an_uninterrupted_one(tiny_data):
    """A loader started at iteration 3 (what --resume builds) yields the 4th and 5th batches of
    a loader started at 0, augmentations included, though its workers are new."""
    full, _ = batches(5)
    resumed, _ = batches(2, start_iter=3)
    assert same(full[3], resumed[0]) and same(full[4], resumed[1])
    assert not same(full[3], full[4])


def test_batches_do_not_depend_on_the_number_of_workers_or_the_callers_generators(tiny_data):
    """0 or 2 workers give the same batches; with 0 workers, loading leaves the main process's
    Python and NumPy generators where they were (the trainer's multiscale draws are its own)."""
    random.seed(5)
    np.random.seed(5)
    before = random.random(), float(np.random.rand())
    random.seed(5)
    np.random.seed(5)
    in_main, _ = batches(3, workers=0)
    after = random.random(), float(np.random.rand())
    with_workers, _ = batches(3, workers=2)
    assert all(same(a, b) for a, b in zip(in_main, with_workers))
    assert before == after


def test_mosaic_closes_at_a_position_not_when_the_trainer_says_so(tiny_data):
    """With max_epoch 3 and no_aug_epochs 1, samples from epoch 2 (0-based 1) on are built without
    mosaic even if workers fetched them before close_mosaic was called; the sampler's flag
    still switches mosaic off at once (YOLOX's close_mosaic)."""
    exp = load_exp(TINY_EXP)
    exp.max_epoch, exp.no_aug_epochs = 3, 1
    loader = exp.get_data_loader(batch_size=2, is_distributed=False)
    sampler = loader.batch_sampler
    per_epoch = len(sampler)
    items = [item for _, batch in zip(range(2 * per_epoch), sampler) for item in batch]
    assert all(m for m, _, _ in items[: per_epoch * 2])
    assert not any(m for m, _, _ in items[per_epoch * 2:])
    loader.close_mosaic()
    assert not any(m for batch in [next(iter(sampler))] for m, _, _ in batch)


def test_sample_seeds_differ_by_seed_rank_and_position():
    seeds = {sample_seed(s, r, p) for s in (0, 1) for r in (0, 1) for p in (0, 1, 2)}
    assert len(seeds) == 12 and all(0 <= s < 2 ** 32 for s in seeds)

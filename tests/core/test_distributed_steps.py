"""Two gloo processes decide together: a non-finite step on one rank is skipped by both (their
replicas and fp16 loss scales stay equal), the limit of non-finite steps stops both with the same
message at once, FGD's calibration is fixed from both ranks' sums, and "global" batch statistics
make two processes with batch 2 compute what one process with batch 4 computes."""
import os
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.conftest import TINY_FGD_EXP, run_tool
from yolox_fgd.core.launch import find_free_port
from yolox_fgd.losses import FGDLoss
from yolox_fgd.losses.head_kd import HeadKDLoss

TWO_FP16 = ("-b", "4", "-d", "2", "--device", "cpu", "--fp16")


def test_nan_on_one_rank_is_skipped_by_both(tmp_path, tiny_data, tiny_teacher_ckpt, monkeypatch):
    """A NaN loss on rank 1 alone at iteration 2 (of 4): both ranks skip that step (rank 0
    reports both ranks' terms), training goes on, and after every epoch the trainer finds the two
    replicas identical, with equal fp16 loss scales and equal calibration scales (fixed over the
    first 3 iterations from both ranks' sums)."""
    monkeypatch.setenv("YOLOX_FGD_NAN_AT", "2@1")
    res = run_tool("train", "-f", TINY_FGD_EXP, *TWO_FP16, "-expn", "nan", "output_dir", tmp_path,
                   "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "2", "fgd_calibrate_iters", "3")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "skipping the step at epoch 1 iter 2 (iteration 2): non-finite rank 0: all finite; rank 1: total_loss=nan" in out
    assert out.count("replicas in sync") == 2 and "(and the loss scale and calibration)" in out
    assert "FGD loss calibration over 6 batches" in out  # 3 iterations x 2 ranks


def test_the_limit_stops_both_ranks_with_the_same_message(tmp_path, tiny_data, tiny_teacher_ckpt, monkeypatch):
    """NaN losses on rank 1 only, at iterations 1 and 2, with nonfinite_max_consecutive 2: both
    ranks stop at iteration 2 with the non-finite message naming rank 1's term, within seconds
    (no rank waits for the peer watchdog, here given 100 s)."""
    monkeypatch.setenv("YOLOX_FGD_NAN_AT", "1,2@1")
    start = time.time()
    res = run_tool("train", "-f", TINY_FGD_EXP, *TWO_FP16, "--peer-timeout", "100", "-expn", "stop",
                   "output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "2",
                   "nonfinite_max_consecutive", "2")
    elapsed = time.time() - start
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "non-finite loss at epoch 1 iter 2 (iteration 2): rank 0: all finite; rank 1: total_loss=nan" in out
    assert "lost" not in out.lower() and "watchdog" not in out.lower()
    assert elapsed < 100


def _stats_worker(rank, port, images, results):
    os.environ["OMP_NUM_THREADS"] = "1"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        results[rank] = _losses(*(x[2 * rank:2 * rank + 2] for x in images))
    finally:
        dist.destroy_process_group()


def _losses(student, teacher, targets, obj_s, obj_t):
    """FGD (feature normalisation, global statistics) and head output distillation of a batch,
    and the gradient of their sum with respect to the student's map."""
    torch.manual_seed(0)
    fgd = FGDLoss(8, 16, feature_norm=True, ref_size=None, batch_stats="global")
    kd = HeadKDLoss(batch_stats="global")
    student = student.clone().requires_grad_(True)
    f = fgd(student, teacher, targets, (64, 64))["loss"]
    k = kd({"p3": (obj_s, obj_s.repeat(1, 3, 1, 1))}, {"p3": (obj_t, obj_t.repeat(1, 3, 1, 1))})["loss"]
    (f + k).backward()
    return f.item(), k.item(), student.grad


def test_global_batch_statistics_equal_one_process_with_the_whole_batch():
    """distill_batch_stats "global": two processes with 2 images each give the FGD loss (feature
    normalisation) and the head output distillation loss of one process with the 4 images (the
    mean of the two processes' losses, as DDP averages them), and the same gradient on the
    student's map (each process's gradient over 2 equals the one-process gradient of its images:
    the statistics' gradient flows across processes, as SyncBatchNorm's); "process" statistics
    (the default) would not."""
    torch.manual_seed(1)
    student, teacher = torch.randn(4, 8, 8, 8), torch.randn(4, 16, 8, 8) * 3 + 1
    targets = torch.tensor([[[1, 20, 24, 16, 20]], [[2, 40, 40, 12, 10]], [[0, 32, 32, 30, 28]], [[1, 10, 50, 8, 8]]],
                           dtype=torch.float32)
    obj_s, obj_t = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    images = (student, teacher, targets, obj_s, obj_t)
    whole_fgd, whole_kd, whole_grad = _losses(*images)
    results = mp.Manager().dict()
    mp.spawn(_stats_worker, args=(find_free_port(), images, results), nprocs=2, join=True)
    assert (results[0][0] + results[1][0]) / 2 == pytest.approx(whole_fgd, rel=1e-5)
    assert (results[0][1] + results[1][1]) / 2 == pytest.approx(whole_kd, rel=1e-5)
    split_grad = torch.cat([results[0][2], results[1][2]]) / 2
    assert torch.allclose(split_grad, whole_grad, rtol=1e-4, atol=1e-7)
    local = FGDLoss(8, 16, feature_norm=True, ref_size=None)
    halves = [local(student[i:i + 2], teacher[i:i + 2], targets[i:i + 2], (64, 64))["loss"].item() for i in (0, 2)]
    assert sum(halves) / 2 != pytest.approx(whole_fgd, rel=1e-3)


def _setup_check_worker(rank, port, messages):
    import types

    from yolox_fgd.core.trainer import Trainer

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        def check():  # what check_output_dir raises on a full disk, on rank 0 only
            raise OSError("not enough disk space in /run: 0 MB free")
        Trainer.on_rank0_for_all(types.SimpleNamespace(rank=rank, world_size_or_one=lambda: 2), check)
    except OSError as e:
        messages[rank] = str(e)
    finally:
        dist.destroy_process_group()


def test_a_check_that_fails_on_rank_0_stops_every_rank():
    """A set-up check made on rank 0 only (output folder, disk space, logger) that fails raises on
    both ranks, the other rank's message naming rank 0's problem, instead of leaving it waiting in
    DDP's first collective until the peer watchdog fires."""
    messages = mp.Manager().dict()
    mp.spawn(_setup_check_worker, args=(find_free_port(), messages), nprocs=2, join=True)
    assert messages[0] == "not enough disk space in /run: 0 MB free"
    assert messages[1] == "rank 0 cannot train: not enough disk space in /run: 0 MB free"

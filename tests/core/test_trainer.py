"""The device-agnostic trainer on CPU: it learns, resumes exactly, and keeps YOLOX's checkpoint format."""
import os
import sys

import pytest
import torch
from loguru import logger

from tests.conftest import TINY_EXP, run_tool
from yolox_fgd.cli.train import make_parser
from yolox_fgd.exp.build import load_exp


@pytest.fixture
def restore_std():
    """YOLOX's setup_logger redirects sys.stdout/stderr to loguru: undo it after the test."""
    out, err = sys.stdout, sys.stderr
    yield
    sys.stdout, sys.stderr = out, err
    logger.remove()


def make_trainer(tmp_path, *opts, batch=8):
    exp = load_exp(TINY_EXP)
    exp.merge(["output_dir", str(tmp_path), *opts])
    args = make_parser().parse_args(["-b", str(batch), "--device", "cpu", "-expn", "run"])
    args.device = "cpu"
    return exp.get_trainer(args)


def test_a_few_iterations_lower_the_loss(tmp_path, tiny_data, restore_std):
    """20 iterations on the same batch of 8 (no augmentation) lower YOLOX's total loss."""
    trainer = make_trainer(tmp_path, "no_aug_epochs", "2", "flip_prob", "0.0", "hsv_prob", "0.0",
                           "basic_lr_per_img", "0.005")
    torch.manual_seed(0)
    trainer.before_train()
    trainer.epoch = 0
    losses = []
    for trainer.iter in range(20):
        trainer.prefetcher = trainer.prefetcher if trainer.iter % trainer.max_iter else \
            type(trainer.prefetcher)(trainer.train_loader)
        trainer.train_one_iter()
        losses.append(float(trainer.meter["total_loss"].latest))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) / 3 < 0.93 * sum(losses[:3]) / 3, losses


def _weights(path):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt


def test_resume_continues_at_saved_epoch_with_saved_state(tmp_path, tiny_data):
    """Stopping after epoch 2 of 3 and resuming gives the same weights, EMA and optimizer state
    as an uninterrupted 3-epoch run (deterministic CPU settings); the checkpoint keeps YOLOX's keys."""
    common = ["-f", TINY_EXP, "-b", "4", "--device", "cpu"]
    full = run_tool("train", *common, "-expn", "full", "output_dir", tmp_path, "max_epoch", "3")
    assert full.returncode == 0, full.stderr[-3000:]
    part = run_tool("train", *common, "-expn", "part", "output_dir", tmp_path, "max_epoch", "3",
                    "train_until_epoch", "2")
    assert part.returncode == 0, part.stderr[-3000:]
    stopped = _weights(tmp_path / "part" / "latest_ckpt.pth")
    assert stopped["start_epoch"] == 2
    resumed = run_tool("train", *common, "-expn", "part", "--resume", "output_dir", tmp_path, "max_epoch", "3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(epoch 2)" in resumed.stdout + resumed.stderr

    a = _weights(tmp_path / "full" / "latest_ckpt.pth")
    b = _weights(tmp_path / "part" / "latest_ckpt.pth")
    assert {"model", "optimizer", "start_epoch", "best_ap"} <= set(a)
    assert a["start_epoch"] == b["start_epoch"] == 3
    for key in ("model", "train_model"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    for i, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])

"""Checkpoints are written atomically and read with clear errors."""
import os
import stat

import pytest
import torch

from yolox_fgd.utils.checkpoint import (CheckpointError, load_checkpoint, load_initial_weights, model_state_dict,
                                        save_checkpoint_atomic)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "latest_ckpt.pth"
    save_checkpoint_atomic({"model": {"w": torch.ones(2)}}, path)
    save_checkpoint_atomic({"model": {"w": torch.zeros(2)}}, path)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.zeros(2))
    assert os.listdir(tmp_path) == ["latest_ckpt.pth"]
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o044  # readable by others, as a plain open() gives


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    """An exception while serialising leaves the old file intact and no temporary file."""
    path = tmp_path / "latest_ckpt.pth"
    save_checkpoint_atomic({"model": {"w": torch.ones(2)}}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint_atomic({"model": {"w": torch.zeros(2)}, "x": Unpicklable()}, path)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["latest_ckpt.pth"]


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "c.pth"
    save_checkpoint_atomic({"model": {"w": torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {path}.*corrupt or truncated"):
        load_checkpoint(path)


def test_model_state_dict_forms():
    sd = {"a.weight": torch.ones(1)}
    assert model_state_dict({"model": sd, "optimizer": {}}) is sd
    assert model_state_dict(sd) is sd
    with pytest.raises(CheckpointError, match="holds no model weights"):
        model_state_dict({"optimizer": {}, "epoch": 3}, "x.pth")


def test_initial_weights_load_strictly_and_cast(tmp_path):
    """``load_initial_weights`` loads a fp16 file into a fp32 model (every weight, cast), and
    refuses a file from another architecture, naming the differing keys and the way out."""
    from torch import nn

    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    path = tmp_path / "init.pth"
    torch.save({"model": {k: v.half() for k, v in src.state_dict().items()}}, path)
    dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    load_initial_weights(dst, str(path))
    assert dst[0].weight.dtype == torch.float32
    assert torch.equal(dst[0].weight, src[0].weight.half().float())
    wider = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    with pytest.raises(CheckpointError, match=r"does not fit .*0\.weight.*init_ckpt None"):
        load_initial_weights(wider, str(path))

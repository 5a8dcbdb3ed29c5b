"""Checkpoints are written atomically and read with clear errors."""
import os
import stat

import pytest
import torch

from yolox_fgd.utils.checkpoint import CheckpointError, load_checkpoint, model_state_dict, save_checkpoint_atomic


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

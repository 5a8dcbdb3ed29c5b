"""YOLOX's -l/--logger: tensorboard (default) or Weights & Biases, with the distillation terms
logged like YOLOX's losses; a missing wandb or an unknown logger is refused before training."""
import glob
import struct
import sys

import pytest

from tests.conftest import TINY_FGD_EXP, run_tool
from yolox_fgd.core.metric_loggers import check_logger, split_wandb_options


def read_wandb_run(run_dir):
    """``(history keys, config keys)`` of the offline wandb run under ``run_dir``: its
    ``run-*.wandb`` file is a LevelDB-style log (after a 7-byte header, 32 KiB blocks of records,
    each with a 7-byte header: checksum, length, kind 1 full / 2 first / 3 middle / 4 last) of
    wandb's protobuf ``Record`` messages."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = glob.glob(f"{run_dir}/wandb/offline-run-*/run-*.wandb")
    with open(path, "rb") as f:
        data = f.read()
    block, pos, records, partial = 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        partial = chunk if kind in (1, 2) else partial + chunk
        if kind in (1, 4):
            records.append(partial)
    history, config = set(), set()
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == "config":
            config |= {item.key or "/".join(item.nested_key) for item in record.config.update}
    return history, config


def test_wandb_logs_losses_distillation_terms_and_ap(tmp_path, tiny_data, tiny_teacher_ckpt, monkeypatch):
    """-l wandb with wandb-project (WANDB_MODE=offline: a local run folder, no network): the run
    holds YOLOX's losses, every distillation term and the learning rate every print interval, the
    COCO APs at every evaluation, and the experiment's values as its config."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    res = run_tool("train", "-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-l", "wandb", "-expn", "w",
                   "output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "1",
                   "head_kd_weight", "1", "wandb-project", "yolox-fgd-test")
    assert res.returncode == 0, res.stderr[-3000:]
    history, config = read_wandb_run(tmp_path / "w")
    for key in ("train/total_loss", "train/iou_loss", "train/lr", "train/fgd_loss", "train/fgd_fg_p3",
                "train/fgd_rela_p5", "train/head_kd_loss", "train/head_kd_cls", "val/COCOAP50_95", "val/COCOAP50"):
        assert key in history, key
    assert {"fgd_alpha", "head_kd_weight", "batch_size", "command"} <= config
    assert not (tmp_path / "w" / "tensorboard").exists()


def test_unknown_or_missing_logger_is_refused(monkeypatch):
    """An unknown -l value is refused naming the choices; -l wandb without the wandb package says
    what to install; wandb-<key> options go to wandb, the others to the experiment."""
    with pytest.raises(ValueError, match=r"-l/--logger 'mlflow' is not supported: choose one of \('tensorboard', 'wandb'\)"):
        check_logger("mlflow")
    monkeypatch.setitem(sys.modules, "wandb", None)  # what a missing package looks like to import
    with pytest.raises(ImportError, match="-l wandb needs the wandb package: pip install wandb"):
        check_logger("wandb")
    assert split_wandb_options(["max_epoch", "3", "wandb-project", "p", "wandb-name", "run1"]) == \
        (["max_epoch", "3"], {"project": "p", "name": "run1"})

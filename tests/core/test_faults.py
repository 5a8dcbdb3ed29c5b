"""Training survives faults: SIGKILL at any point resumes exactly, non-finite losses are named,
unwritable output, a changed teacher and bad data are reported."""
import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch
from loguru import logger

from tests.conftest import (TINY_EXP, TINY_FGD_EXP, assert_same_tensors, load_ckpt_file, make_trainer, run_iters,
                            run_tool)
from yolox_fgd.data.coco import CheckedCOCODataset


def test_sigkill_at_several_points_then_resume_equals_uninterrupted(tmp_path, tiny_data, tiny_teacher_ckpt, monkeypatch):
    """A 3-epoch FGD run (2 iterations per epoch) is killed with SIGKILL after iteration 1 (no
    checkpoint yet: restart), after iteration 3, during a checkpoint write, and after iteration 2
    of a resumed run; every resume starts from the last complete checkpoint and the final
    weights equal an uninterrupted run's."""
    common = ["-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu"]
    tail = ["output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "3"]
    full = run_tool("train", *common, "-expn", "full", *tail)
    assert full.returncode == 0, full.stderr[-3000:]

    latest = tmp_path / "run" / "latest_ckpt.pth"
    kill_points = ["iter:1", "iter:3", "save:2", "iter:2"]
    recovered = 0
    for point in kill_points:
        monkeypatch.setenv("YOLOX_FGD_KILL_AT", point)
        resume = ["--resume"] if latest.exists() else []
        res = run_tool("train", *common, "-expn", "run", *resume, *tail)
        assert res.returncode == -signal.SIGKILL, f"{point}: {res.stderr[-2000:]}"
        if latest.exists():
            load_ckpt_file(latest)  # the last complete checkpoint is intact after every kill
        recovered += 1
    monkeypatch.delenv("YOLOX_FGD_KILL_AT")
    res = run_tool("train", *common, "-expn", "run", "--resume", *tail)
    assert res.returncode == 0, res.stderr[-3000:]
    assert recovered == len(kill_points)
    assert not [n for n in os.listdir(tmp_path / "run") if n.endswith(".tmp")]

    a, b = load_ckpt_file(tmp_path / "full" / "latest_ckpt.pth"), load_ckpt_file(latest)
    assert a["start_epoch"] == b["start_epoch"] == 3
    assert_same_tensors(a["train_model"], b["train_model"], "student")
    assert_same_tensors(a["model"], b["model"], "student EMA")
    assert_same_tensors(a["fgd"], b["fgd"], "fgd")


def _poisoned(trainer, term, bad_iters):
    """Make forward_losses return a non-finite `term` at the given iterations."""
    real = trainer.forward_losses

    def forward(inps, targets):
        out = real(inps, targets)
        if trainer.iter in bad_iters:
            out[term] = out[term] * float("nan")
            out["total_loss"] = out["total_loss"] + out[term]
        return out
    trainer.forward_losses = forward


def test_nonfinite_fgd_term_is_skipped_counted_then_stops(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """Default policy: a NaN step is skipped (parameters and EMA unchanged; BatchNorm running
    statistics of its forward are kept, as in any forward) and counted; after
    nonfinite_max_consecutive (3) in a row training stops naming the term, level and iteration."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt,
                           "nonfinite_max_consecutive", "3", batch=4)
    trainer.before_train()
    _poisoned(trainer, "fgd_rela_p5", bad_iters={1, 3, 4, 5})
    snap = {}

    def check(i):
        if i == 1:
            assert trainer.nonfinite_steps == 1 and trainer.consecutive_nonfinite == 1
        if i == 2:
            assert trainer.consecutive_nonfinite == 0
            snap["student"] = {k: v.detach().clone() for k, v in trainer.student.named_parameters()}
            snap["ema"] = {k: v.clone() for k, v in trainer.ema_model.ema.state_dict().items()}
        if i in (3, 4):
            params = {k: v.detach() for k, v in trainer.student.named_parameters()}
            assert_same_tensors(params, snap["student"], "student after a skipped step")
            assert_same_tensors(trainer.ema_model.ema.state_dict(), snap["ema"], "EMA after a skipped step")

    with pytest.raises(FloatingPointError,
                       match=r"non-finite loss at epoch 1 iter 6 \(iteration 6\): .*fgd_rela_p5=nan.*3 consecutive"):
        run_iters(trainer, 8, check)
    assert trainer.nonfinite_steps == 4


def test_nonfinite_detection_term_stops_at_once_with_stop_policy(tmp_path, tiny_data, restore_std):
    trainer = make_trainer(TINY_EXP, tmp_path, "nonfinite_policy", "stop", batch=4)
    trainer.before_train()
    _poisoned(trainer, "iou_loss", bad_iters={0})
    with pytest.raises(FloatingPointError, match=r"iteration 1\).*iou_loss=nan.*nonfinite_policy='stop'"):
        run_iters(trainer, 1)


def test_output_folder_not_writable_or_full(tmp_path, tiny_data, restore_std, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match=f"output folder {blocker}/run cannot be created"):
        make_trainer(TINY_EXP, blocker)
    trainer = make_trainer(TINY_EXP, tmp_path / "out")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 1000))
    with pytest.raises(OSError, match="not enough disk space in .*: 0 MB free"):
        trainer.before_train()


def test_resume_with_another_teacher_warns_naming_both(tmp_path, tiny_data, tiny_teacher_ckpt):
    other = tmp_path / "other_teacher.pth"
    state = load_ckpt_file(tiny_teacher_ckpt)
    state["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, other)
    common = ["-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-expn", "t"]
    first = run_tool("train", *common, "output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "2",
                     "train_until_epoch", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_tool("train", *common, "--resume", "output_dir", tmp_path, "teacher_ckpt", other, "max_epoch", "2")
    assert second.returncode == 0, second.stderr[-2000:]
    out = second.stdout + second.stderr
    assert "resuming with another teacher" in out and str(tiny_teacher_ckpt) in out and str(other) in out


def test_unreadable_image_is_named(tmp_path, tiny_data):
    root = shutil.copytree(tiny_data, tmp_path / "d")
    victim = sorted(os.listdir(os.path.join(root, "train2017")))[0]
    with open(os.path.join(root, "train2017", victim), "wb") as f:
        f.write(b"not an image")
    res = run_tool("train", "-f", TINY_EXP, "-b", "4", "--device", "cpu", "data_dir", root,
                   "synthetic_dataset", "None", "output_dir", tmp_path / "out", "mosaic_prob", "0.0")
    assert res.returncode != 0 and f"cannot read image {root}/train2017/{victim}" in res.stderr


def test_degenerate_boxes_dropped_with_one_warning(tmp_path, tiny_data):
    root = shutil.copytree(tiny_data, tmp_path / "d")
    ann_file = os.path.join(root, "annotations", "instances_train2017.json")
    with open(ann_file) as f:
        data = json.load(f)
    n = len(data["annotations"])
    data["annotations"][0]["bbox"][2] = 0
    data["annotations"][1]["bbox"][3] = -4
    with open(ann_file, "w") as f:
        json.dump(data, f)
    messages = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING")
    try:
        ds = CheckedCOCODataset(data_dir=str(root), json_file="instances_train2017.json", num_classes=6, img_size=(64, 64))
    finally:
        logger.remove(sink)
    assert sum(len(a[0]) for a in ds.annotations) == n - 2
    assert [m for m in messages if "dropped 2 box(es) with non-positive width or height" in m]
    assert all(np.all(a[0][:, 2] > a[0][:, 0]) for a in ds.annotations)


def test_old_pickled_checkpoint_loads_with_a_logged_note(tmp_path):
    from yolox_fgd.utils.checkpoint import load_checkpoint

    path = tmp_path / "old.pth"
    torch.save({"model": {"w": torch.ones(1)}, "amp": np.float64(1.0)}, path)
    messages = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING")
    try:
        ckpt = load_checkpoint(path)
    finally:
        logger.remove(sink)
    assert torch.equal(ckpt["model"]["w"], torch.ones(1))
    assert [m for m in messages if "weights_only=False" in m]


def test_nan_predictions_say_the_run_diverged(tmp_path, tiny_data, restore_std):
    """Weights that ran away make the scores NaN, and YOLOX's SimOTA then fails inside torch's
    binary cross entropy ("all elements of input should be between 0 and 1"); the trainer says
    that the run diverged, where, and what to do."""
    trainer = make_trainer(TINY_EXP, tmp_path, batch=4)
    trainer.before_train()
    with torch.no_grad():
        trainer.model.head.cls_preds[0].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"predictions became NaN at epoch 1 iteration 1: training diverged"):
        run_iters(trainer, 1)

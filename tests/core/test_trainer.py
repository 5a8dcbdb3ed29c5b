"""The device-agnostic trainer on CPU: it learns, resumes exactly, and keeps YOLOX's checkpoint format."""
import pytest
import torch

from tests.conftest import (TINY_EXP, USER_CONFIG, assert_same_tensors, load_ckpt_file, make_trainer, run_tool,
                            stop_and_resume)


def test_a_few_iterations_lower_the_loss(tmp_path, tiny_data, restore_std):
    """20 iterations on the same batch of 8 (no augmentation) lower YOLOX's total loss."""
    trainer = make_trainer(TINY_EXP, tmp_path, "no_aug_epochs", "2", "flip_prob", "0.0", "hsv_prob", "0.0",
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


def assert_same_training_state(a, b):
    """Weights, EMA weights and optimizer momentum of two checkpoints are bit-identical."""
    assert_same_tensors(a["model"], b["model"], "model (EMA)")
    assert_same_tensors(a["train_model"], b["train_model"], "train_model")
    for i, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])


def test_resume_continues_at_saved_epoch_with_saved_state(tmp_path, tiny_data):
    """Stopping after epoch 2 of 3 and resuming gives the same weights, EMA and optimizer state
    as an uninterrupted 3-epoch run (deterministic CPU settings); the checkpoint keeps YOLOX's keys."""
    a, b = stop_and_resume(TINY_EXP, tmp_path)
    assert {"model", "optimizer", "start_epoch", "best_ap"} <= set(a)
    assert a["start_epoch"] == b["start_epoch"] == 3
    assert_same_training_state(a, b)


def test_resume_is_exact_with_workers_multiscale_and_warmup(tmp_path, tiny_data):
    """The same with loader workers, multiscale, warm-up and the no-mosaic last epochs on: 16
    iterations, interrupted after 8 (at the epoch where mosaic closes), the input size changing
    at iteration 10 after the resume. The resumed run's workers augment each sample as the
    uninterrupted run's did (augmentations seeded by stream position, not per worker)."""
    a, b = stop_and_resume(TINY_EXP, tmp_path, *USER_CONFIG, epochs=4, stop=2, batch=2)
    assert len(set(stop_and_resume.sizes)) > 1, "the run never changed its input size"
    assert_same_training_state(a, b)


def test_resume_from_the_last_mosaic_checkpoint_trains_every_mosaic_free_epoch(tmp_path, tiny_data):
    """``last_mosaic_epoch_ckpt.pth`` is written when mosaic closes, before that epoch trains; a
    run resumed from it trains that epoch and ends bit-identical to the uninterrupted run (YOLOX
    0.3.0 labelled it one epoch later, and a resume from it skipped the first mosaic-free epoch).
    With workers, multiscale, warm-up and the no-mosaic epochs on."""
    common = ["-f", TINY_EXP, "-b", "2", "--device", "cpu"]
    tail = ["output_dir", tmp_path, "max_epoch", "4", *USER_CONFIG]
    full = run_tool("train", *common, "-expn", "full", *tail)
    assert full.returncode == 0, full.stderr[-3000:]
    mosaic_ckpt = tmp_path / "full" / "last_mosaic_epoch_ckpt.pth"
    assert load_ckpt_file(mosaic_ckpt)["start_epoch"] == 2  # 4 epochs, no_aug_epochs 1: closes before epoch 3
    branch = run_tool("train", *common, "-expn", "branch", "--resume", "-c", mosaic_ckpt, *tail)
    assert branch.returncode == 0, branch.stderr[-3000:]
    assert "(epoch 2)" in branch.stdout + branch.stderr
    assert_same_training_state(load_ckpt_file(tmp_path / "full" / "latest_ckpt.pth"),
                               load_ckpt_file(tmp_path / "branch" / "latest_ckpt.pth"))


def test_multiscale_interval_is_how_often_a_new_input_size_is_drawn(tmp_path, tiny_data, restore_std):
    """YOLOX draws a new multiscale size after every 10th iteration; ``multiscale_interval`` sets
    that period (the benchmark draws every iteration); a period that is not a whole number of
    iterations >= 1 is refused by name."""
    for interval, expected in ((None, [9, 19]), (3, [2, 5, 8, 11, 14, 17])):
        opts = ("multiscale_interval", str(interval)) if interval else ()
        trainer = make_trainer(TINY_EXP, tmp_path / str(interval), "print_interval", "1000", *opts)
        trainer.before_train()
        drawn = []
        trainer.exp.random_resize = lambda *args: drawn.append(trainer.progress_in_iter) or (64, 64)
        trainer.epoch = 0
        trainer.max_iter = 20
        for trainer.iter in range(20):
            trainer.after_iter()
        trainer.after_train()
        assert drawn == expected
    exp = trainer.exp
    for bad in (0, 2.5, float("nan"), None):
        exp.multiscale_interval = bad
        with pytest.raises(ValueError, match="multiscale_interval must be a whole number"):
            exp.check_config()


def test_eval_of_the_same_checkpoint_is_repeatable(tmp_path, tiny_data):
    """tools/eval.py prints the COCO table twice with identical numbers for one checkpoint, and
    reads both checkpoint forms ({"model": ...} and a bare state dict)."""
    run = run_tool("train", "-f", TINY_EXP, "-b", "4", "--device", "cpu", "-expn", "e", "output_dir", tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    ckpt = tmp_path / "e" / "latest_ckpt.pth"
    bare = tmp_path / "bare.pth"
    torch.save(load_ckpt_file(ckpt)["model"], bare)
    outs = [run_tool("eval", "-f", TINY_EXP, "-c", path, "--device", "cpu", "-b", "2", "test_conf", "0.001")
            for path in (ckpt, ckpt, bare)]
    tables = []
    for res in outs:
        assert res.returncode == 0, res.stderr[-3000:]
        table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
        assert table[0].split("|")[2:8] == [" AP ", " AP50 ", " AP75 ", " APs ", " APm ", " APl "]
        tables.append(table[1])
    assert tables[0] == tables[1] == tables[2]


def test_init_ckpt_is_the_students_starting_point(tmp_path, tiny_data):
    """With ``init_ckpt`` the student (and so its EMA) starts from the file's weights (a fp16
    file, cast), not from YOLOX's random initialisation."""
    from yolox_fgd.exp.build import load_exp

    model = load_exp(TINY_EXP).get_model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.25)  # not what any seed initialises
    init = tmp_path / "init.pth"
    torch.save({"model": {k: v.half() for k, v in model.state_dict().items()}}, init)
    trainer = make_trainer(TINY_EXP, tmp_path, "init_ckpt", init)
    trainer.before_train()
    expected = {k: v.half().float() for k, v in model.state_dict().items() if v.is_floating_point()}
    for name, module in (("student", trainer.student), ("EMA", trainer.ema_model.ema)):
        got = {k: v.float() for k, v in module.state_dict().items() if k in expected}
        assert_same_tensors(expected, got, name)

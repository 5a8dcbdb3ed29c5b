"""--fp16 through the code CUDA runs, on the CPU: float16 autocast in the step, the distillation
losses in float32, GradScaler's overflow skips apart from real non-finite losses, clipping of the
unscaled gradient, exact resume, fp16 checkpoints read by YOLOX, and the half-precision eval flag."""
import math

import pytest
import torch

from tests.conftest import (TINY_EXP, TINY_FGD_EXP, USER_CONFIG, assert_same_tensors, load_ckpt_file, make_trainer,
                            run_iters, run_tool, stop_and_resume)
from yolox_fgd.losses import FGDLoss
from yolox_fgd.losses.head_kd import HeadKDLoss


def fp16_trainer(exp_file, output_dir, *opts, batch=4):
    """An in-process --fp16 trainer on the CPU (tests/conftest.py's make_trainer, with the flag)."""
    return make_trainer(exp_file, output_dir, *opts, batch=batch, flags=("--fp16",))


@pytest.mark.parametrize("exp_file, opts", [
    (TINY_EXP, ()),
    (TINY_FGD_EXP, ("fgd_tap", "stems")),
    (TINY_FGD_EXP, ("fgd_tap", "pafpn")),
    (TINY_FGD_EXP, ("fgd_tap", "stems", "head_kd_weight", "1", "head_kd_box_weight", "1")),
    (TINY_FGD_EXP, ("fgd_tap", "pafpn", "head_kd_weight", "1", "head_kd_box_weight", "1", "fgd_feature_norm", "True")),
], ids=["plain", "fgd_stems", "fgd_pafpn", "fgd_head_kd_stems", "fgd_head_kd_pafpn"])
def test_fp16_training_on_the_cpu(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std, exp_file, opts):
    """Plain, FGD and FGD plus head output distillation train 2 epochs with --fp16 in the users'
    configuration (loader workers, multiscale, warm-up, a mosaic-free epoch) to finite losses; the
    student's convolutions run in float16 inside the step, the distillation losses come out in
    float32, and the checkpoint's weights are float32 and load into YOLOX's own model."""
    from yolox.exp import get_exp

    fgd = exp_file == TINY_FGD_EXP
    extra = ("teacher_ckpt", tiny_teacher_ckpt) if fgd else ()
    trainer = fp16_trainer(exp_file, tmp_path, *extra, *opts, *USER_CONFIG)
    trainer.before_train()
    conv_dtypes, loss_dtypes, totals = set(), set(), []
    trainer.student.backbone.backbone.dark2.register_forward_hook(lambda m, i, o: conv_dtypes.add(o.dtype))
    real = trainer.forward_losses

    def forward(inps, targets):
        out = real(inps, targets)
        loss_dtypes.update(v.dtype for k, v in out.items() if k.startswith(("fgd_", "head_kd_")))
        totals.append(float(out["total_loss"].detach()))
        return out
    trainer.forward_losses = forward
    trainer.train_in_epoch()
    trainer.after_train()
    assert conv_dtypes == {torch.float16}
    assert loss_dtypes == ({torch.float32} if fgd else set())
    assert totals and all(math.isfinite(t) for t in totals)
    ckpt = load_ckpt_file(tmp_path / "run" / "latest_ckpt.pth")
    assert all(v.dtype == torch.float32 for v in ckpt["model"].values() if v.is_floating_point())
    assert {"scale", "_growth_tracker"} <= set(ckpt["scaler"])
    get_exp(TINY_EXP).get_model().load_state_dict(ckpt["model"], strict=True)


@pytest.mark.parametrize("peak", [300.0, 3000.0])
def test_distillation_losses_under_autocast_match_float32_with_large_teacher_maps(peak):
    """The converged teacher's maps carry channels up to 250 (docs/fgd_on_yolox.md): with teacher
    maps reaching 300 and 3000 and both maps arriving in float16 (the autocast forward's dtype),
    FGD (with and without feature normalisation) and the head output distillation stay finite
    and equal their float32 values within 1% (the inputs' float16 rounding, 2^-11 relative, enters
    squared differences of nearly equal maps; the losses themselves are computed in float32)."""
    torch.manual_seed(0)
    s = torch.randn(2, 16, 8, 8)
    t = torch.randn(2, 32, 8, 8)
    t[:, :3] *= peak / t[:, :3].abs().max()
    targets = torch.tensor([[[1, 20, 24, 16, 20], [2, 40, 40, 12, 10]], [[0, 32, 32, 30, 28], [0, 0, 0, 0, 0]]],
                           dtype=torch.float32)
    for norm in (False, True):
        loss = FGDLoss(16, 32, feature_norm=norm, ref_size=None)
        ref = loss(s, t, targets, (64, 64))
        with torch.autocast("cpu", dtype=torch.float16):
            got = loss(s.half(), t.half(), targets.half(), (64, 64))
        for key in ("loss", "fg", "bg", "attention", "rela"):
            assert got[key].dtype == torch.float32 and torch.isfinite(got[key])
            assert got[key].item() == pytest.approx(ref[key].item(), rel=1e-2, abs=1e-6), (norm, key)
    levels = {"p3": 8, "p4": 4}
    student = {lvl: (torch.randn(2, 1, n, n), torch.randn(2, 4, n, n), torch.randn(2, 4, n, n)) for lvl, n in levels.items()}
    teacher = {}
    for lvl, n in levels.items():
        obj, cls = torch.randn(2, 1, n, n), torch.randn(2, 4, n, n)
        teacher[lvl] = (obj * peak / obj.abs().max(), cls * peak / cls.abs().max(), torch.randn(2, 4, n, n))
    kd = HeadKDLoss(box_weight=2.0)
    ref = kd(student, teacher)
    with torch.autocast("cpu", dtype=torch.float16):
        got = kd({k: tuple(x.half() for x in v) for k, v in student.items()},
                 {k: tuple(x.half() for x in v) for k, v in teacher.items()})
    for key in ("loss", "obj", "cls", "box"):
        assert got[key].dtype == torch.float32 and torch.isfinite(got[key])
        assert got[key].item() == pytest.approx(ref[key].item(), rel=1e-2), key


def _steps(trainer, n, forward=None, after=lambda i: None):
    """``n`` training steps of epoch 1 through the real ``train_one_iter``, the loss dict passed
    through ``forward`` first."""
    if forward is not None:
        real = trainer.forward_losses
        trainer.forward_losses = lambda inps, targets: forward(real(inps, targets))
    run_iters(trainer, n, after)


def test_scaler_overflow_is_not_a_fault_but_a_nan_loss_is(tmp_path, tiny_data, restore_std):
    """An fp16 overflow of the scaled gradients (a finite loss of 1e34: finite in float32,
    infinite once scaled) is skipped by the GradScaler, which halves its scale; it is not counted
    as a non-finite step. A NaN loss is counted, backs the scale off too, and the second in a row
    stops training with the non-finite message."""
    trainer = fp16_trainer(TINY_EXP, tmp_path, "nonfinite_max_consecutive", "2")
    trainer.before_train()
    # a scale the tiny model's own gradients never overflow at (GradScaler's 2^16 does at first)
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    scales, counts = [], []

    def poison(out):
        i = trainer.progress_in_iter
        if i == 1:
            out["total_loss"] = out["total_loss"] * 1e34
        elif i >= 3:
            out["total_loss"] = out["total_loss"] * float("nan")
        return out

    def after(i):
        scales.append(trainer.scaler.get_scale())
        counts.append(trainer.nonfinite_steps)

    with pytest.raises(FloatingPointError, match=r"non-finite loss at .*iteration 5\).*total_loss=nan.*2 consecutive"):
        _steps(trainer, 6, poison, after)
    assert counts == [0, 0, 0, 1]
    assert scales[:4] == [256.0, 128.0, 128.0, 64.0]


def test_gradient_clipping_clips_the_unscaled_gradient(tmp_path, tiny_data, restore_std):
    """With --fp16 and grad_clip_norm, the gradient the optimizer applies has the clip norm (the
    scaler unscales before clipping; clipping the scaled gradient would leave it 2^16 times
    smaller)."""
    trainer = fp16_trainer(TINY_EXP, tmp_path, "grad_clip_norm", "1e-3")
    trainer.before_train()
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=256.0)  # no overflow: every step is taken
    norms = []
    trainer.optimizer.register_step_pre_hook(lambda opt, args, kwargs: norms.append(float(torch.nn.utils.get_total_norm(
        [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]))))
    _steps(trainer, 2)
    assert len(norms) == 2 and all(n == pytest.approx(1e-3, rel=1e-2) for n in norms)


@pytest.mark.parametrize("exp_file, processes", [(TINY_EXP, 1), (TINY_FGD_EXP, 1), (TINY_FGD_EXP, 2)],
                         ids=["plain", "fgd", "fgd_two_processes"])
def test_fp16_resume_is_exact(tmp_path, tiny_data, tiny_teacher_ckpt, exp_file, processes):
    """--fp16 stopped after epoch 1 and resumed equals the uninterrupted run: student, EMA,
    optimizer momentum, the GradScaler's scale and growth tracker, and for FGD the FGD modules
    and the loss calibration (whose scale, with two gloo processes, is fixed from both ranks'
    sums and held alike by both); with workers, multiscale and warm-up on."""
    extra = ("teacher_ckpt", tiny_teacher_ckpt, "fgd_calibrate_iters", "3") if exp_file == TINY_FGD_EXP else ()
    flags, tail = ("--fp16",), ()
    if processes == 2:
        # spawned processes spawn their loader workers too (an interpreter start each, at every
        # evaluation as well): one worker per process
        flags, tail = ("--fp16", "-d", "2"), ("data_num_workers", "1")
    a, b = stop_and_resume(exp_file, tmp_path, *extra, *USER_CONFIG, *tail, epochs=3, stop=1, batch=4, flags=flags)
    assert_same_tensors(a["train_model"], b["train_model"], "student")
    assert_same_tensors(a["model"], b["model"], "student EMA")
    for (k, x), (_, y) in zip(sorted(a["optimizer"]["state"].items()), sorted(b["optimizer"]["state"].items())):
        assert torch.equal(x["momentum_buffer"], y["momentum_buffer"]), f"momentum of parameter {k}"
    assert a["scaler"] == b["scaler"]
    if extra:
        assert_same_tensors(a["fgd"], b["fgd"], "fgd")
        assert a["fgd_calibration"]["scale"] == b["fgd_calibration"]["scale"] > 0
    if processes == 2:
        assert len(a["rng_ranks"]) == 2


def test_fp16_eval_flag_is_refused_by_name_on_the_cpu(tmp_path, tiny_data):
    """tools/eval.py --fp16 (YOLOX's half-precision flag) needs CUDA: on the CPU it stops with a
    message naming the flag."""
    res = run_tool("eval", "-f", TINY_EXP, "--device", "cpu", "--fp16", "-b", "2")
    assert res.returncode != 0 and "--fp16" in res.stderr and "CUDA" in res.stderr

"""FGDTrainer end to end on CPU: frozen teacher, trained FGD modules, YOLOX-format student
checkpoints, exact resume, control run, DDP over gloo, and clear errors."""
import copy
import math
import re

import pytest
import torch
from yolox.exp import get_exp

from tests.conftest import (TINY_EXP, TINY_FGD_EXP, USER_CONFIG, assert_same_tensors, load_ckpt_file, logged_sizes,
                            make_trainer, run_tool, stop_and_resume)


@pytest.mark.parametrize("opts", [(), ("fgd_projector", "mlp", "fgd_modules_lr_mult", "10", "crosskd_weight", "1",
                                          "crosskd_box_weight", "1")])
def test_distillation_run_freezes_teacher_and_trains_fgd(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std, opts):
    """Through the trainer's real loop: teacher parameters and BN buffers are bit-identical
    afterwards; every FGD parameter received a gradient and the ones a first step can move
    changed (align convs or the mlp projector's convs, context-mask weights, the GcBlocks' last
    convs: the inner GcBlock layers only learn once the zero-initialised last conv is non-zero,
    as in the official code); hooks are gone at the end. With ``fgd_modules_lr_mult`` the FGD
    modules' groups ran at that multiple of the student's learning rate; with ``crosskd_weight``
    the cross-head projections trained at the student's, the teacher's head (which the cross-head
    predictions run through) is unchanged, and the log has the cross-head terms."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, *opts, batch=4)
    trainer.before_train()
    teacher_before = copy.deepcopy(trainer.teacher.model.state_dict())
    fgd_before = copy.deepcopy(trainer.model.terms["fgd"].losses.state_dict())
    assert all(not p.requires_grad for p in trainer.teacher.parameters())
    assert not any(p is q for p in trainer.teacher.parameters() for g in trainer.optimizer.param_groups
                   for q in g["params"])
    cross_before = copy.deepcopy(trainer.model.terms["crosskd"].cross_head.state_dict()) if opts else None
    trainer.train_in_epoch()
    trainer.after_train()

    released = load_ckpt_file(tiny_teacher_ckpt)["model"]
    assert_same_tensors(trainer.teacher.model.state_dict(), teacher_before, "teacher")
    assert_same_tensors(trainer.teacher.model.state_dict(), released, "teacher vs its checkpoint")
    for name, param in trainer.model.terms["fgd"].losses.named_parameters():
        assert param.grad is not None, f"FGD parameter {name} got no gradient"
        if name.split(".", 1)[1] in ("align.weight", "align.bias", "align.0.weight", "align.3.weight", "align.3.bias",
                                     "conv_mask_s.weight", "conv_mask_t.weight",
                                     "channel_add_conv_s.3.weight", "channel_add_conv_t.3.weight",
                                     "channel_add_conv_s.3.bias", "channel_add_conv_t.3.bias"):
            assert not torch.equal(param.detach(), fgd_before[name]), f"FGD parameter {name} did not train"
    assert not trainer.model.attached and all(t._tap is None for t in trainer.model.terms.values())
    assert not trainer.student.backbone._forward_hooks and not trainer.teacher.model.backbone._forward_hooks
    lrs = [g["lr"] for g in trainer.optimizer.param_groups]
    if opts:
        assert lrs[0] > 0 and lrs[3:6] == pytest.approx([10 * lrs[0]] * 3) and lrs[:3] + lrs[6:] == [lrs[0]] * 6
        for name, param in trainer.model.terms["crosskd"].cross_head.named_parameters():
            assert param.grad is not None and not torch.equal(param.detach(), cross_before[name]), name
        log = (tmp_path / "run" / "train_log.txt").read_text()
        assert re.search(r"crosskd_box: [0-9.]+", log) and "cross-head distillation weight 1" in log
    else:
        assert len(lrs) == 3


def test_the_teacher_at_its_own_size_and_its_label_assignment(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """head_kd_teacher_size (96, 96): a 64 px batch reaches the teacher's backbone once as it is
    (FGD's maps) and once resized to 96 px; the head targets are that run's outputs resampled to
    the student's 64 px grid; a batch already at 96 px is not run twice. teacher_assignment: the
    student's head is a TeacherAssignedHead and, at every step of the real loop (users'
    configuration: workers, multiscale, warm-up), receives the teacher's flattened predictions on
    the student's grid (one row per anchor of the batch's size). The run's losses are finite and
    its log names both."""
    from yolox_fgd.distill.features import head_logits
    from yolox_fgd.distill.resample import resample_head_outputs, resize_images
    from yolox_fgd.models.teacher_assigned_head import TeacherAssignedHead

    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "head_kd_weight", "1",
                           "head_kd_box_weight", "1", "head_kd_teacher_size", "96", "teacher_assignment", "True",
                           *USER_CONFIG, batch=4)
    trainer.before_train()
    teacher = trainer.teacher.model
    seen = []
    handle = teacher.backbone.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape[-2:])))
    x = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        got = trainer.model.teacher_targets(trainer.teacher, x).head_outputs
        strides = {"p3": 8, "p4": 16, "p5": 32}
        ref = resample_head_outputs(head_logits(teacher, teacher.backbone(resize_images(x, (96, 96)))), strides,
                                    (96, 96), (64, 64))
        assert seen == [(64, 64), (96, 96), (96, 96)]
        for lvl in ref:
            assert got[lvl][2].shape == (2, 4, 64 // strides[lvl], 64 // strides[lvl])
            assert all(torch.equal(a, b) for a, b in zip(got[lvl], ref[lvl]))
        seen.clear()
        x96 = resize_images(x, (96, 96))
        same = trainer.model.teacher_targets(trainer.teacher, x96).head_outputs
        assert seen == [(96, 96)]
        fpn96 = teacher.backbone(x96)
        assert all(torch.equal(a, b) for lvl, out in head_logits(teacher, fpn96).items() for a, b in zip(out, same[lvl]))
    handle.remove()
    head = trainer.student.head
    assert type(head) is TeacherAssignedHead
    given = []
    original = head.set_assignment_predictions
    head.set_assignment_predictions = lambda preds: (given.append(tuple(preds.shape)), original(preds))
    trainer.train_in_epoch()
    trainer.after_train()
    assert len(given) == trainer.max_iter * trainer.max_epoch
    anchors = {sum((size // s) ** 2 for s in (8, 16, 32)) for size in (32, 64, 96)}
    assert all(shape[0] == 4 and shape[1] in anchors and shape[2] == 5 + head.num_classes for shape in given)
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "teacher input (96, 96)" in log and "label assignment from the teacher's predictions" in log
    boxes = [float(v) for v in re.findall(r"head_kd_box: ([^,\s]+)", log)]
    totals = [float(v) for v in re.findall(r"total_loss: ([^,\s]+)", log)]
    assert boxes and all(math.isfinite(v) and v > 0 for v in boxes) and all(math.isfinite(v) for v in totals)


def test_no_aug_factor_starts_with_the_epoch_that_closes_mosaic(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """distill_no_aug_factor multiplies the distillation weight from the epoch in which the trainer
    closes mosaic (YOLOX: ``max_epoch - no_aug_epochs``, 1-based) to the end, not before."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "4",
                           "no_aug_epochs", "1", "distill_no_aug_factor", "2.5", batch=4)
    trainer.before_train()
    factors = []
    for trainer.epoch in range(4):
        trainer.before_epoch()
        factors.append((trainer.train_loader.batch_sampler.mosaic, trainer.weight_schedule(trainer.epoch * trainer.max_iter),
                        trainer.weight_schedule((trainer.epoch + 1) * trainer.max_iter - 1)))
    trainer.after_train()
    assert factors == [(True, 1.0, 1.0), (True, 1.0, 1.0), (False, 2.5, 2.5), (False, 2.5, 2.5)]


def test_trainer_taps_the_student_after_its_ema_copy(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """The trainer registers the student's hooks after the EMA copy exists: the EMA model carries
    none, and evaluating it leaves what the live student's forward captured in place."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, batch=4)
    trainer.before_train()
    assert all(not m._forward_hooks for m in trainer.ema_model.ema.modules())
    x = torch.randn(2, 3, 64, 64)
    trainer.student.eval()
    trainer.student(x)
    trainer.ema_model.ema(torch.randn(2, 3, 64, 64))
    captured = trainer.model.terms["fgd"]._tap.pop()
    expected = {lvl: trainer.student.head.stems[i](trainer.student.backbone(x)[i]) for i, lvl in enumerate(("p3", "p4", "p5"))}
    for lvl in expected:
        assert torch.equal(captured[lvl], expected[lvl])
    trainer.after_train()


def test_resume_refuses_checkpoints_without_the_distillation_modules(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """--resume of a distillation run needs the FGD modules ('fgd') of the checkpoint and, with
    crosskd_weight, its cross-head projections ('cross_head'): a checkpoint without them is refused
    with what to do; the run's own checkpoint state loads back."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "crosskd_weight", "1", batch=4)
    trainer.before_train()
    with pytest.raises(ValueError, match="no FGD modules.*use -c without --resume"):
        trainer.load_extra_state({})
    with pytest.raises(ValueError, match="no cross-head projections.*trained without crosskd_weight"):
        trainer.load_extra_state({"fgd": trainer.model.terms["fgd"].losses.state_dict(), "cross_head": None})
    trainer.load_extra_state(trainer.extra_checkpoint_state())
    trainer.after_train()


def test_student_checkpoint_loads_into_plain_yolox(tmp_path, tiny_data, tiny_teacher_ckpt):
    """`model` of a distilled checkpoint loads into YOLOX's own model of the student experiment
    with no missing or unexpected keys; FGD modules and teacher are not in it."""
    res = run_tool("train", "-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-expn", "d",
                   "output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = load_ckpt_file(tmp_path / "d" / "latest_ckpt.pth")
    model = get_exp(TINY_EXP).get_model()
    result = model.load_state_dict(ckpt["model"], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(ckpt["fgd"]) and all(k.split(".")[0] in ("p3", "p4", "p5") for k in ckpt["fgd"])
    assert ckpt["teacher_sha256"] and ckpt["teacher_ckpt"] == str(tiny_teacher_ckpt)
    for line in ("fgd_loss_p3", "fgd_fg_p4", "fgd_bg_p5", "fgd_attention_p3", "fgd_rela_p5", "fgd_loss:"):
        assert line in res.stdout + res.stderr, f"{line} not logged"


def test_coco_fgd_yolox_m_student_is_official_yolox_m():
    """exps/fgd_yolox_m.py's student state dict loads strictly into YOLOX's yolox-m."""
    exp = get_exp("exps/fgd_yolox_m.py")
    student = exp.get_model()
    official = get_exp(None, "yolox-m").get_model()
    result = official.load_state_dict(student.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert (exp.teacher_exp, exp.fgd_temp, exp.fgd_alpha, exp.fgd_beta, exp.fgd_gamma, exp.fgd_lambda, exp.fgd_ref_size) == \
        ("yolox-l", 0.5, 2e-3, 1e-3, 1e-3, 1e-5, 640)


def test_all_fgd_weights_zero_equals_plain_training(tmp_path, tiny_data, tiny_teacher_ckpt):
    """The control run: with alpha = beta = gamma = lambda = 0 the student trains bit-identically
    to the plain trainer with the same seed (same loss trajectory, same final weights), with
    loader workers, multiscale and warm-up on: building the teacher and the FGD modules first
    changes neither the student's initial weights nor its augmentations nor its input sizes."""
    common = ["-b", "2", "--device", "cpu", "output_dir", tmp_path, "max_epoch", "4", *USER_CONFIG]
    plain = run_tool("train", "-f", TINY_EXP, "-expn", "plain", *common)
    zero = run_tool("train", "-f", TINY_FGD_EXP, "-expn", "zero", *common, "teacher_ckpt", tiny_teacher_ckpt,
                    "fgd_alpha", "0", "fgd_beta", "0", "fgd_gamma", "0", "fgd_lambda", "0")
    assert plain.returncode == 0 and zero.returncode == 0, (plain.stderr + zero.stderr)[-3000:]
    a = load_ckpt_file(tmp_path / "plain" / "latest_ckpt.pth")
    b = load_ckpt_file(tmp_path / "zero" / "latest_ckpt.pth")
    assert_same_tensors(a["train_model"], b["train_model"], "student")
    assert_same_tensors(a["model"], b["model"], "student EMA")

    def losses(text):
        return [line.split("total_loss: ")[1].split(",")[0] for line in text.splitlines() if "total_loss: " in line]
    assert losses(plain.stderr + plain.stdout) == losses(zero.stderr + zero.stdout) != []
    sizes = logged_sizes(plain.stderr + plain.stdout)
    assert len(set(sizes)) > 1 and sizes == logged_sizes(zero.stderr + zero.stdout)


def test_fgd_resume_is_exact(tmp_path, tiny_data, tiny_teacher_ckpt):
    """4 epochs uninterrupted and stopped after 1 then resumed, with workers, multiscale, warm-up,
    no-mosaic last epochs, a loss calibration over 6 iterations that the stop interrupts (its
    partial sums are in the checkpoint), a cosine decay, the mlp projector (BatchNorm
    statistics) in optimizer groups of their own at 10x the learning rate, and cross-head
    distillation: same student, EMA, FGD modules and cross-head projections."""
    a, b = stop_and_resume(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, *USER_CONFIG,
                           "fgd_calibrate_iters", "6", "distill_decay", "cosine", "fgd_projector", "mlp",
                           "fgd_modules_lr_mult", "10", "crosskd_weight", "1", epochs=4, stop=1, batch=2)
    assert_same_tensors(a["train_model"], b["train_model"], "student")
    assert_same_tensors(a["model"], b["model"], "student EMA")
    assert_same_tensors(a["fgd"], b["fgd"], "fgd")
    assert_same_tensors(a["cross_head"], b["cross_head"], "cross-head projections")


def test_ddp_two_cpu_processes_keep_fgd_modules_in_sync(tmp_path, tiny_data, tiny_teacher_ckpt):
    """-d 2 --device cpu runs two gloo processes; after training the student and FGD parameters
    are checked identical across ranks (the trainer's all-reduce check logs it)."""
    res = run_tool("train", "-f", TINY_FGD_EXP, "-b", "4", "-d", "2", "--device", "cpu", "-expn", "ddp",
                   "output_dir", tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "1")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "replicas in sync: student and FGD parameters identical on 2 ranks" in out
    assert "Rank 1 initialization finished" in out or "rank 1" in out.lower()
    assert (tmp_path / "ddp" / "latest_ckpt.pth").is_file()

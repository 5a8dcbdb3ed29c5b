"""build_teacher loads strictly and freezes; bad teachers stop with a message naming the problem."""
import pytest
import torch

from tests.conftest import TINY_FGD_EXP, TINY_TEACHER_EXP, refuse
from yolox_fgd.distill.teacher import build_teacher
from yolox_fgd.exp.build import load_exp
from yolox_fgd.utils.checkpoint import CheckpointError


def test_teacher_is_frozen_and_built_in_eval_mode(tiny_teacher_ckpt):
    teacher = build_teacher(load_exp(TINY_TEACHER_EXP), str(tiny_teacher_ckpt), num_classes=6)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert not any(m.training for m in teacher.modules())


def test_bare_state_dict_loads(tmp_path, tiny_teacher_ckpt):
    bare = tmp_path / "bare.pth"
    torch.save(torch.load(tiny_teacher_ckpt, weights_only=True)["model"], bare)
    build_teacher(load_exp(TINY_TEACHER_EXP), str(bare), num_classes=6)


def test_missing_teacher_checkpoint():
    with pytest.raises(CheckpointError, match="teacher checkpoint not found: /no/such.pth"):
        build_teacher(load_exp(TINY_TEACHER_EXP), "/no/such.pth", num_classes=6)
    with pytest.raises(CheckpointError, match="no teacher checkpoint"):
        build_teacher(load_exp(TINY_TEACHER_EXP), None, num_classes=6)


def test_unreadable_teacher_checkpoint(tmp_path):
    bad = tmp_path / "t.pth"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(CheckpointError, match="cannot read teacher checkpoint"):
        build_teacher(load_exp(TINY_TEACHER_EXP), str(bad), num_classes=6)


def test_missing_and_unexpected_keys_are_named(tmp_path, tiny_teacher_ckpt):
    state = torch.load(tiny_teacher_ckpt, weights_only=True)["model"]
    state.pop("head.stems.0.conv.weight")
    state["extra.layer.weight"] = torch.zeros(1)
    path = tmp_path / "t.pth"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointError, match=r"1 missing keys \['head.stems.0.conv.weight'\], 1 unexpected keys \['extra.layer.weight'\]"):
        build_teacher(load_exp(TINY_TEACHER_EXP), str(path), num_classes=6)


def test_checkpoint_of_another_class_count(tmp_path):
    """A teacher checkpoint trained for 80 classes (an official release) against a 6-class student."""
    exp = load_exp(TINY_TEACHER_EXP)
    exp.num_classes = 80
    path = tmp_path / "coco_teacher.pth"
    torch.save({"model": exp.get_model().state_dict()}, path)
    with pytest.raises(CheckpointError, match="the checkpoint predicts 80 classes, the student 6"):
        build_teacher(load_exp(TINY_TEACHER_EXP), str(path), num_classes=6)


def test_teacher_experiment_of_another_class_count(tiny_teacher_ckpt):
    with pytest.raises(ValueError, match="predicts 6 classes but the student 80"):
        build_teacher(load_exp(TINY_TEACHER_EXP), str(tiny_teacher_ckpt), num_classes=80)


def test_levels_that_do_not_pair_up(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std):
    """A teacher whose head has other strides than the student's is refused, naming both."""
    from tests.conftest import make_trainer

    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, batch=4)
    student = trainer.exp.get_model()
    teacher = build_teacher(load_exp(TINY_TEACHER_EXP), str(tiny_teacher_ckpt), num_classes=6)
    teacher.model.head.strides = [16, 32, 64]
    with pytest.raises(ValueError, match=r"student strides \[8, 16, 32\], teacher strides \[16, 32, 64\]"):
        trainer.check_level_pairing(student, teacher.model)


def test_cli_names_a_missing_teacher_checkpoint(tiny_data):
    assert "teacher checkpoint not found: /no/teacher.pth" in refuse("train", "-f", TINY_FGD_EXP, "--device", "cpu",
                                                                     "teacher_ckpt", "/no/teacher.pth")
    assert "no teacher checkpoint" in refuse("train", "-f", TINY_FGD_EXP, "--device", "cpu")


def test_cli_rejects_unknown_level(tiny_data, tiny_teacher_ckpt):
    err = refuse("train", "-f", TINY_FGD_EXP, "--device", "cpu", "teacher_ckpt", tiny_teacher_ckpt, "fgd_levels", "(p3,p6)")
    assert "fgd_levels=('p3', 'p6') must be distinct names among ('p3', 'p4', 'p5')" in err


def test_teacher_with_batch_statistics_teaches_on_them_and_keeps_its_running_ones(tiny_teacher_ckpt):
    """teacher_bn_stats "batch": the Distiller's teacher targets are the teacher's maps with every
    BatchNorm normalising by the batch's own statistics (as a train-mode forward), and its running
    statistics do not change however many batches it sees; "running" (the default) is eval mode."""
    import copy

    from tests.conftest import TINY_FGD_EXP
    from yolox_fgd.distill.features import distilled_maps

    exp = load_exp(TINY_FGD_EXP)
    exp.teacher_ckpt = str(tiny_teacher_ckpt)
    exp.teacher_bn_stats = "batch"
    exp.check_config()
    teacher = exp.get_teacher()
    distiller = exp.get_distiller(teacher)
    before = copy.deepcopy(teacher.model.state_dict())
    images = torch.rand(2, 3, 64, 64) * 255
    got = distiller.teacher_targets(teacher, images).maps["stems"]
    distiller.teacher_targets(teacher, torch.rand(2, 3, 64, 64) * 255)
    with torch.no_grad():
        ref = distilled_maps(copy.deepcopy(teacher.model).train(), images, "stems", exp.fgd_levels)
        evald = distilled_maps(copy.deepcopy(teacher.model).eval(), images, "stems", exp.fgd_levels)
    assert all(torch.allclose(got[lvl], ref[lvl]) for lvl in ref)
    assert not all(torch.allclose(got[lvl], evald[lvl]) for lvl in ref)
    for key, value in teacher.model.state_dict().items():
        if "running" in key:
            assert torch.equal(value, before[key]), key
    exp.teacher_bn_stats = "running"
    teacher = exp.get_teacher()
    got = exp.get_distiller(teacher).teacher_targets(teacher, images).maps["stems"]
    assert all(torch.allclose(got[lvl], evald[lvl]) for lvl in ref)
    exp.teacher_bn_stats = "train"
    with pytest.raises(ValueError, match="teacher_bn_stats='train' must be one of \\('running', 'batch'\\)"):
        exp.check_config()

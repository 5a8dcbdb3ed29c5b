"""FGDExp: per-level hyper-parameters, the optimizer over student + FGD modules."""
import pytest

from tests.conftest import TINY_FGD_EXP, make_trainer
from yolox_fgd.exp.build import load_exp


def test_level_overrides_apply_to_their_level_only():
    exp = load_exp(TINY_FGD_EXP)
    exp.fgd_level_overrides = {"p5": {"alpha": 1e-4, "lambda": 0.0}}
    assert exp.fgd_params("p5")["alpha"] == 1e-4 and exp.fgd_params("p5")["lambda_"] == 0.0
    assert exp.fgd_params("p3")["alpha"] == exp.fgd_alpha
    losses = exp.get_fgd_losses({"p3": 8, "p4": 16, "p5": 32}, {"p3": 16, "p4": 32, "p5": 64})
    assert losses["p5"].alpha == 1e-4 and losses["p4"].alpha == exp.fgd_alpha
    exp.fgd_level_overrides = {"p5": {"alpah": 1.0}}
    with pytest.raises(ValueError, match="unknown key 'alpah'"):
        exp.fgd_params("p5")
    exp.fgd_level_overrides = {"p6": {}}
    with pytest.raises(ValueError, match=r"fgd_level_overrides names levels \['p6'\]"):
        exp.check_config()


def test_unknown_projector_is_refused_by_the_experiment():
    exp = load_exp(TINY_FGD_EXP)
    exp.fgd_projector = "mlp"
    exp.check_config()
    assert exp.fgd_params("p3")["projector"] == "mlp"
    exp.fgd_projector = "MLP"
    with pytest.raises(ValueError, match=r"fgd_projector='MLP' must be one of \('conv1x1', 'mlp'\)"):
        exp.check_config()


@pytest.mark.parametrize("projector", ["conv1x1", "mlp"])
def test_optimizer_holds_student_and_fgd_but_not_teacher(tmp_path, tiny_data, tiny_teacher_ckpt, restore_std,
                                                         projector):
    """Every parameter of the student and the FGD modules is optimised, none of the teacher's;
    the mlp projector's BatchNorm weights are in the no-decay group, as YOLOX's norms."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "fgd_projector", projector,
                           batch=4)
    model = trainer.build_model()
    opt = trainer.exp.get_optimizer(4, model)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_opt == {id(p) for p in model.parameters()}
    assert not in_opt & {id(p) for p in trainer.teacher.parameters()}
    assert [g.get("weight_decay", 0) for g in opt.param_groups] == [0, trainer.exp.weight_decay, 0]
    if projector == "mlp":
        no_decay = {id(p) for p in opt.param_groups[0]["params"]}
        for loss in model.terms["fgd"].losses.values():
            assert id(loss.align[1].weight) in no_decay


def test_fgd_modules_lr_mult_gives_the_fgd_modules_their_own_groups(tmp_path, tiny_data, tiny_teacher_ckpt,
                                                                   restore_std):
    """``fgd_modules_lr_mult`` puts the FGD modules in three groups of their own (YOLOX's decay
    rules) carrying ``lr_mult``; the student's groups carry none; a non-positive value is refused."""
    trainer = make_trainer(TINY_FGD_EXP, tmp_path, "teacher_ckpt", tiny_teacher_ckpt, "fgd_modules_lr_mult", 50,
                           batch=4)
    model = trainer.build_model()
    opt = trainer.exp.get_optimizer(4, model)
    assert [g.get("lr_mult", 1.0) for g in opt.param_groups] == [1.0, 1.0, 1.0, 50.0, 50.0, 50.0]
    assert [g.get("weight_decay", 0) for g in opt.param_groups] == [0, trainer.exp.weight_decay, 0] * 2
    fgd = {id(p) for g in opt.param_groups[3:] for p in g["params"]}
    assert fgd == {id(p) for p in model.terms["fgd"].losses.parameters()}
    trainer.exp.fgd_modules_lr_mult = 0
    with pytest.raises(ValueError, match="fgd_modules_lr_mult must be positive, got 0"):
        trainer.exp.check_config()


def test_unknown_tap_and_negative_head_kd_weight_are_refused():
    """fgd_tap takes the head's branches (cls_convs, reg_convs) besides stems and pafpn; the head
    output distillation's weight is off at 0 and refused below it."""
    exp = load_exp(TINY_FGD_EXP)
    assert exp.head_kd_weight == 0
    for tap in ("cls_convs", "reg_convs", "pafpn", "stems"):
        exp.fgd_tap = tap
        exp.check_config()
    exp.fgd_tap = "cls_preds"
    with pytest.raises(ValueError, match=r"fgd_tap='cls_preds' must be one of \('stems', 'pafpn', 'cls_convs', 'reg_convs'\)"):
        exp.check_config()
    exp.fgd_tap = "stems"
    exp.head_kd_weight = -1
    with pytest.raises(ValueError, match="head_kd_weight must be >= 0 \\(0: off\\), got -1"):
        exp.check_config()
    # the boxes' weight lives inside the head output distillation: without it, it is refused by name
    exp.head_kd_weight, exp.head_kd_box_weight = 0, 1
    with pytest.raises(ValueError, match="head_kd_box_weight 1 weighs the boxes .* set head_kd_weight > 0 too"):
        exp.check_config()
    exp.head_kd_weight = 3
    exp.check_config()
    exp.head_kd_box_weight = -0.5
    with pytest.raises(ValueError, match="head_kd_box_weight must be >= 0"):
        exp.check_config()
    exp.head_kd_box_weight = float("nan")  # NaN is refused too, not silently off
    with pytest.raises(ValueError, match="head_kd_box_weight must be >= 0"):
        exp.check_config()
    for bad in (0, float("nan")):
        exp.head_kd_box_weight, exp.head_kd_temperature = 0, bad
        with pytest.raises(ValueError, match="head_kd_temperature must be > 0"):
            exp.check_config()
    exp.head_kd_temperature, exp.head_kd_box_weighting = 1, "giou"
    with pytest.raises(ValueError, match="head_kd_box_weighting='giou' must be one of \\('objectness', 'score'\\)"):
        exp.check_config()
    exp.head_kd_box_weighting = "score"
    for bad in (100, (96,), (96, 0), "96", True):
        exp.head_kd_teacher_size = bad
        with pytest.raises(ValueError, match="head_kd_teacher_size=.* must be None or an input size"):
            exp.check_config()
    exp.head_kd_teacher_size = 96
    exp.check_config()
    assert exp.head_kd_teacher_size == (96, 96)  # one int: a square size
    exp.head_kd_weight, exp.head_kd_box_weight = 0, 0
    with pytest.raises(ValueError, match="head_kd_teacher_size \\(96, 96\\) sets where the teacher .* set head_kd_weight > 0"):
        exp.check_config()
    exp.head_kd_teacher_size = None
    exp.check_config()
    exp.teacher_assignment, exp.batched_assignment = True, True
    with pytest.raises(ValueError, match="teacher_assignment works on YOLOX's own per-image assignment"):
        exp.check_config()
    exp.teacher_assignment, exp.batched_assignment = "yes", False
    with pytest.raises(ValueError, match="teacher_assignment must be True or False, got 'yes'"):
        exp.check_config()


@pytest.mark.parametrize("opts, message", [
    (("crosskd_weight", -1.0), "crosskd_weight must be >= 0"),
    (("distill_no_aug_factor", -0.5), "distill_no_aug_factor must be >= 0"),
    (("distill_no_aug_factor", float("nan")), "distill_no_aug_factor must be >= 0"),
    (("crosskd_weight", 1.0, "head_kd_weight", 1.0, "head_kd_teacher_size", 96), "does not combine with head_kd_teacher_size"),
])
def test_cross_head_config_errors_are_named(opts, message):
    """crosskd_weight: refused below 0, and with head_kd_teacher_size (the cross-head predictions
    are on the student's grid, from the teacher's maps at the student's input size);
    distill_no_aug_factor: refused below 0 and as NaN."""
    exp = load_exp(TINY_FGD_EXP)
    for key, value in zip(opts[::2], opts[1::2]):
        setattr(exp, key, value)
    with pytest.raises(ValueError, match=message):
        exp.check_config()


def test_box_weights_need_their_own_distillation_and_old_names_are_refused():
    """head_kd_box_weight weighs the boxes inside the head output distillation and needs
    head_kd_weight > 0; crosskd_box_weight the same inside the cross-head distillation (each has
    its own box weight, weighting and temperature). The schedule options renamed distill_* are
    refused under their old fgd_* names, on the command line and in an experiment file, with the
    new name."""
    exp = load_exp(TINY_FGD_EXP)
    exp.head_kd_box_weight = 5.0
    exp.crosskd_weight = 1.0
    with pytest.raises(ValueError, match="head_kd_box_weight 5.0 weighs the boxes inside the head output .*head_kd_weight"):
        exp.check_config()
    exp.head_kd_box_weight, exp.crosskd_box_weight, exp.crosskd_weight = 0.0, 2.0, 0.0
    with pytest.raises(ValueError, match="crosskd_box_weight 2.0 weighs the boxes inside the cross-head .*crosskd_weight"):
        exp.check_config()
    exp.crosskd_weight, exp.crosskd_box_weighting = 1.0, "iou"
    with pytest.raises(ValueError, match="crosskd_box_weighting='iou' must be one of"):
        exp.check_config()
    exp.crosskd_box_weighting = "score"
    exp.check_config()
    with pytest.raises(ValueError, match="'fgd_no_aug_factor' is now 'distill_no_aug_factor'"):
        exp.merge(["fgd_no_aug_factor", "3"])
    exp.fgd_stop_epoch = 3  # what an experiment file written before the renaming sets
    with pytest.raises(ValueError, match="'fgd_stop_epoch' is now 'distill_stop_epoch'"):
        exp.check_config()


def test_the_teacher_takes_the_students_class_count(tmp_path, tiny_teacher_ckpt):
    """A teacher named by YOLOX model name (COCO's 80 classes in YOLOX) or given as an experiment
    file is built with the student's num_classes (one count for one dataset, also when given on
    the command line); a teacher checkpoint of another class count is still refused, naming both."""
    from yolox_fgd.utils.checkpoint import CheckpointError

    exp = load_exp(TINY_FGD_EXP)
    exp.merge(["num_classes", "3"])
    assert exp.get_teacher_exp().num_classes == 3
    exp.teacher_exp = "yolox-nano"
    assert exp.get_teacher_exp().num_classes == 3
    exp = load_exp(TINY_FGD_EXP)
    exp.merge(["num_classes", "4", "teacher_ckpt", str(tiny_teacher_ckpt)])  # a 6-class teacher
    with pytest.raises(CheckpointError, match="the checkpoint predicts 6 classes, the student 4"):
        exp.get_teacher()


def test_distillation_summary_names_what_teaches():
    """The demo's label of a distilled student names the terms that are on: the head outputs with
    their weights, FGD only when one of its weights is not 0, and the mosaic-free factor."""
    exp = load_exp(TINY_FGD_EXP)
    assert exp.distillation_summary() == "FGD (stems maps, alpha 0.002)"
    exp.head_kd_weight, exp.head_kd_box_weight, exp.distill_no_aug_factor = 2.5, 7.5, 3.0
    exp.fgd_alpha = exp.fgd_beta = exp.fgd_gamma = exp.fgd_lambda = 0.0
    assert exp.distillation_summary() == "head outputs (objectness and classes 2.5, boxes 7.5); x3 without mosaic"

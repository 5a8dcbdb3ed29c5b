"""The Distiller on its own (real tiny YOLOX student and teacher, no trainer): how the total loss
is composed from the terms, what the schedule's factor and FGD's calibration scale, which teacher
outputs are computed, and the optimizer groups it gives."""
import pytest
import torch
from torch import nn

from tests.conftest import TINY_FGD_EXP
from yolox_fgd.distill.distiller import Distiller
from yolox_fgd.distill.features import distilled_maps, head_logits
from yolox_fgd.distill.teacher import TeacherModel
from yolox_fgd.exp.build import load_exp

TERM_OPTS = {  # options that switch each term on (FGD is always there)
    "head_kd": {"head_kd_weight": 2.0, "head_kd_box_weight": 1.5},
    "crosskd": {"crosskd_weight": 0.5, "crosskd_box_weight": 3.0},
}


def build(terms=(), **opts):
    """A Distiller of the tiny FGD experiment with the named extra terms, its teacher, a batch."""
    exp = load_exp(TINY_FGD_EXP)
    exp.fgd_alpha, exp.fgd_beta, exp.fgd_gamma, exp.fgd_lambda = 2e-2, 1e-2, 1e-2, 1e-3
    for term in terms:
        for key, value in TERM_OPTS[term].items():
            setattr(exp, key, value)
    for key, value in opts.items():
        setattr(exp, key, value)
    exp.check_config()
    torch.manual_seed(0)
    student = exp.get_model()
    teacher_exp = exp.get_teacher_exp()
    teacher = TeacherModel(teacher_exp.get_model(), teacher_exp, None)
    distiller = exp.get_distiller(teacher)
    distiller.attach()
    images = torch.rand(2, 3, 64, 64) * 255
    targets = torch.zeros(2, 4, 5)
    targets[0, 0] = torch.tensor([1, 20, 24, 16, 20])
    targets[0, 1] = torch.tensor([3, 44, 40, 12, 10])
    targets[1, 0] = torch.tensor([0, 32, 32, 30, 28])
    return exp, student, teacher, distiller, images, targets


@pytest.mark.parametrize("terms", [(), ("head_kd",), ("crosskd",), ("head_kd", "crosskd")])
def test_total_loss_is_detection_plus_each_weighted_term(terms):
    """total_loss = detection + w * FGD + w * head_kd_weight * head_kd + w * crosskd_weight *
    crosskd for the terms that are on (and only their keys are there); FGD's total is the sum of
    its levels' FGDLoss on the student's and teacher's maps computed outside the Distiller; the
    head output term is head_kd_weight * (obj + cls + box_weight * box) of its logged terms."""
    exp, student, teacher, distiller, images, targets = build(terms)
    w = 0.75
    with torch.no_grad():
        plain = student(images, targets)["total_loss"]
        s_maps = distilled_maps(student, images, exp.fgd_tap, exp.fgd_levels)
        t_maps = distilled_maps(teacher.model, images, exp.fgd_tap, exp.fgd_levels)
        fgd = sum(distiller.terms["fgd"].losses[lvl](s_maps[lvl], t_maps[lvl], targets, (64, 64))["loss"]
                  for lvl in exp.fgd_levels)
        out = distiller(images, targets, distiller.teacher_targets(teacher, images), w)
    assert list(distiller.terms) == ["fgd", *terms]
    assert torch.allclose(out["fgd_loss"], w * fgd, rtol=1e-5)
    expected = plain + out["fgd_loss"]
    for name in ("head_kd", "crosskd"):
        assert (f"{name}_loss" in out) == (name in terms)
        if name in terms:
            weight, box_weight = TERM_OPTS[name][f"{name}_weight"], TERM_OPTS[name][f"{name}_box_weight"]
            raw = out[f"{name}_obj"] + out[f"{name}_cls"] + box_weight * out[f"{name}_box"]
            assert out[f"{name}_loss"] > 0 and torch.allclose(out[f"{name}_loss"], w * weight * raw, rtol=1e-5)
            expected = expected + out[f"{name}_loss"]
    assert torch.allclose(out["total_loss"], expected, rtol=1e-6)
    assert all(v.dim() == 0 for v in out.values() if torch.is_tensor(v)), "every loss-dict value is a scalar"
    assert distiller.log_decimals["fgd_loss_p3"] == 4 and distiller.log_decimals.get("head_kd_loss", 1) == 1


def test_schedule_factor_scales_every_term_and_calibration_scales_fgd_only():
    """The schedule's factor multiplies every term and nothing of the detection loss; FGD's
    calibration holds FGD (only) at 0 while it measures, then multiplies FGD (only) by the scale
    it fixed: min(cls, iou) / smallest weighted FGD term."""
    exp, student, teacher, distiller, images, targets = build(("head_kd", "crosskd"), fgd_calibrate_iters=2)
    teacher_targets = distiller.teacher_targets(teacher, images)

    def step(weight):
        with torch.no_grad():
            return distiller(images, targets, teacher_targets, weight)

    first = step(1.0)
    assert first["fgd_loss"] == 0 and first["head_kd_loss"] > 0 and first["crosskd_loss"] > 0
    second = step(2.0)  # the calibration's second and last measuring step: FGD still 0
    assert second["fgd_loss"] == 0
    for name in ("head_kd", "crosskd"):
        assert torch.allclose(second[f"{name}_loss"], 2 * first[f"{name}_loss"], rtol=1e-5)
    assert torch.allclose(second["total_loss"] - second["head_kd_loss"] - second["crosskd_loss"],
                          first["total_loss"] - first["head_kd_loss"] - first["crosskd_loss"], rtol=1e-5)
    calibration = distiller.terms["fgd"].calibration
    assert calibration.done
    raw = {lvl: distiller.terms["fgd"].losses[lvl] for lvl in exp.fgd_levels}
    with torch.no_grad():
        s_maps = distilled_maps(student, images, exp.fgd_tap, exp.fgd_levels)
        terms = [raw[lvl](s_maps[lvl], teacher_targets.maps[exp.fgd_tap][lvl], targets, (64, 64)) for lvl in raw]
    weighted = {k: sum(float(t[f"weighted_{k}"]) for t in terms) for k in ("fg", "bg", "attention", "rela")}
    smallest = min(v for v in weighted.values() if v > 0)
    scale = min(float(first["cls_loss"]), float(first["iou_loss"])) / smallest
    assert calibration.scale == pytest.approx(scale, rel=1e-4)
    third = step(0.5)
    assert torch.allclose(third["fgd_loss"], 0.5 * scale * sum(t["loss"] for t in terms), rtol=1e-4)
    assert torch.allclose(third["head_kd_loss"], 0.5 * first["head_kd_loss"], rtol=1e-5)


@pytest.mark.parametrize("terms, assignment, needs", [
    ((), False, {"maps"}),
    (("head_kd",), False, {"maps", "head_outputs"}),
    (("crosskd",), False, {"maps", "head_outputs", "branch_maps"}),
    ((), True, {"maps", "head_outputs"}),
])
def test_teacher_targets_hold_what_the_terms_need_only(terms, assignment, needs):
    """The teacher computes its maps at FGD's tap always, its head outputs only for the head
    output or cross-head term or the teacher assignment, its branch maps (and hands over its
    head) only for the cross-head term; the head outputs equal head_logits on the same batch."""
    exp, _, teacher, distiller, images, _ = build(terms, teacher_assignment=assignment)
    assert distiller.teacher_needs() == needs
    got = distiller.teacher_targets(teacher, images)
    assert list(got.maps) == [exp.fgd_tap] and list(got.maps[exp.fgd_tap]) == list(exp.fgd_levels)
    assert (got.head_outputs is not None) == ("head_outputs" in needs)
    assert (got.branch_maps is not None) == ("branch_maps" in needs) == (got.head is teacher.model.head)
    if got.head_outputs is not None:
        with torch.no_grad():
            ref = head_logits(teacher.model, teacher.model.backbone(images))
        assert all(torch.equal(a, b) for lvl in ref for a, b in zip(ref[lvl], got.head_outputs[lvl]))
    assert not torch.is_grad_enabled() or all(not t.requires_grad for t in got.maps[exp.fgd_tap].values())


def test_forward_before_attach_and_optimizer_groups_are_checked():
    """The Distiller refuses a forward before attach(); its parts give the optimizer every
    trainable parameter exactly once (the FGD modules at their lr multiple); a module whose
    parameter is not a weight or bias, or a parameter in two parts, is refused by name."""
    from yolox_fgd.models.param_groups import LR_MULT, sgd_param_groups

    exp, student, teacher, distiller, images, targets = build(("crosskd",), fgd_modules_lr_mult=10.0)
    distiller.detach()
    with pytest.raises(RuntimeError, match="attach"):
        distiller(images, targets, distiller.teacher_targets(teacher, images))
    opt = exp.get_optimizer(8, distiller)
    grouped = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in distiller.parameters()) and len(set(grouped)) == len(grouped)
    assert [g.get(LR_MULT, 1.0) for g in opt.param_groups] == [1.0] * 3 + [10.0] * 3 + [1.0] * 3
    extra = nn.Module()
    extra.scale = nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match=r"in no group \['1.scale'\]"):
        sgd_param_groups([(student, 1.0), (extra, 1.0)], 0.01, 5e-4)
    with pytest.raises(ValueError, match="or in two"):
        sgd_param_groups([(student, 1.0), (student.head, 2.0)], 0.01, 5e-4)

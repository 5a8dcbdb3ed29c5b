"""FeatureHooks: by name, unwraps .module, clears after reading, loud on a missing name."""
import pytest
import torch
from torch import nn

from yolox_fgd.distill.features import FeatureHooks


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.backbone(x)


def test_capture_pop_clear_and_remove():
    net = Net()
    hooks = FeatureHooks({"s": (net, "backbone")})
    out = net(torch.randn(1, 3, 2, 2))
    assert torch.equal(hooks.pop("s"), out)
    with pytest.raises(RuntimeError, match="no output captured for 's'"):
        hooks.pop("s")
    hooks.remove()
    net(torch.randn(1, 3, 2, 2))
    assert not hooks.active and not net.backbone._forward_hooks


def test_unwraps_module_wrapper():
    wrapper = nn.Module()
    wrapper.module = Net()
    hooks = FeatureHooks({"s": (wrapper, "backbone")})
    wrapper.module(torch.randn(1, 3, 2, 2))
    assert hooks.pop("s").shape == (1, 4, 2, 2)


def test_missing_name_is_named():
    with pytest.raises(KeyError, match="no module named 'neck' to hook for 's'.*backbone"):
        FeatureHooks({"s": (Net(), "neck")})


def tiny_yolox(width=0.125):
    from yolox_fgd.exp.build import load_exp
    from tests.conftest import TINY_EXP

    exp = load_exp(TINY_EXP)
    exp.width = width
    torch.manual_seed(0)
    return exp.get_model()


def test_hooks_deep_copied_with_the_model_record_only_the_original():
    """YOLOX's ModelEMA deep-copies the model, hooks included: a forward of the copy (evaluation
    of the EMA) records nothing and leaves the original's capture in place."""
    from yolox.utils import ModelEMA

    from yolox_fgd.distill.features import StudentTap

    model = tiny_yolox().eval()
    tap = StudentTap(model, "stems", ("p3", "p4", "p5"))
    ema = ModelEMA(model, 0.99)
    assert ema.ema.head.stems[0]._forward_hooks  # the copy carries the hook ...
    x = torch.randn(2, 3, 64, 64)
    model(x)
    ema.ema(torch.randn(2, 3, 64, 64))  # ... but it does not record
    captured = tap.pop()
    assert torch.equal(captured["p3"], model.head.stems[0](model.backbone(x)[0]))
    tap.hooks.clear()  # the reference forward just above was recorded
    ema.ema(x)
    with pytest.raises(RuntimeError, match="no output captured for 'p3'"):
        tap.pop()


def test_stems_tap_gives_what_the_head_consumes_with_its_graph():
    """tap "stems": the captured student maps are the outputs of head.stems[i] in the student's
    own training forward (same values as stems(backbone(x))), and a loss on them sends gradient
    into the stems' weights and the backbone."""
    from yolox_fgd.distill.features import StudentTap
    from yolox_fgd.losses import FGDLoss

    model = tiny_yolox().train()
    tap = StudentTap(model, "stems", ("p3", "p4", "p5"))
    x = torch.randn(2, 3, 64, 64)
    targets = torch.zeros(2, 5, 5)
    targets[:, 0] = torch.tensor([1.0, 30, 30, 20, 20])
    model(x, targets)
    maps = tap.pop()
    with torch.no_grad():
        fpn = model.backbone(x)
        for i, lvl in enumerate(("p3", "p4", "p5")):
            assert torch.allclose(maps[lvl], model.head.stems[i](fpn[i]), atol=1e-6)
            assert maps[lvl].shape[1] == model.head.stems[i].conv.out_channels == 32
    model.zero_grad()
    loss = FGDLoss(32, 64, ref_size=None)(maps["p4"], torch.randn(2, 64, 4, 4), targets, (64, 64))["loss"]
    loss.backward()
    assert model.head.stems[1].conv.weight.grad.abs().sum() > 0
    assert model.backbone.C3_n3.conv1.conv.weight.grad.abs().sum() > 0
    assert model.head.stems[0].conv.weight.grad is None or model.head.stems[0].conv.weight.grad.abs().sum() == 0
    tap.remove()


def test_teacher_maps_are_its_stems_in_eval_mode(tiny_teacher_ckpt):
    """distilled_maps(teacher, x, "stems") = teacher.head.stems[i](teacher.backbone(x)[i]) in eval
    mode; "pafpn" gives the backbone outputs; nothing of the rest of the head runs."""
    from yolox_fgd.distill.features import distilled_maps
    from yolox_fgd.distill.teacher import build_teacher
    from tests.conftest import TINY_TEACHER_EXP

    from yolox_fgd.exp.build import load_exp

    teacher = build_teacher(load_exp(TINY_TEACHER_EXP), tiny_teacher_ckpt, 6, "cpu")
    x = torch.randn(2, 3, 64, 64)
    calls = []
    teacher.model.head.cls_convs[0].register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        maps = distilled_maps(teacher.model, x, "stems", ("p3", "p4", "p5"))
        fpn = distilled_maps(teacher.model, x, "pafpn", ("p3", "p5"))
        m = teacher.model
        assert not m.training
        ref = m.backbone(x)
        for i, lvl in enumerate(("p3", "p4", "p5")):
            assert torch.equal(maps[lvl], m.head.stems[i](ref[i]))
        assert torch.equal(fpn["p5"], ref[2]) and set(fpn) == {"p3", "p5"}
    assert not calls


def test_yolox_m_from_yolox_l_has_the_official_fgd_shapes():
    """exps/fgd_yolox_m.py taps the stems: every level's FGDLoss has align 192 -> 256 and GcBlocks
    on 256 channels, so a state dict shaped like the official checkpoint's FGD modules
    (yzd-v/FGD, fgd_yoloxl_distill_yoloxm_coco.py) loads strictly."""
    from yolox.exp import get_exp

    from tests.conftest import REPO
    from yolox_fgd.distill.features import tap_channels
    from yolox_fgd.exp.build import load_exp

    exp = load_exp(f"{REPO}/exps/fgd_yolox_m.py")
    assert exp.fgd_tap == "stems"
    student, teacher = exp.get_model(), get_exp(None, "yolox-l").get_model()
    losses = exp.get_fgd_losses(tap_channels(student, "stems"), tap_channels(teacher, "stems"))
    official = {"align.weight": (256, 192, 1, 1), "align.bias": (256,)}
    for side in ("s", "t"):
        official.update({f"conv_mask_{side}.weight": (1, 256, 1, 1), f"conv_mask_{side}.bias": (1,),
                         f"channel_add_conv_{side}.0.weight": (128, 256, 1, 1), f"channel_add_conv_{side}.0.bias": (128,),
                         f"channel_add_conv_{side}.1.weight": (128, 1, 1), f"channel_add_conv_{side}.1.bias": (128, 1, 1),
                         f"channel_add_conv_{side}.3.weight": (256, 128, 1, 1), f"channel_add_conv_{side}.3.bias": (256,)})
    for lvl, loss in losses.items():
        result = loss.load_state_dict({k: torch.randn(shape) for k, shape in official.items()}, strict=True)
        assert not result.missing_keys and not result.unexpected_keys, lvl
    assert tap_channels(student, "pafpn") == {"p3": 192, "p4": 384, "p5": 768}


@pytest.mark.parametrize("tap,preds", [("cls_convs", "cls_preds"), ("reg_convs", "reg_preds")])
def test_head_branch_taps_give_what_the_predictions_read(tiny_teacher_ckpt, tap, preds):
    """taps "cls_convs" / "reg_convs": the student's captured maps are the branch outputs of its
    own training forward (what cls_preds / reg_preds read, with their graph: a loss on them
    reaches the branch, the stems and the backbone, not the other branch); the teacher's maps are
    branch(stems(backbone(x))) in eval mode; the channel count is the predictions' input width;
    reached_prefixes names the modules the gradient reaches."""
    from yolox_fgd.distill.features import StudentTap, distilled_maps, reached_prefixes, tap_channels
    from yolox_fgd.distill.teacher import build_teacher
    from yolox_fgd.exp.build import load_exp
    from tests.conftest import TINY_TEACHER_EXP

    model = tiny_yolox().train()
    student_tap = StudentTap(model, tap, ("p3", "p4", "p5"))
    x = torch.randn(2, 3, 64, 64)
    targets = torch.zeros(2, 5, 5)
    targets[:, 0] = torch.tensor([1.0, 30, 30, 20, 20])
    model(x, targets)
    maps = student_tap.pop()
    branch = getattr(model.head, tap)
    with torch.no_grad():
        fpn = model.backbone(x)
        for i, lvl in enumerate(("p3", "p4", "p5")):
            assert torch.allclose(maps[lvl], branch[i](model.head.stems[i](fpn[i])), atol=1e-6)
    assert tap_channels(model, tap) == {lvl: getattr(model.head, preds)[i].in_channels
                                        for i, lvl in enumerate(("p3", "p4", "p5"))} == {"p3": 32, "p4": 32, "p5": 32}
    model.zero_grad()
    maps["p4"].square().mean().backward()
    other = model.head.reg_convs if tap == "cls_convs" else model.head.cls_convs
    assert branch[1][0].conv.weight.grad.abs().sum() > 0
    assert model.head.stems[1].conv.weight.grad.abs().sum() > 0
    assert model.backbone.C3_n3.conv1.conv.weight.grad.abs().sum() > 0
    assert other[1][0].conv.weight.grad is None
    reached = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert all(n.startswith(reached_prefixes(tap)) for n in reached)
    assert reached_prefixes("pafpn") == ("backbone.",)
    student_tap.remove()

    teacher = build_teacher(load_exp(TINY_TEACHER_EXP), tiny_teacher_ckpt, 6, "cpu")
    with torch.no_grad():
        t_maps = distilled_maps(teacher.model, x, tap, ("p3", "p5"))
        m = teacher.model
        ref = m.backbone(x)
        assert torch.equal(t_maps["p5"], getattr(m.head, tap)[2](m.head.stems[2](ref[2])))
        assert set(t_maps) == {"p3", "p5"}

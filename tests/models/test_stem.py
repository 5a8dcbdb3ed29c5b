"""The stem switch: Focus and conv6 are the same function (exact conversion), conv3 is not."""
import pytest
import torch
from yolox.exp import get_exp
from yolox.utils import get_model_info

from tests.conftest import REPO, TINY_EXP, load_ckpt_file, refuse, run_tool
from yolox_fgd.exp.build import load_exp
from yolox_fgd.models.stem import (StemConversionError, convert_focus_state_dict, focus_weight_to_conv6, set_stem,
                                   stem_kind)


def _models(stem):
    exp = get_exp(None, "yolox-s")
    focus = exp.get_model().eval()
    other = set_stem(get_exp(None, "yolox-s").get_model(), stem).eval()
    return focus, other


def test_converted_conv6_model_gives_the_same_outputs():
    """Random Focus weights (and BN statistics) converted to conv6: outputs within 1e-4, eval mode."""
    torch.manual_seed(0)
    focus, conv6 = _models("conv6")
    with torch.no_grad():
        for m in focus.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    conv6.load_state_dict(convert_focus_state_dict(focus.state_dict()), strict=True)
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        a, b = focus(x), conv6(x)
        fa, fb = focus.backbone(x), conv6.backbone(x)
    assert (a - b).abs().max().item() <= 1e-4
    for u, v in zip(fa, fb):
        assert (u - v).abs().max().item() <= 1e-4


def test_focus_and_conv6_have_equal_params_and_flops_conv3_fewer():
    focus, conv6 = _models("conv6")
    _, conv3 = _models("conv3")
    info = [get_model_info(m, (640, 640)) for m in (focus, conv6, conv3)]
    assert info[0] == info[1]
    n = [sum(p.numel() for p in m.parameters()) for m in (focus, conv6, conv3)]
    assert n[0] == n[1] and n[2] == n[0] - 32 * (108 - 27)


def test_weight_mapping_is_the_space_to_depth_order():
    """Group 1 of Focus is bottom-left: it lands on odd rows and even columns of the 6x6 kernel."""
    w = torch.zeros(1, 12, 3, 3)
    w[0, 3 + 2, 1, 0] = 1.0  # group 1 (bottom-left), input channel 2, kernel row 1, col 0
    w6 = focus_weight_to_conv6(w)
    assert w6[0, 2, 2 * 1 + 1, 2 * 0 + 0] == 1.0 and w6.sum() == 1.0


def test_exp_stem_attribute_applies_to_students_and_teachers(tiny_data):
    exp = load_exp(TINY_EXP)
    exp.stem = "conv3"
    assert stem_kind(exp.get_model()) == "conv3"
    fgd = load_exp(f"{REPO}/exps/fgd_yolox_m_conv6.py")
    assert fgd.stem == "conv6" and stem_kind(fgd.get_model()) == "conv6"
    exp = load_exp(TINY_EXP)
    exp.stem = "conv5"
    with pytest.raises(ValueError, match="unknown stem 'conv5'"):
        exp.check_config()


def test_convert_tool_keeps_other_keys_and_refuses_bad_input(tmp_path):
    focus, conv6 = _models("conv6")
    src = tmp_path / "focus.pth"
    opt = torch.optim.SGD(focus.parameters(), lr=0.1, momentum=0.9)
    focus.train()
    focus.head.use_l1 = False
    (focus.backbone(torch.randn(1, 3, 64, 64))[0].mean()).backward()
    opt.step()
    torch.save({"model": focus.state_dict(), "optimizer": opt.state_dict(), "start_epoch": 7, "best_ap": 0.3}, src)
    out = tmp_path / "conv6.pth"
    res = run_tool("convert_stem", "--ckpt", src, "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    ckpt = load_ckpt_file(out)
    assert ckpt["start_epoch"] == 7 and ckpt["best_ap"] == 0.3
    conv6.load_state_dict(ckpt["model"], strict=True)
    shapes = [tuple(s["momentum_buffer"].shape) for s in ckpt["optimizer"]["state"].values()]
    assert (32, 3, 6, 6) in shapes and (32, 12, 3, 3) not in shapes

    assert "already converted" in refuse("convert_stem", "--ckpt", out, "--out", tmp_path / "twice.pth")
    with pytest.raises(StemConversionError, match="no Focus stem"):
        convert_focus_state_dict({"foo": torch.zeros(1)})

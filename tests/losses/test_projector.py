"""The student-side projection of FGD: the paper's 1x1 align and the "mlp" projector."""
import pytest
import torch

from tests.losses.test_fgd import rand_case
from yolox_fgd.losses import FGDLoss
from yolox_fgd.losses.projector import make_projector


def test_conv1x1_is_the_papers_align_and_absent_for_equal_widths():
    """The paper's projection: a 1x1 conv with a bias when the widths differ, none when equal."""
    proj = make_projector("conv1x1", 8, 16)
    assert isinstance(proj, torch.nn.Conv2d) and proj.kernel_size == (1, 1) and proj.bias is not None
    assert make_projector("conv1x1", 16, 16) is None


@pytest.mark.parametrize("cs, ct", [(8, 16), (16, 16)])
def test_mlp_maps_student_width_to_teacher_width_and_keeps_the_grid(cs, ct):
    """The mlp projector exists for any widths and maps (N, Cs, H, W) to (N, C, H, W)."""
    proj = make_projector("mlp", cs, ct)
    assert proj(torch.randn(2, cs, 5, 7)).shape == (2, ct, 5, 7)


def test_unknown_projector_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"projector must be one of \('conv1x1', 'mlp'\), got 'linear'"):
        make_projector("linear", 8, 16)
    with pytest.raises(ValueError, match="projector must be one of"):
        FGDLoss(8, 16, projector="linear")


def test_default_state_dict_keeps_the_official_align_keys():
    """The default loads official FGD state dicts: ``align.weight``/``align.bias``; the mlp
    projector's parameters live under ``align.0`` .. ``align.3``."""
    assert {"align.weight", "align.bias"} <= set(FGDLoss(8, 16).state_dict())
    keys = set(FGDLoss(8, 16, projector="mlp").state_dict())
    assert {"align.0.weight", "align.1.weight", "align.1.running_mean", "align.3.weight", "align.3.bias"} <= keys
    assert "align.weight" not in keys


@pytest.mark.parametrize("feature_norm", [False, True])
def test_mlp_projector_trains_and_passes_gradient_to_the_student(feature_norm):
    """With the mlp projector the loss is finite and backward reaches the student map and
    every projector parameter."""
    s, t, tg, size = rand_case(cs=8, ct=16)
    s.requires_grad_(True)
    loss = FGDLoss(8, 16, ref_size=None, projector="mlp", feature_norm=feature_norm)
    out = loss(s, t, tg, size)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    for name, p in loss.align.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name

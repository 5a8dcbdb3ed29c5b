"""The projection fit: per-channel correlation of the projected student map with the teacher's."""
import torch

from tests.conftest import TINY_TEACHER_EXP
from yolox_fgd.distill.projection_fit import channel_correlation, projection_fit
from yolox_fgd.exp.build import load_exp
from yolox_fgd.losses import FGDLoss


def test_channel_correlation_ignores_scale_and_offset_and_sees_sign():
    """Per channel over (N, H, W): an affine copy correlates 1, a negated copy -1, independent
    noise about 0; a constant teacher channel is NaN (nothing to fit), a constant student
    channel against a varying teacher one 0."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 5, 8, 8, generator=g)
    b = torch.stack([a[:, 0] * 5 + 2, -a[:, 1], torch.randn(4, 8, 8, generator=g), torch.full((4, 8, 8), 3.0),
                     a[:, 4]], dim=1)
    a[:, 4] = 1.5
    corr = channel_correlation(a, b)
    assert abs(corr[0].item() - 1) < 1e-12 and abs(corr[1].item() + 1) < 1e-12
    assert abs(corr[2].item()) < 0.2
    assert corr[3].isnan() and corr[4].item() == 0.0


def test_a_student_identical_to_its_teacher_fits_perfectly_and_a_random_projection_does_not():
    """Student = teacher without projection (equal widths): correlation 1 on every channel of
    every level; through a random 1x1 projection (the paper's align at its initialisation) the
    correlation is far from 1."""
    torch.manual_seed(0)
    teacher = load_exp(TINY_TEACHER_EXP).get_model()
    images = [torch.rand(2, 3, 64, 64) * 255 for _ in range(2)]
    widths = {"p3": 64, "p4": 128, "p5": 256}
    same = {lvl: FGDLoss(c, c) for lvl, c in widths.items()}
    fit = projection_fit(teacher, teacher, same, images, "pafpn")
    for lvl, row in fit.items():
        assert row["channels"] + row["constant"] == widths[lvl] and row["channels"] > 0.9 * widths[lvl]
        assert abs(row["corr_mean"] - 1) < 1e-6 and row["corr_above_half"] == 1.0
    projected = {lvl: FGDLoss(c, c, projector="mlp") for lvl, c in widths.items()}
    fit = projection_fit(teacher, teacher, projected, images, "pafpn")
    assert all(row["corr_mean"] < 0.9 for row in fit.values())

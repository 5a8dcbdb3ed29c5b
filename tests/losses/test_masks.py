"""build_masks paints FGD's masks as the official code does, for the whole batch at once."""
import pytest
import torch

from yolox_fgd.losses import build_masks


def box(x1, y1, x2, y2, cls=0.0):
    """A YOLOX target row (class, cx, cy, w, h) from corners."""
    return [cls, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]


def targets(*images, rows=4):
    t = torch.zeros(len(images), rows, 5, dtype=torch.float64)
    for i, boxes in enumerate(images):
        for j, b in enumerate(boxes):
            t[i, j] = torch.tensor(b, dtype=torch.float64)
    return t


def test_inclusive_dilation_and_area():
    """A box 1..3 x 2..4 on an 8x8 map of a 64x64 input (stride 8) paints rows 2..4 and cols 1..3
    inclusive: x' = 8/8..24/8 -> wmin=1, wmax=3; y' = 16/8..32/8 -> hmin=2, hmax=4, so the value is
    1 / ((4+1-2) * (3+1-1)) = 1/9 on 3x3 = 9 cells."""
    t = targets([box(8, 16, 24, 32)])
    fg, bg = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    expected = torch.zeros(8, 8, dtype=torch.float64)
    expected[2:5, 1:4] = 1 / 9
    assert torch.allclose(fg[0], expected)
    # background: 64 - 9 = 55 cells, each 1/55
    assert torch.allclose(bg[0][fg[0] == 0], torch.full((55,), 1 / 55, dtype=torch.float64))
    assert (bg[0][fg[0] > 0] == 0).all()


def test_fractional_box_covers_one_more_cell():
    """x' in [1.5, 2.5] gives floor 1 and ceil 3: cols 1..3 (3 cells) for a box 1 cell wide."""
    t = targets([box(12, 12, 20, 20)])  # /8 -> 1.5 .. 2.5
    fg, _ = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    assert (fg[0] > 0).sum().item() == 9
    assert torch.allclose(fg[0][1:4, 1:4], torch.full((3, 3), 1 / 9, dtype=torch.float64))


def test_overlap_takes_max_smaller_box_wins():
    """A 1/16 box (rows/cols 0..3) and a 1/4 box (rows/cols 2..3) overlap: the overlap holds 1/4."""
    t = targets([box(0, 0, 24, 24), box(16, 16, 24, 24)])
    fg, _ = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    assert fg[0, 0, 0].item() == pytest.approx(1 / 16)
    assert fg[0, 2, 2].item() == pytest.approx(1 / 4)
    assert fg[0, 3, 3].item() == pytest.approx(1 / 4)
    assert fg[0, 1, 3].item() == pytest.approx(1 / 16)


def test_edge_box_uses_unclipped_area():
    """A box reaching the bottom-right corner: hmax = ceil(8) = 8 is off the 8x8 map; cells 6..7
    are painted (clipped) but the value is 1/((8+1-6)*(8+1-6)) = 1/9 from the unclipped extent."""
    t = targets([box(48, 48, 64, 64)])
    fg, _ = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    assert (fg[0] > 0).sum().item() == 4
    assert fg[0, 7, 7].item() == pytest.approx(1 / 9)


def test_empty_image_and_padding_rows():
    """An image without boxes has M_fg = 0 and M_bg = 1/(H*W); zero padding rows paint nothing."""
    t = targets([box(8, 8, 16, 16)], [])
    fg, bg = build_masks(t, (4, 5), (32, 40), dtype=torch.float64)
    assert (fg[1] == 0).all()
    assert torch.allclose(bg[1], torch.full((4, 5), 1 / 20, dtype=torch.float64))
    assert bg[0].sum().item() == pytest.approx(1.0)


def test_full_image_box_gives_zero_background():
    """A box covering the whole input leaves no background cell: M_bg is 0, not NaN."""
    t = targets([box(0, 0, 64, 64)])
    fg, bg = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    assert (fg[0] > 0).all()
    assert (bg[0] == 0).all() and torch.isfinite(bg).all()


def test_non_square_map_scales_each_axis():
    """x scales by W/input_w and y by H/input_h separately (input 32x64 -> map 4x8)."""
    t = targets([box(8, 8, 16, 16)])
    fg, _ = build_masks(t, (4, 8), (32, 64), dtype=torch.float64)
    # x' = 1..2 -> cols 1..2 ; y' = 1..2 -> rows 1..2 ; area 4
    assert torch.nonzero(fg[0]).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]


def test_per_gt_foreground_sums_to_one():
    """Hypothesis 1: with 1 or 3 disjoint boxes, each image's foreground sums to 1."""
    t = targets([box(0, 0, 8, 8)], [box(0, 0, 8, 8), box(24, 24, 40, 40), box(48, 0, 56, 24)])
    fg_paper, _ = build_masks(t, (8, 8), (64, 64), dtype=torch.float64)
    fg_gt, _ = build_masks(t, (8, 8), (64, 64), fg_norm="per_gt", dtype=torch.float64)
    assert fg_paper[1].sum().item() == pytest.approx(3.0)
    assert fg_gt[0].sum().item() == pytest.approx(1.0)
    assert fg_gt[1].sum().item() == pytest.approx(1.0)


def test_unknown_norm_rejected():
    with pytest.raises(ValueError, match="fg_norm"):
        build_masks(torch.zeros(1, 1, 5), (2, 2), (64, 64), fg_norm="sum")

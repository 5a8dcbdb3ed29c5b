"""DistillWeight (the factor on all distillation at each iteration) and LossCalibration (FGD's scale)."""
import math

import pytest
import torch

from yolox_fgd.distill.schedule import DistillWeight, LossCalibration


def test_warmup_ramps_linearly():
    w = DistillWeight(iters_per_epoch=2, max_epoch=3, warmup_iters=4)
    assert [w(i) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_decay_goes_from_one_to_final():
    """YOLOv6 / DAMO-YOLO style: 1 at the first iteration, the final value at the last, the
    midpoint of the two halfway."""
    w = DistillWeight(iters_per_epoch=5, max_epoch=2, decay="cosine", decay_final=0.1)
    values = [w(i) for i in range(10)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values, values[1:]))
    mid = DistillWeight(iters_per_epoch=1, max_epoch=3, decay="cosine", decay_final=0.0)(1)
    assert mid == pytest.approx(0.5)


def test_stop_epoch_is_one_based_and_final():
    """mmyolo's StopDistillHook: from epoch stop_epoch (1-based) on, no distillation."""
    w = DistillWeight(iters_per_epoch=4, max_epoch=5, stop_epoch=3)
    assert [w(i) for i in (0, 7)] == [1.0, 1.0]
    assert [w(i) for i in (8, 19)] == [0.0, 0.0]


def test_no_aug_factor_multiplies_from_the_mosaic_free_epoch_on():
    """From epoch no_aug_epoch (1-based) on the factor is multiplied (2: the teacher weighs twice
    where mosaic is off; 0: StopDistillHook there); with the warm-up it multiplies, the stop
    epoch still wins; a negative factor is refused."""
    w = DistillWeight(iters_per_epoch=4, max_epoch=5, no_aug_epoch=4, no_aug_factor=2.0)
    assert [w(i) for i in (0, 11, 12, 19)] == [1.0, 1.0, 2.0, 2.0]
    ramped = DistillWeight(iters_per_epoch=4, max_epoch=5, warmup_iters=16, no_aug_epoch=4, no_aug_factor=2.0)
    assert ramped(13) == pytest.approx(2 * 14 / 16)
    stopped = DistillWeight(iters_per_epoch=4, max_epoch=5, stop_epoch=5, no_aug_epoch=4, no_aug_factor=2.0)
    assert [stopped(i) for i in (12, 16)] == [2.0, 0.0]
    assert DistillWeight(iters_per_epoch=4, max_epoch=5)(19) == 1.0  # off by default
    with pytest.raises(ValueError, match="no_aug_factor must be >= 0"):
        DistillWeight(iters_per_epoch=4, max_epoch=5, no_aug_epoch=4, no_aug_factor=-1.0)


def test_calibration_scales_the_smallest_term_to_the_smaller_detection_loss():
    """After K iterations: scale = min(mean cls, mean iou) / smallest mean weighted FGD term;
    0 before, the scale after; its state survives a round trip (what --resume needs)."""
    cal = LossCalibration(2)
    assert cal.factor() == 0.0 and not cal.done
    steps = [(2.0, 3.0, {"fg": 0.4, "bg": 0.1, "attention": 0.3, "rela": 0.05}),
             (1.0, 5.0, {"fg": 0.6, "bg": 0.3, "attention": 0.1, "rela": 0.15})]
    steps = [(torch.tensor(c), torch.tensor(i), {k: torch.tensor(v) for k, v in w.items()}) for c, i, w in steps]
    cal.update(*steps[0])
    copy = LossCalibration(2)
    copy.load_state_dict(cal.state_dict())
    cal.update(*steps[1])
    copy.update(*steps[1])
    # means: cls 1.5, iou 4.0; fg 0.5, bg 0.2, attention 0.2, rela 0.1 -> 1.5 / 0.1
    assert cal.done and cal.factor() == pytest.approx(15.0)
    assert copy.factor() == cal.factor()


def test_calibration_without_a_positive_term_is_an_error():
    cal = LossCalibration(1)
    zero = torch.tensor(0.0)
    with pytest.raises(FloatingPointError, match="no positive weighted FGD term"):
        cal.update(torch.tensor(1.0), torch.tensor(1.0), {"fg": zero, "bg": zero, "attention": zero, "rela": zero})
    assert not math.isnan(LossCalibration(0).factor())

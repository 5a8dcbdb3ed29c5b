"""Exp.check_config refuses multiscale settings that would draw input sizes <= 0, before anything is built."""
import pytest

from tests.conftest import TINY_EXP, refuse
from yolox_fgd.exp.base_exp import Exp


def exp_with(input_size, multiscale_range=5, random_size=None):
    exp = Exp()
    exp.input_size, exp.multiscale_range = input_size, multiscale_range
    if random_size is not None:
        exp.random_size = random_size
    return exp


def test_multiscale_range_reaching_sizes_below_32_is_refused_naming_both_and_the_fix():
    """A 128-px input with YOLOX's multiscale_range 5 draws s in 4 - 5 .. 4 + 5, i.e. heights from
    32 x (-1) = -32 px (torch's "output (H: -32, W: -32)" at the first draw): refused naming
    input_size, multiscale_range, the smallest size, the largest range that works (4 - 1 = 3: 32 px)
    and the input that would (32 x (5 + 1) = 192 px)."""
    with pytest.raises(ValueError) as e:
        exp_with((128, 128), 5).check_config()
    msg = str(e.value)
    assert "input_size=(128, 128) with multiscale_range=5" in msg and "down to (-32, -32) px" in msg
    assert "multiscale_range at most 3" in msg and "`multiscale_range 1`" in msg and "at least 192 px" in msg
    with pytest.raises(ValueError, match=r"down to \(0, 0\) px"):  # s = 4 - 4 = 0
        exp_with((128, 128), 4).check_config()
    exp_with((128, 128), 3).check_config()  # smallest draw 32 px: trainable
    exp_with((640, 640), 5).check_config()  # YOLOX's own defaults


def test_a_narrow_input_whose_width_rounds_to_zero_is_refused():
    """The width is 32 x int(s x W / H): at (128, 32) and range 1 the smallest draw s = 3 gives
    int(3 x 0.25) = 0, a width of 0 px, although the height (96) is fine; range 0 works."""
    with pytest.raises(ValueError, match=r"down to \(96, 0\) px.*multiscale_range at most 0"):
        exp_with((128, 32), 1).check_config()
    exp_with((128, 32), 0).check_config()


def test_random_size_is_checked_instead_of_multiscale_range_when_set():
    """YOLOX uses an experiment's random_size (lo, hi), in units of 32 px, instead of
    multiscale_range: lo must give sizes > 0 (lo >= 1 for a square input) and lo <= hi
    (random.randint's range); YOLOX-nano's (10, 20) at 416 px passes."""
    with pytest.raises(ValueError, match=r"random_size=\(0, 4\) .* down to \(0, 0\) px.*random_size \(1, 4\)"):
        exp_with((128, 128), 1, random_size=(0, 4)).check_config()
    with pytest.raises(ValueError, match=r"random_size=\(5, 3\) .* lo <= hi"):
        exp_with((128, 128), 1, random_size=(5, 3)).check_config()
    exp_with((128, 128), 5, random_size=(1, 4)).check_config()
    exp_with((416, 416), 5, random_size=(10, 20)).check_config()


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_multiscale_range_must_be_a_whole_number_at_least_0(value):
    """Negative ranges make random.randint's range empty; fractions and booleans are not ranges."""
    with pytest.raises(ValueError, match="multiscale_range must be a whole number >= 0"):
        exp_with((128, 128), value).check_config()


def test_train_refuses_the_setting_at_start_before_any_data_is_read(tmp_path):
    """tools/train.py stops with the message before it looks at the dataset (which does not even
    exist here) or builds a model, instead of failing in torch's interpolate at the first draw."""
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "input_size", "(128,128)", "multiscale_range", "5",
                 "data_dir", tmp_path / "none", "synthetic_dataset", "None")
    assert "input_size=(128, 128) with multiscale_range=5 draws input sizes down to (-32, -32) px" in err
    assert "annotation file" not in err

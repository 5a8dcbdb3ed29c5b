"""Trailing ``key value`` options are parsed by type (YOLOX 0.3.0's merge gets these wrong)."""
import pytest

from yolox_fgd.exp.demo_exp import DemoExp
from yolox_fgd.utils.options import merge_opts, parse_value


@pytest.mark.parametrize("text,value", [
    ("False", False), ("true", True), ("3", 3), ("0.5", 0.5), ("1e-3", 1e-3),
    ("(320,320)", (320, 320)), ("320,320", (320, 320)), ("None", None), ("yolox", "yolox"),
])
def test_parse_value(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_merge_sets_typed_values():
    """ema False stays False, input_size becomes a tuple of ints, ints widen to floats."""
    exp = DemoExp()
    merge_opts(exp, ["ema", "False", "input_size", "(320,320)", "max_epoch", "5",
                     "basic_lr_per_img", "1", "test_size", "256,256"])
    assert exp.ema is False
    assert exp.input_size == (320, 320)
    assert exp.max_epoch == 5 and isinstance(exp.max_epoch, int)
    assert exp.basic_lr_per_img == 1.0 and isinstance(exp.basic_lr_per_img, float)
    assert exp.test_size == (256, 256)


def test_merge_via_exp_merge():
    exp = DemoExp()
    exp.merge(["enable_mixup", "True"])
    assert exp.enable_mixup is True


@pytest.mark.parametrize("opts,message", [
    (["no_such_key", "1"], "unknown option 'no_such_key'"),
    (["ema", "maybe"], "option ema: expected True or False"),
    (["max_epoch", "ten"], "option max_epoch: expected int"),
    (["input_size", "big"], "option input_size: expected a tuple"),
    (["ema"], "key value"),
])
def test_merge_rejects_bad_options(opts, message):
    with pytest.raises(ValueError, match=message):
        merge_opts(DemoExp(), opts)

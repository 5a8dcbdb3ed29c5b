"""The demo experiments: FGD's reference size follows the input size (issue 12, item 3)."""
from yolox_fgd.exp.build import load_exp

FGD_DEMO = "exps/demo/fgd_demo_nano.py"


def test_fgd_ref_size_follows_a_merged_input_size():
    """``input_size (320,320)`` given after construction (as ``--cuda-large`` does) moves the
    reference size with it, so the loss is not divided by (320/96)^2; the built FGD losses use it."""
    exp = load_exp(FGD_DEMO)
    assert exp.fgd_ref_size == exp.input_size[0] == 96
    exp.merge(["input_size", "(320,320)"])
    assert exp.fgd_ref_size == 320
    losses = exp.get_fgd_losses({"p3": 32, "p4": 64, "p5": 128}, {"p3": 64, "p4": 128, "p5": 256})
    assert {m.ref_size for m in losses.values()} == {320}


def test_an_explicit_fgd_ref_size_stays():
    """A size or ``None`` (no normalisation) set on the command line is kept whatever the input size."""
    exp = load_exp(FGD_DEMO)
    exp.merge(["fgd_ref_size", "160", "input_size", "(320,320)"])
    assert exp.fgd_ref_size == 160
    exp.merge(["fgd_ref_size", "None"])
    assert exp.fgd_ref_size is None

"""tools/demo.py: YOLOX's inference demo CLI on CPU, boxes labelled with the dataset's class names."""
import os

from tests.conftest import TINY_EXP, refuse, run_tool
from yolox_fgd.cli.demo import class_names_of
from yolox_fgd.data.synthetic import CLASSES
from yolox_fgd.exp.build import load_exp


def test_class_names_come_from_the_dataset(tiny_data):
    assert class_names_of(load_exp(TINY_EXP)) == CLASSES


def test_image_demo_writes_a_picture(tmp_path, tiny_data):
    exp = load_exp(TINY_EXP)
    model = exp.get_model()
    import torch

    ckpt = tmp_path / "m.pth"
    torch.save({"model": model.state_dict()}, ckpt)
    img = os.path.join(tiny_data, "val2017", sorted(os.listdir(os.path.join(tiny_data, "val2017")))[0])
    work = tmp_path / "work"  # a fresh folder: an earlier run's picture cannot pass the test
    work.mkdir()
    res = run_tool("demo", "image", "-f", TINY_EXP, "-c", ckpt, "--path", img, "--device", "cpu",
                   "--save_result", "--conf", "0.0", "-expn", "d", cwd=work)
    assert res.returncode == 0, res.stderr[-2000:]
    out = [f for _, _, files in os.walk(work / "YOLOX_outputs" / "d" / "vis_res") for f in files]
    assert out, "no picture written"
    bad = refuse("demo", "image", "-f", TINY_EXP, "-c", ckpt, "--path", tmp_path / "none.jpg", "--device", "cpu")
    assert "image path not found" in bad

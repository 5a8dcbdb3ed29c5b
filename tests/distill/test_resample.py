"""The teacher's head outputs carried from its input size to the student's grid: a box keeps its
place and size in the image, a logit field is sampled at the student's cell centres, and equal
sizes change nothing."""
import math
import os

import pytest
import torch

from tests.conftest import REPO, refuse, run_tool
from yolox_fgd.distill.resample import resample_head_outputs, resize_images

STRIDES = {"p3": 8, "p4": 16, "p5": 32}


def encode(box, hw, stride):
    """The raw YOLOX regression at every cell of a (hw / stride) grid that decodes to ``box``
    (cx, cy, w, h in pixels): ``(1, 4, h, w)``."""
    h, w = hw[0] // stride, hw[1] // stride
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([box[0] / stride - gx, box[1] / stride - gy,
                        torch.full_like(gx, math.log(box[2] / stride)), torch.full_like(gx, math.log(box[3] / stride))])[None]


def decode(reg, stride):
    """``(1, 4, h, w)`` regression -> ``(h, w, 4)`` boxes (cx, cy, w, h) in pixels, YOLOX's decoding."""
    h, w = reg.shape[-2:]
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([(reg[0, 0] + gx) * stride, (reg[0, 1] + gy) * stride,
                        reg[0, 2].exp() * stride, reg[0, 3].exp() * stride], -1)


@pytest.mark.parametrize("src,dst", [((96, 96), (64, 64)), ((96, 96), (128, 128)), ((96, 64), (64, 128))])
def test_a_box_keeps_its_place_and_size_in_the_image(src, dst):
    """Every cell of the source predicts the same box (in source pixels); resampled, every cell of
    the destination grid decodes to that box scaled to the destination's pixels."""
    box = torch.tensor([40.0, 30.0, 24.0, 12.0])
    scale = torch.tensor([dst[1] / src[1], dst[0] / src[0]] * 2)
    for lvl, s in STRIDES.items():
        h, w = src[0] // s, src[1] // s
        outputs = {lvl: (torch.zeros(2, 1, h, w), torch.zeros(2, 3, h, w), encode(box, src, s).expand(2, -1, -1, -1))}
        obj, cls, reg = resample_head_outputs(outputs, STRIDES, src, dst)[lvl]
        assert obj.shape == (2, 1, dst[0] // s, dst[1] // s) and cls.shape == (2, 3, dst[0] // s, dst[1] // s)
        assert reg.shape == (2, 4, dst[0] // s, dst[1] // s)
        assert torch.allclose(decode(reg[:1], s), (box * scale).expand(dst[0] // s, dst[1] // s, 4), atol=1e-4)


def test_logits_are_sampled_at_the_students_cell_centres():
    """A logit that is a linear function of the image's x coordinate (in pixels, taken at each
    cell's centre) reads the same function at the destination's cell centres, away from the
    border (bilinear sampling is exact for linear fields between samples)."""
    src, dst, s = (96, 96), (64, 64), 8
    centres = lambda n: (torch.arange(n, dtype=torch.float32) + 0.5) * s  # noqa: E731
    x_src = centres(src[1] // s) * (dst[1] / src[1])  # the source's centres in destination pixels
    field = (0.1 * x_src - 2).expand(1, 1, src[0] // s, -1).contiguous()
    h, w = src[0] // s, src[1] // s
    outputs = {"p3": (field, field.expand(1, 2, -1, -1), torch.zeros(1, 4, h, w))}
    obj, cls, _ = resample_head_outputs(outputs, STRIDES, src, dst)["p3"]
    expected = 0.1 * centres(dst[1] // s) - 2
    assert torch.allclose(obj[0, 0, 3, 1:-1], expected[1:-1], atol=1e-5)
    assert torch.allclose(cls[0, 1, 3, 1:-1], expected[1:-1], atol=1e-5)


def test_equal_sizes_change_nothing_and_images_resize_bilinearly():
    outputs = {"p3": (torch.randn(1, 1, 8, 8), torch.randn(1, 3, 8, 8), torch.randn(1, 4, 8, 8))}
    assert resample_head_outputs(outputs, STRIDES, (64, 64), (64, 64)) is outputs
    images = torch.rand(2, 3, 64, 64)
    big = resize_images(images, (96, 96))
    assert big.shape == (2, 3, 96, 96)
    assert torch.allclose(resize_images(torch.full((1, 3, 64, 64), 114.0), (96, 128)), torch.full((1, 3, 96, 128), 114.0))


def test_resized_input_runs_the_model_at_its_size_and_scales_the_boxes_back():
    """ResizedInput: the wrapped model receives the input resized to its size; a box it finds at
    a fixed place of its input comes back at the same place of the original image."""
    from yolox_fgd.distill.resample import ResizedInput

    class WholeImage(torch.nn.Module):
        """Detects one box covering the middle half of whatever it sees."""
        def forward(self, x):
            self.seen = tuple(x.shape[-2:])
            h, w = x.shape[-2:]
            return torch.tensor([[[w / 2, h / 2, w / 2, h / 2, 1.0, 1.0]]]).expand(x.shape[0], 1, 6)

    # a real YOLOX model: at its own size the wrapper is the model; at another, the model on the
    # resized image with its boxes scaled back
    from yolox_fgd.exp.build import load_exp

    model = load_exp(os.path.join(REPO, "tests", "exps", "tiny_teacher.py")).get_model().eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        assert torch.equal(ResizedInput(model, (64, 64))(x), model(x))
        big = model(resize_images(x, (96, 96)))
        big[..., :4] *= 64 / 96
        assert torch.allclose(ResizedInput(model, (96, 96))(x), big)
    inner = WholeImage()
    out = ResizedInput(inner, (96, 128))(torch.zeros(2, 3, 64, 64))
    assert inner.seen == (96, 128)
    assert torch.allclose(out, torch.tensor([32.0, 32.0, 32.0, 32.0, 1.0, 1.0]).expand(2, 1, 6))


def test_eval_model_size_runs_the_checkpoint_at_another_size(tiny_data, tiny_teacher_ckpt):
    """tools/eval.py --model-size: at the test size itself the statistics are those of the plain
    evaluation (the resize is the identity); at another size the model runs there and a table
    comes out; a size that is not a multiple of 32 is refused by name."""
    exp = os.path.join(REPO, "tests", "exps", "tiny_teacher.py")
    args = ("-f", exp, "-c", tiny_teacher_ckpt, "--device", "cpu", "-b", "4", "--tsize", "64")
    run = lambda *extra: run_tool("eval", *args, *extra, "test_conf", "0.001")  # noqa: E731
    plain, same, other = run(), run("--model-size", "64"), run("--model-size", "96")
    for res in (plain, same, other):
        assert res.returncode == 0, res.stderr[-2000:]
    table = lambda res: [line for line in res.stdout.splitlines() if line.startswith("|")]  # noqa: E731
    assert table(plain) and table(same) == table(plain) and table(other)
    assert "resized to (96, 96)" in other.stdout + other.stderr and "resized to" not in plain.stdout + plain.stderr
    bad = refuse("eval", *args, "--model-size", "100", "test_conf", "0.001")
    assert "--model-size 100 must be a positive multiple of 32" in bad

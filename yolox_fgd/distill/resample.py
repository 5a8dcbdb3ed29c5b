"""The teacher at its own input size: its head outputs for an image resized to another size,
carried back to the student's grid (``exp.head_kd_teacher_size``; docs/fgd_on_yolox.md,
section 11).

YOLOX trains with multiscale inputs (``exp.multiscale_range``): a batch comes at 64, 96 or 128 px
while the teacher was made for its test size. On the benchmark the teacher scores 76.4 AP at
96 px, 63.4 at 64 px and 65.3 at 128 px, but 75.7 / 75.6 when the 64 / 128 px images are resized
to 96 px before it sees them: at the other sizes its outputs are worse targets for a scale
reason, not for lack of information. Letting a teacher see the input at its own resolution and
aligning its outputs to the student's grid is the idea of Qi et al., "Multi-Scale Aligned
Distillation for Low-Resolution Detection" (CVPR 2021), who align feature maps across
resolutions; here the aligned maps are the head's outputs.

Alignment, per level of stride ``s``: the student's cell ``(i, j)`` has its centre at
``((j + 0.5) s, (i + 0.5) s)`` in student pixels (SimOTA's centre prior); the teacher's outputs are
sampled there (bilinear, ``align_corners=False``, which is exactly sampling at cell centres
when both grids cover the same image). Logits are sampled as they are; boxes are decoded to
absolute student pixels first (centre, log size), sampled, and encoded again in the student's
cells, so that a box keeps its place and size in the image.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ResizedInput", "resample_head_outputs", "resize_images"]


def resize_images(images, size):
    """``(N, 3, H, W)`` -> ``(N, 3, *size)`` bilinear (YOLOX's multiscale resize mode)."""
    return F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)


def resample_head_outputs(outputs, strides, src_hw, dst_hw):
    """Head outputs computed on an image of size ``src_hw``, as they would be placed on the grid of
    the same image at ``dst_hw``.

    Args:
        outputs: ``{level: (obj (N, 1, h, w), cls (N, C, h, w), reg (N, 4, h, w))}`` with
            ``(h, w) = src_hw / stride``; ``reg`` is YOLOX's raw regression (centre offset and
            log size in cells: the box is ``((reg_xy + grid) * s, exp(reg_wh) * s)``).
        strides: ``{level: stride}`` in pixels.
        src_hw, dst_hw: ``(H, W)`` input sizes in pixels, multiples of every stride.

    Returns:
        The same structure on grids ``dst_hw / stride``; boxes in the destination's pixels and
        cells. With ``src_hw == dst_hw`` the outputs themselves.
    """
    src_hw, dst_hw = tuple(int(v) for v in src_hw), tuple(int(v) for v in dst_hw)
    if src_hw == dst_hw:
        return outputs
    fy, fx = src_hw[0] / dst_hw[0], src_hw[1] / dst_hw[1]
    out = {}
    for lvl, (obj, cls, reg) in outputs.items():
        s = strides[lvl]
        size = (dst_hw[0] // s, dst_hw[1] // s)
        sample = lambda x: F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False)  # noqa: E731
        reg = reg.float()
        gy, gx = (torch.arange(n, device=reg.device, dtype=torch.float32) for n in reg.shape[-2:])
        boxes = torch.stack([(reg[:, 0] + gx) * (s / fx), (reg[:, 1] + gy[:, None]) * (s / fy),
                             reg[:, 2] + math.log(s / fx), reg[:, 3] + math.log(s / fy)], 1)
        boxes = sample(boxes)  # (N, 4, *size): centre and log size in destination pixels
        hy, hx = (torch.arange(n, device=reg.device, dtype=torch.float32) for n in size)
        reg_dst = torch.stack([boxes[:, 0] / s - hx, boxes[:, 1] / s - hy[:, None],
                               boxes[:, 2] - math.log(s), boxes[:, 3] - math.log(s)], 1)
        out[lvl] = (sample(obj), sample(cls), reg_dst)
    return out


class ResizedInput(nn.Module):
    """A YOLOX model in eval mode that sees every input resized to ``size``; its decoded boxes
    are scaled back to the input's pixels (``tools/eval.py --model-size``: how good a model's
    outputs are on images rendered at one size when it runs at another; the measurement behind
    ``head_kd_teacher_size``).

    Args:
        model: a YOLOX model whose eval forward returns ``(N, A, 5 + C)`` detections with boxes
            ``(cx, cy, w, h)`` in its input's pixels first.
        size: ``(H, W)`` the model runs at.
    """

    def __init__(self, model, size):
        super().__init__()
        self.model, self.size = model, tuple(size)

    def forward(self, x):
        out = self.model(resize_images(x, self.size)).clone()
        out[..., 0:4:2] *= x.shape[-1] / self.size[1]
        out[..., 1:4:2] *= x.shape[-2] / self.size[0]
        return out

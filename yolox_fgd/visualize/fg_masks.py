"""Where FGD's foreground is: validation images with their boxes and FGD's foreground mask
(Eq. 2: the cells its boxes cover, as the official code paints them) at each level."""
import numpy as np
import torch

from ..distill.features import PAFPN_LEVELS
from ..losses import build_masks

__all__ = ["plot_fg_masks"]


def plot_fg_masks(images, targets, path, title=""):
    """Write a PNG: one row per image, columns the image with its boxes and the foreground mask
    (cells with ``M_fg > 0``) at p3, p4 and p5, with the share of foreground cells.

    Args:
        images: ``(N, 3, H, W)`` float BGR 0..255 (YOLOX's preprocessing).
        targets: ``(N, M, 5)`` YOLOX targets ``(class, cx, cy, w, h)`` in input pixels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    n, (h, w) = images.shape[0], images.shape[-2:]
    fig, axes = plt.subplots(n, 1 + len(PAFPN_LEVELS), figsize=(2.4 * (1 + len(PAFPN_LEVELS)), 2.4 * n),
                             squeeze=False)
    for i in range(n):
        ax = axes[i, 0]
        ax.imshow(images[i].permute(1, 2, 0).numpy()[..., ::-1].clip(0, 255).astype(np.uint8))
        for cls, cx, cy, bw, bh in targets[i].tolist():
            if bw > 0 and bh > 0:
                ax.add_patch(patches.Rectangle((cx - bw / 2, cy - bh / 2), bw, bh, fill=False, color="lime", lw=0.8))
        ax.set_title("image and boxes" if i == 0 else "", fontsize=8)
        for j, (lvl, (_, stride)) in enumerate(PAFPN_LEVELS.items(), start=1):
            mask, _ = build_masks(targets[i:i + 1], (h // stride, w // stride), (h, w))
            fg = (mask[0] > 0).float()
            axes[i, j].imshow(fg.numpy(), cmap="viridis", vmin=0, vmax=1)
            axes[i, j].set_title(f"{lvl} {h // stride}x{w // stride}: fg {100 * float(fg.mean()):.0f}%", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

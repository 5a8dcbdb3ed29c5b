"""What FGD attends to: ground truth, foreground/background masks (Eq. 2-3) and the teacher's and
student's spatial attention (Eq. 5) at each distilled level, for a few validation images."""
import numpy as np
import torch

from ..distill.features import PAFPN_LEVELS, distilled_maps
from ..losses import build_masks, spatial_channel_attention

__all__ = ["plot_fgd_maps"]


@torch.no_grad()
def plot_fgd_maps(student, teacher, fgd_losses, images, targets, path, class_names=None, tap="stems"):
    """Write a PNG: one row per (image, level), columns image+boxes, M_fg, M_bg, A_S teacher, A_S student.

    Args:
        student, teacher: YOLOX models (eval mode is set here).
        fgd_losses: ``{level: FGDLoss}`` (their ``align`` maps student features to the teacher's
            channels, as the loss sees them).
        images: ``(N, 3, H, W)`` float BGR 0..255 (YOLOX's preprocessing).
        targets: ``(N, M, 5)`` YOLOX targets in input pixels.
        tap: where the maps are taken (``exp.fgd_tap``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    student.eval()
    teacher.eval()
    levels = list(fgd_losses)
    s_feats = distilled_maps(student, images, tap, levels)
    t_feats = distilled_maps(teacher, images, tap, levels)
    n = images.shape[0]
    cols = ["image + boxes", "M_fg", "M_bg", "A_S teacher", "A_S student"]
    fig, axes = plt.subplots(n * len(levels), len(cols), figsize=(2.2 * len(cols), 2.2 * n * len(levels)), dpi=100)
    axes = np.atleast_2d(axes)
    size = (images.shape[2], images.shape[3])
    for li, lvl in enumerate(levels):
        stride = PAFPN_LEVELS[lvl][1]
        # the maps the loss compares: the student's through its projection, both standardised
        # when feature_norm is on (the projection's BatchNorm, if any, in eval mode)
        s, t = fgd_losses[lvl].eval().prepare_maps(s_feats[lvl].float(), t_feats[lvl].float())
        temp = fgd_losses[lvl].temp
        fg, bg = build_masks(targets, t.shape[-2:], size, fgd_losses[lvl].fg_norm)
        att_t = spatial_channel_attention(t, temp)[0]
        att_s = spatial_channel_attention(s, temp)[0]
        for i in range(n):
            row = axes[i * len(levels) + li]
            img = images[i].permute(1, 2, 0).cpu().numpy()[..., ::-1].clip(0, 255).astype(np.uint8)
            row[0].imshow(img)
            for box in targets[i]:
                if box.abs().sum() > 0:
                    cls, cx, cy, w, h = box.tolist()
                    row[0].add_patch(patches.Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, color="lime", lw=1))
                    if class_names and li == 0:
                        row[0].text(cx - w / 2, cy - h / 2, class_names[int(cls)], color="lime", fontsize=6)
            vmax = float(max(att_t[i].max(), att_s[i].max()))
            for col, (data, kw) in enumerate(((fg[i], {"vmin": 0}), (bg[i], {"vmin": 0}), (att_t[i], {"vmin": 0, "vmax": vmax}),
                                               (att_s[i], {"vmin": 0, "vmax": vmax})), start=1):
                row[col].imshow(data.cpu().numpy(), cmap="viridis", **kw)
            row[0].set_ylabel(f"{lvl} (stride {stride})", fontsize=8)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
    for ax, title in zip(axes[0], cols):
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

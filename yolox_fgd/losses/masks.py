"""Foreground/background masks of FGD (Yang et al., CVPR 2022, Eq. 2-3), for a whole batch at once.

Reference implementation: yzd-v/FGD, branch ``yolox``, ``mmdet/distillation/losses/fgd.py``
(``FeatureLoss.forward``), which paints the masks with a Python loop over images and boxes.
This module computes the same masks with broadcasting only: no loop over images or boxes and
no device-to-host synchronisation, so it can sit inside a training step.
"""
import torch

__all__ = ["build_masks", "valid_box_mask"]


def valid_box_mask(targets):
    """Rows of YOLOX targets that hold a box.

    Args:
        targets: ``(N, M, 5)`` YOLOX targets ``(class, cx, cy, w, h)``; all-zero rows are padding.

    Returns:
        ``(N, M)`` bool, True where the row is a real box (YOLOX's own head counts labels the
        same way: ``labels.sum(dim=2) > 0``).
    """
    return targets.abs().sum(dim=2) > 0


def build_masks(targets, feat_hw, input_size, fg_norm="paper", dtype=torch.float32):
    """Foreground and background masks of one pyramid level, as the official FGD code paints them.

    A box ``x1,y1,x2,y2`` in input pixels maps to the level as ``x * W / input_w`` and
    ``y * H / input_h``. With ``wmin=floor(x1') wmax=ceil(x2') hmin=floor(y1') hmax=ceil(y2')``
    the painted cells are rows ``hmin..hmax`` and cols ``wmin..wmax`` *inclusive* (a box covers
    one more cell right and below than its extent), clipped to the map. The value is the scale
    factor of Eq. 3, ``1 / ((hmax+1-hmin) * (wmax+1-wmin))`` from the unclipped extents;
    overlapping boxes take the maximum (the smaller box wins). ``M_bg = (M_fg == 0)``, divided
    by its own count when that count is positive (Eq. 3). An image without boxes has
    ``M_fg = 0`` and ``M_bg = 1 / (H*W)``.

    ``fg_norm="per_gt"`` is Hypothesis 1 of the source document (Eq. 4 there): the foreground
    value is additionally divided by the image's number of boxes ``N_gt``, so that the
    foreground of an image sums to 1 like its background (exactly when its boxes neither
    overlap nor leave the map; overlaps keep the max and clipping drops cells, so the sum is
    then below 1).

    Memory: the step materialises an ``(N, M, H, W)`` tensor of ``dtype`` (plus two bool
    tensors ``(N, M, H)`` and ``(N, M, W)``) and reduces it with ``amax`` over ``M``. For
    N=32 images, M=120 target rows and an 80x80 map that is 24.6 M elements (98 MB in float32),
    freed right after the reduction.

    Args:
        targets: ``(N, M, 5)`` YOLOX targets ``(class, cx, cy, w, h)`` in input pixels,
            all-zero rows are padding.
        feat_hw: ``(H, W)`` of the feature map.
        input_size: ``(input_h, input_w)`` of the network input in pixels.
        fg_norm: ``"paper"`` or ``"per_gt"``.
        dtype: dtype of the returned masks.

    Returns:
        ``(mask_fg, mask_bg)``, each ``(N, H, W)``.
    """
    if fg_norm not in ("paper", "per_gt"):
        raise ValueError(f"fg_norm must be 'paper' or 'per_gt', got {fg_norm!r}")
    H, W = int(feat_hw[0]), int(feat_hw[1])
    in_h, in_w = float(input_size[0]), float(input_size[1])
    device = targets.device
    box_dtype = torch.promote_types(targets.dtype, torch.float32)
    boxes = targets[..., 1:5].to(box_dtype)
    valid = valid_box_mask(targets)  # (N, M)

    # Corner coordinates are computed in the targets' own dtype first, as the official code
    # received x1 = cx - w/2 computed from stored targets.
    cx, cy, bw, bh = boxes.unbind(-1)
    # Same operation order as the official code (x / input_w * W): floor/ceil see the same
    # rounding at cell boundaries.
    x1 = (cx - bw / 2) / in_w * W
    x2 = (cx + bw / 2) / in_w * W
    y1 = (cy - bh / 2) / in_h * H
    y2 = (cy + bh / 2) / in_h * H
    wmin, wmax = torch.floor(x1), torch.ceil(x2)
    hmin, hmax = torch.floor(y1), torch.ceil(y2)

    # The official code computes 1.0 / (hmax+1-hmin) / (wmax+1-wmin) from int tensors, i.e. in
    # float32 and in this order.
    h_ext = (hmax + 1 - hmin).to(torch.float32)
    w_ext = (wmax + 1 - wmin).to(torch.float32)
    value = (1.0 / h_ext / w_ext).to(dtype)
    if fg_norm == "per_gt":
        n_gt = valid.sum(dim=1, keepdim=True).clamp(min=1).to(dtype)
        value = value / n_gt
    value = torch.where(valid, value, torch.zeros_like(value))  # padding paints nothing

    rows = torch.arange(H, device=device, dtype=box_dtype)
    cols = torch.arange(W, device=device, dtype=box_dtype)
    in_rows = (rows >= hmin[..., None]) & (rows <= hmax[..., None])  # (N, M, H)
    in_cols = (cols >= wmin[..., None]) & (cols <= wmax[..., None])  # (N, M, W)
    cover = in_rows[..., :, None] & in_cols[..., None, :]  # (N, M, H, W)
    painted = torch.where(cover, value[..., None, None], torch.zeros((), dtype=dtype, device=device))
    if painted.shape[1] == 0:
        mask_fg = torch.zeros((targets.shape[0], H, W), dtype=dtype, device=device)
    else:
        mask_fg = painted.amax(dim=1)
    del painted, cover

    mask_bg = (mask_fg == 0).to(dtype)
    count = mask_bg.sum(dim=(1, 2), keepdim=True)
    mask_bg = mask_bg / count.clamp(min=1)
    return mask_fg, mask_bg

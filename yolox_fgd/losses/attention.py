"""Spatial and channel attention of FGD (Yang et al., CVPR 2022, Eq. 5-6).

Reference implementation: yzd-v/FGD, ``FeatureLoss.get_attention``.
"""
import torch.nn.functional as F

__all__ = ["spatial_channel_attention"]


def spatial_channel_attention(feat, temp):
    """Attention maps of one feature map, from its absolute values.

    With ``v = |x|``: spatial ``A_S = H*W * softmax_HW(mean_C(v) / temp)`` (Eq. 5) and channel
    ``A_C = C * softmax_C(mean_HW(v) / temp)`` (Eq. 6). Each sums to ``H*W`` resp. ``C`` per
    image, so a uniform map gives weights of 1.

    Args:
        feat: ``(N, C, H, W)`` feature map.
        temp: softmax temperature ``T`` (the paper uses 0.5).

    Returns:
        ``(A_S, A_C)``: ``(N, H, W)`` and ``(N, C)``, dtype of ``feat``.
    """
    N, C, H, W = feat.shape
    value = feat.abs()
    spatial = value.mean(dim=1).reshape(N, H * W)
    A_S = (H * W * F.softmax(spatial / temp, dim=1)).reshape(N, H, W)
    channel = value.mean(dim=(2, 3))
    A_C = C * F.softmax(channel / temp, dim=1)
    return A_S, A_C

"""Global context block (GcBlock) used by FGD's global distillation (Yang et al., CVPR 2022, Eq. 10).

The block is GCNet's (Cao et al., ICCV-W 2019): ``out = x + T(ctx)`` with
``ctx = sum_hw softmax_hw(conv_mask(x)) * x`` and ``T = Conv(C->C/2) -> LayerNorm -> ReLU ->
Conv(C/2->C)``. Reference implementation: yzd-v/FGD, ``FeatureLoss.spatial_pool`` and
``channel_add_conv_*``. The loss module owns one pair of these layers per side (student and
teacher); this file provides the two building blocks and the official initialisation.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["make_context_mask", "make_channel_add", "global_context_add"]


def make_context_mask(channels):
    """``Conv2d(C, 1, 1)`` with the official init: kaiming-normal (fan_in, ReLU gain), zero bias."""
    conv = nn.Conv2d(channels, 1, kernel_size=1)
    nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in", nonlinearity="relu")
    nn.init.zeros_(conv.bias)
    return conv


def make_channel_add(channels):
    """The transform ``Conv(C->C/2), LayerNorm([C/2,1,1]), ReLU, Conv(C/2->C)``.

    Sequential indices 0, 1, 3 hold the parameters, as in the official state dicts. The last
    conv starts at zero weight and bias, so the block starts as the identity.
    """
    hidden = channels // 2
    block = nn.Sequential(
        nn.Conv2d(channels, hidden, kernel_size=1),
        nn.LayerNorm([hidden, 1, 1]),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, channels, kernel_size=1),
    )
    nn.init.zeros_(block[3].weight)
    nn.init.zeros_(block[3].bias)
    return block


def _context_logits(context_mask, flat):
    """``Conv2d(C, 1, 1)`` on ``flat`` ``(N, C, HW)`` as a batched matrix product: ``(N, 1, HW)``.

    Same parameters and math as the convolution; on CPU oneDNN's convolution with one output
    channel is much slower (forward + backward) than this product."""
    N, C, _ = flat.shape
    return torch.bmm(context_mask.weight.reshape(1, 1, C).expand(N, 1, C), flat) + context_mask.bias.reshape(1, 1, 1)


def _linear(conv, x):
    """A 1x1 ``conv`` applied to a map of one position, ``x`` ``(N, C_in)`` -> ``(N, C_out)``."""
    return F.linear(x, conv.weight.reshape(conv.out_channels, conv.in_channels), conv.bias)


def global_context_add(x, context_mask, channel_add):
    """The term a GcBlock adds to every position: ``channel_add(ctx)``.

    Args:
        x: ``(N, C, H, W)``.
        context_mask: ``Conv2d(C, 1, 1)`` giving the attention logits.
        channel_add: the ``C -> C/2 -> C`` transform (conv, LayerNorm, ReLU, conv).

    Returns:
        ``(N, C, 1, 1)``, broadcast over ``H, W`` by the block.
    """
    N, C, H, W = x.shape
    flat = x.reshape(N, C, H * W)
    weights = F.softmax(_context_logits(context_mask, flat), dim=2)  # (N, 1, HW)
    ctx = torch.bmm(flat, weights.transpose(1, 2)).reshape(N, C)
    conv1, norm, _, conv2 = channel_add  # applied to the (N, C, 1, 1) context as linear maps
    hidden = _linear(conv1, ctx)  # (N, C/2)
    hidden = F.layer_norm(hidden, hidden.shape[1:], norm.weight.reshape(-1), norm.bias.reshape(-1), norm.eps)
    return _linear(conv2, F.relu(hidden)).reshape(N, C, 1, 1)

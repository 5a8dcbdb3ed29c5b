"""YOLOX's SGD parameter groups for any module (the student, or the student with its FGD modules)."""
from torch import nn

__all__ = ["param_groups"]


def param_groups(module):
    """YOLOX's three SGD groups over ``module``: norm weights (no decay), other weights (decay),
    biases (no decay). Norms are BatchNorm (as YOLOX, also any name containing "bn"), LayerNorm
    and GroupNorm (the GcBlocks' LayerNorm gets no decay)."""
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    no_decay, decay, biases = [], [], []
    for name, m in module.named_modules():
        if hasattr(m, "bias") and isinstance(m.bias, nn.Parameter):
            biases.append(m.bias)
        if isinstance(m, norm_types) or "bn" in name:
            if isinstance(getattr(m, "weight", None), nn.Parameter):
                no_decay.append(m.weight)
        elif hasattr(m, "weight") and isinstance(m.weight, nn.Parameter):
            decay.append(m.weight)
    return no_decay, decay, biases

"""YOLOX's SGD parameter groups for any module (the student, or the student with its distillation
modules), with learning-rate multiples.

A group may carry :data:`LR_MULT`: the trainer sets its learning rate to the schedule's times that
multiple at every iteration (mmcv's ``paramwise_cfg`` ``lr_mult``); a group without it follows the
schedule.
"""
from torch import nn

__all__ = ["LR_MULT", "param_groups", "sgd_param_groups"]

# key of a parameter group's learning-rate multiple (read by the trainer every iteration)
LR_MULT = "lr_mult"


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


def sgd_param_groups(parts, lr, weight_decay):
    """SGD parameter groups for ``parts``, ``[(module, lr_mult)]``: YOLOX's three groups
    (:func:`param_groups`) per run of consecutive parts with the same multiple, each group's
    learning rate ``lr * lr_mult`` and, for a multiple other than 1, :data:`LR_MULT`.

    Raises:
        ValueError: a trainable parameter of the parts is in no group (YOLOX's rules take only
            modules' ``weight`` and ``bias``: a new module with another parameter must say where
            it goes) or in two.
    """
    runs = []
    for module, mult in parts:
        if runs and runs[-1][1] == mult:
            runs[-1][0].append(module)
        else:
            runs.append(([module], mult))
    groups, seen = [], {}
    for modules, mult in runs:
        collected = ([], [], [])
        for module in modules:
            for bucket, params in zip(collected, param_groups(module)):
                bucket.extend(params)
        for params, extra in zip(collected, ({}, {"weight_decay": weight_decay}, {})):
            group = {"params": params, "lr": lr * mult, **extra}
            if mult != 1:
                group[LR_MULT] = mult
            groups.append(group)
            for p in params:
                seen[id(p)] = seen.get(id(p), 0) + 1
    trainable = [(f"{i}.{name}", p) for i, (module, _) in enumerate(parts)
                 for name, p in module.named_parameters() if p.requires_grad]
    missing = [name for name, p in trainable if id(p) not in seen]
    doubled = [name for name, p in trainable if seen.get(id(p), 0) > 1]
    if missing or doubled:
        raise ValueError(f"optimizer groups: trainable parameters in no group {missing[:5]} or in two {doubled[:5]} "
                         "(part.parameter); YOLOX's groups take modules' weight and bias only")
    return groups

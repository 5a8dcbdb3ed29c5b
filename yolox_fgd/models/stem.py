"""YOLOX stems: Focus (YOLOX's default) and its convolution replacements, with exact conversion.

``CSPDarknet.stem = Focus(3, C, ksize=3)``: space-to-depth (channel groups top-left, bottom-left,
top-right, bottom-right) then a 3x3 stride-1 conv on the half-resolution grid. A 6x6 stride-2
padding-2 conv computes the same function with the same 108 weights per output channel
(Ultralytics yolov5 issue 4825), so Focus weights convert exactly:
``W6[o, c, 2*ki + a, 2*kj + b] = Wf[o, g(a, b)*3 + c, ki, kj]`` with ``g(0,0)=0`` (top-left),
``g(1,0)=1`` (bottom-left), ``g(0,1)=2`` (top-right), ``g(1,1)=3`` (bottom-right), ``a`` the row
and ``b`` the column offset inside a 2x2 cell. A 3x3 stride-2 conv (``conv3``) is a real
architecture change (27 weights per output channel).

State-dict keys: Focus ``...stem.conv.conv.weight`` and ``...stem.conv.bn.*``; conv stems are a
YOLOX ``BaseConv``: ``...stem.conv.weight`` and ``...stem.bn.*``.
"""
import torch
from yolox.models.network_blocks import BaseConv, Focus

__all__ = ["STEMS", "make_stem", "set_stem", "stem_kind", "focus_weight_to_conv6", "convert_focus_state_dict", "StemConversionError"]

STEMS = ("focus", "conv6", "conv3")
FOCUS_KEY = "backbone.backbone.stem.conv.conv.weight"
CONV_KEY = "backbone.backbone.stem.conv.weight"
GROUP_OF = {(0, 0): 0, (1, 0): 1, (0, 1): 2, (1, 1): 3}  # (row offset a, col offset b) -> Focus group


class StemConversionError(ValueError):
    """A checkpoint that cannot be converted (no Focus stem, or already converted)."""


def make_stem(kind, out_channels, act="silu"):
    """A stem module: ``(N, 3, H, W) -> (N, out_channels, H/2, W/2)``."""
    if kind == "focus":
        return Focus(3, out_channels, ksize=3, act=act)
    if kind == "conv6":
        return BaseConv(3, out_channels, ksize=6, stride=2, act=act)
    if kind == "conv3":
        return BaseConv(3, out_channels, ksize=3, stride=2, act=act)
    raise ValueError(f"unknown stem {kind!r}: choose one of {STEMS}")


def stem_kind(model):
    """``"focus"``, ``"conv6"`` or ``"conv3"``: the stem of a YOLOX model."""
    stem = model.backbone.backbone.stem
    if isinstance(stem, Focus):
        return "focus"
    return {6: "conv6", 3: "conv3"}[stem.conv.kernel_size[0]]


def set_stem(model, kind, act="silu"):
    """Replace ``model.backbone.backbone.stem`` (a YOLOX model) by a ``kind`` stem in place
    (no-op when it already has one)."""
    if kind not in STEMS:
        raise ValueError(f"unknown stem {kind!r}: choose one of {STEMS}")
    darknet = model.backbone.backbone
    if stem_kind(model) == kind:
        return model
    old_bn = _stem_bn(darknet.stem)
    stem = make_stem(kind, old_bn.num_features, act)
    new_bn = _stem_bn(stem)
    new_bn.eps, new_bn.momentum = old_bn.eps, old_bn.momentum  # YOLOX's init_yolo values
    darknet.stem = stem.to(next(darknet.parameters()).device)
    return model


def _stem_bn(stem):
    return stem.conv.bn if isinstance(stem, Focus) else stem.bn


def focus_weight_to_conv6(weight):
    """``(C, 12, 3, 3)`` Focus conv weight -> ``(C, 3, 6, 6)`` conv6 weight computing the same function."""
    if weight.dim() != 4 or weight.shape[1:] != (12, 3, 3):
        raise StemConversionError(f"a Focus stem conv weight is (C, 12, 3, 3), got {tuple(weight.shape)}")
    out = weight.new_zeros(weight.shape[0], 3, 6, 6)
    for (a, b), g in GROUP_OF.items():
        out[:, :, a::2, b::2] = weight[:, 3 * g: 3 * g + 3]
    return out


def convert_focus_state_dict(state):
    """A YOLOX model state dict with a Focus stem -> the same with a conv6 stem (new dict)."""
    if FOCUS_KEY not in state:
        if CONV_KEY in state:
            shape = tuple(state[CONV_KEY].shape)
            what = "already converted (6x6 stem conv)" if shape[2:] == (6, 6) else f"a conv stem of shape {shape}"
            raise StemConversionError(f"the checkpoint has no Focus stem: it is {what}")
        raise StemConversionError(f"the checkpoint has no Focus stem ({FOCUS_KEY} missing): is it a YOLOX model?")
    out = {}
    prefix = "backbone.backbone.stem.conv."
    for key, value in state.items():
        if key == FOCUS_KEY:
            out[CONV_KEY] = focus_weight_to_conv6(value)
        elif key.startswith(prefix + "bn."):
            out["backbone.backbone.stem." + key[len(prefix):]] = value
        else:
            out[key] = value
    return out


@torch.no_grad()
def convert_optimizer_state(optimizer_state, focus_shape):
    """Convert per-parameter optimizer tensors (momentum) shaped like the Focus weight, in place.

    SGD's state is linear in the parameter space, so the same re-indexing keeps it exact.
    Returns the number of converted tensors.
    """
    converted = 0
    for state in optimizer_state.get("state", {}).values():
        for key, value in list(state.items()):
            if torch.is_tensor(value) and tuple(value.shape) == tuple(focus_shape):
                state[key] = focus_weight_to_conv6(value)
                converted += 1
    return converted

"""FGD distillation losses."""
from .attention import spatial_channel_attention
from .fgd import ATTENTION_VARIANTS, FG_NORM_VARIANTS, FGDLoss
from .masks import build_masks, valid_box_mask

__all__ = [
    "FGDLoss", "build_masks", "valid_box_mask", "spatial_channel_attention",
    "ATTENTION_VARIANTS", "FG_NORM_VARIANTS",
]

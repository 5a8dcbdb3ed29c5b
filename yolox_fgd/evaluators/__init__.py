"""Device-agnostic evaluators."""
from .coco_evaluator import STAT_NAMES, COCOEvaluator, format_ap_table

__all__ = ["COCOEvaluator", "STAT_NAMES", "format_ap_table"]

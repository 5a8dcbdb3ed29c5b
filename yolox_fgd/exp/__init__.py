"""Experiment base classes (YOLOX ``Exp`` pattern)."""
from .base_exp import Exp

__all__ = ["Exp"]

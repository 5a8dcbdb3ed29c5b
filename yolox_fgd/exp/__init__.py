"""Experiment base classes (YOLOX ``Exp`` pattern)."""
from ..utils.onnx_compat import provide_torch_onnx_export
from .base_exp import Exp

__all__ = ["Exp"]

# YOLOX's ONNX export tool loads our experiment files: give it the torch function it calls
provide_torch_onnx_export()

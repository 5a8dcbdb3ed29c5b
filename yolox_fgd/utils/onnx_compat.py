"""What YOLOX 0.3.0's ONNX export needs from torch and current torch no longer has.

``python -m yolox.tools.export_onnx -f EXP -c CKPT`` calls ``torch.onnx._export``, the
TorchScript-based exporter that torch has since removed (YOLOX issue #1907; YOLOX's fix, PR #1811,
never merged); the tool's ``@logger.catch`` then exits 0 without writing a file. YOLOX itself is
left as it is: :func:`provide_torch_onnx_export` gives torch back the function under that name,
as what it was (``torch.onnx.export`` with the TorchScript exporter, ``dynamo=False``), when it is
missing. Every experiment file of this project imports :mod:`yolox_fgd.exp`, which calls it, so
YOLOX's tool works on them.
"""
import functools

import torch.onnx

__all__ = ["provide_torch_onnx_export"]


def provide_torch_onnx_export():
    """Define ``torch.onnx._export`` if this torch lacks it (no-op otherwise)."""
    if not hasattr(torch.onnx, "_export"):
        torch.onnx._export = functools.partial(torch.onnx.export, dynamo=False)

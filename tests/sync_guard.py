"""A run-time check that code does not synchronise with the host (used by the loss tests).

``HostSyncGuard`` is a ``TorchFunctionMode``: inside it, every torch call made from Python goes
through ``__torch_function__``, where the calls that copy a device value to the host (or whose
output shape depends on tensor values) raise. On a CPU nothing actually waits, but the same
calls block a CUDA stream: this is what "no host syncs inside the training step" means.
"""
import torch
from torch.overrides import TorchFunctionMode

__all__ = ["HostSyncGuard"]

T = torch.Tensor
FORBIDDEN = {
    T.item: "Tensor.item", T.tolist: "Tensor.tolist", T.__bool__: "bool(tensor)", T.__int__: "int(tensor)",
    T.__float__: "float(tensor)", T.__index__: "tensor as an index", T.numpy: "Tensor.numpy", T.cpu: "Tensor.cpu",
    T.nonzero: "Tensor.nonzero", torch.nonzero: "torch.nonzero", torch.where: "torch.where",
    T.masked_select: "masked_select", torch.masked_select: "masked_select", torch.unique: "torch.unique",
    T.unique: "Tensor.unique", torch.argwhere: "torch.argwhere", T.any: None, T.all: None,
}


def _has_bool_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


class HostSyncGuard(TorchFunctionMode):
    """Raise ``AssertionError`` on a host-synchronising call (named in the message).

    ``torch.where`` is allowed with three arguments (elementwise select) and refused with one
    (it returns indices); ``any``/``all`` are allowed as tensors, refused when turned into a
    Python bool (that is ``__bool__``). Boolean-mask indexing (``x[mask]``) is refused.
    """

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.calls += 1
        if func in FORBIDDEN and FORBIDDEN[func] is not None:
            if not (func is torch.where and len(args) + len(kwargs) == 3):
                raise AssertionError(f"host synchronisation: {FORBIDDEN[func]}")
        if func in (T.__getitem__, T.__setitem__) and len(args) > 1 and _has_bool_index(args[1]):
            raise AssertionError("host synchronisation: boolean-mask indexing")
        return func(*args, **kwargs)

"""Small module helpers shared by the trainer, the distiller's hooks and the tools."""
from torch import nn

__all__ = ["unwrap"]


def unwrap(module):
    """The module inside a DDP / DataParallel wrapper (anything with an ``nn.Module`` ``.module``),
    or ``module`` itself."""
    inner = getattr(module, "module", None)
    return inner if isinstance(inner, nn.Module) else module

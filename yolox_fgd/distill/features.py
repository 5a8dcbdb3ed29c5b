"""Forward hooks that capture module outputs by name (timm ``FeatureHooks`` style).

Used on ``student.backbone`` and ``teacher.backbone`` (YOLOX's ``YOLOPAFPN``), whose output is
the tuple ``(pan_out2, pan_out1, pan_out0)``: strides 8/16/32, channels ``(256, 512, 1024) * width``.

YOLOX's ``ModelEMA`` deep-copies the model, hooks included. A hook here only records outputs of
the exact module object it was registered on, so the EMA copy's forward (evaluation) never
overwrites captured features.
"""
from torch import nn

__all__ = ["FeatureHooks", "PAFPN_LEVELS"]

# name -> (index in YOLOPAFPN's output tuple, stride)
PAFPN_LEVELS = {"p3": (0, 8), "p4": (1, 16), "p5": (2, 32)}


def _unwrap(module):
    return module.module if hasattr(module, "module") and isinstance(module.module, nn.Module) else module


class FeatureHooks:
    """Capture the outputs of named submodules.

    Args:
        targets: ``{key: (root_module, dotted_name)}``, e.g.
            ``{"student": (student, "backbone"), "teacher": (teacher, "backbone")}``.
            DDP/DataParallel wrappers (``.module``) are unwrapped.

    Raises:
        KeyError: a dotted name that does not exist (the message names it and the root's children).
    """

    def __init__(self, targets):
        self._outputs = {}
        self._handles = []
        for key, (root, name) in targets.items():
            root = _unwrap(root)
            modules = dict(root.named_modules())
            if name not in modules:
                children = [n for n, _ in root.named_children()]
                raise KeyError(f"no module named {name!r} to hook for {key!r}; top-level modules: {children}")
            module = modules[name]
            self._handles.append(module.register_forward_hook(self._make_hook(key, module)))

    def _make_hook(self, key, expected):
        def hook(module, inputs, output):
            if module is expected:
                self._outputs[key] = output
        return hook

    def pop(self, key):
        """The last captured output of ``key``, cleared after reading."""
        if key not in self._outputs:
            raise RuntimeError(f"no output captured for {key!r}: its module did not run since the last read")
        return self._outputs.pop(key)

    def clear(self):
        self._outputs.clear()

    def remove(self):
        """Remove all hooks and captured outputs."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._outputs.clear()

    @property
    def active(self):
        return bool(self._handles)

"""Where FGD taps a YOLOX model, and forward hooks that capture module outputs by name.

Four taps (``exp.fgd_tap``), per level ``p3``/``p4``/``p5`` (strides 8/16/32):

* ``"stems"``: the outputs of ``head.stems[i]`` (1x1 conv + BN + SiLU to ``256 * width``
  channels), the maps the official FGD YOLOX run distils: it hooks mmdetection's
  ``neck.out_convs``, which mmdetection's YOLOX checkpoint converter renames from Megvii's
  ``head.stems`` (issue 14);
* ``"pafpn"``: the outputs of ``backbone`` (YOLOX's ``YOLOPAFPN``: the tuple
  ``(pan_out2, pan_out1, pan_out0)``, channels ``(256, 512, 1024) * width``), the stems' inputs;
* ``"cls_convs"`` / ``"reg_convs"``: the outputs of the head's classification or regression
  branch ``head.cls_convs[i]`` / ``head.reg_convs[i]`` (two 3x3 convs after the stem, ``256 *
  width`` channels), the maps that ``cls_preds`` (classes) and ``reg_preds``/``obj_preds`` (boxes,
  objectness) read. Not in the paper or the official code: FGD's masks and terms applied one step
  from the detection losses (docs/fgd_on_yolox.md, section 9).

YOLOX's ``ModelEMA`` deep-copies the model, hooks included. A hook here only records outputs of
the exact module object it was registered on, so the EMA copy's forward (evaluation) never
overwrites captured features.
"""
from ..utils.modules import unwrap

__all__ = ["FeatureHooks", "HeadOutputTap", "LEVEL_STRIDES", "PAFPN_LEVELS", "TAPS", "StudentTap", "distilled_maps", "head_logits",
           "maps_at_tap", "reached_prefixes", "tap_channels"]

# name -> (index in YOLOPAFPN's output tuple and in head.stems, stride)
PAFPN_LEVELS = {"p3": (0, 8), "p4": (1, 16), "p5": (2, 32)}
# name -> stride in pixels
LEVEL_STRIDES = {lvl: stride for lvl, (_, stride) in PAFPN_LEVELS.items()}
TAPS = ("stems", "pafpn", "cls_convs", "reg_convs")


def _check_tap(tap):
    if tap not in TAPS:
        raise ValueError(f"fgd_tap must be one of {TAPS}, got {tap!r}")


def tap_channels(model, tap):
    """``{level: channels}`` of a YOLOX model's maps at ``tap``, read from its head's layers."""
    _check_tap(tap)
    head = model.head
    read = {"pafpn": lambda i: head.stems[i].conv.in_channels,
            "stems": lambda i: head.stems[i].conv.out_channels,
            "cls_convs": lambda i: head.cls_preds[i].in_channels,
            "reg_convs": lambda i: head.reg_preds[i].in_channels}[tap]
    return {lvl: read(idx) for lvl, (idx, _) in PAFPN_LEVELS.items()}


def reached_prefixes(tap):
    """Name prefixes of the student's parameters that FGD's gradient reaches at ``tap``: the
    backbone, and the head's modules up to the tap (``str.startswith`` accepts the tuple)."""
    _check_tap(tap)
    if tap == "pafpn":
        return ("backbone.",)
    return ("backbone.", "head.stems.") + (() if tap == "stems" else (f"head.{tap}.",))


def distilled_maps(model, images, tap, levels):
    """The maps of ``model`` at ``tap`` for ``images`` ``(N, 3, H, W)``: its backbone (and, for the
    head's taps, the head's stems and the tapped branch of the distilled levels; nothing else of
    the head runs).

    Returns:
        ``{level: (N, C, H/stride, W/stride)}``.
    """
    return maps_at_tap(model, model.backbone(images), tap, levels)


def maps_at_tap(model, fpn, tap, levels):
    """:func:`distilled_maps` from the backbone's outputs ``fpn`` (YOLOPAFPN's tuple), for a caller
    that needs them for more than one purpose (the teacher's head outputs, ``head_logits``)."""
    _check_tap(tap)
    if tap == "pafpn":
        return {lvl: fpn[PAFPN_LEVELS[lvl][0]] for lvl in levels}
    maps = {}
    for lvl in levels:
        idx = PAFPN_LEVELS[lvl][0]
        x = model.head.stems[idx](fpn[idx])
        maps[lvl] = x if tap == "stems" else getattr(model.head, tap)[idx](x)
    return maps


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
            root = unwrap(root)
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


def head_logits(model, fpn, branch_maps=None):
    """The head's raw outputs at every level from the backbone's outputs ``fpn``: objectness
    ``obj_preds(reg_convs(stems(x)))``, classes ``cls_preds(cls_convs(stems(x)))`` and the box
    regression ``reg_preds(reg_convs(stems(x)))``, as ``YOLOXHead.forward`` computes them.

    Args:
        branch_maps: a dict to fill with ``{level: (cls, reg)}``, the maps after the first conv of
            each branch (what cross-head distillation needs, :mod:`yolox_fgd.distill.cross_head`),
            or ``None``.

    Returns:
        ``{level: (obj (N, 1, H, W), cls (N, num_classes, H, W), reg (N, 4, H, W))}``, logits
        (before the sigmoid) and undecoded boxes (centre offset and log size in grid cells).
    """
    head, out = model.head, {}
    for lvl, (idx, _) in PAFPN_LEVELS.items():
        x = head.stems[idx](fpn[idx])
        cls_feat, reg_feat = head.cls_convs[idx][0](x), head.reg_convs[idx][0](x)
        if branch_maps is not None:
            branch_maps[lvl] = (cls_feat, reg_feat)
        cls_feat, reg_feat = head.cls_convs[idx][1:](cls_feat), head.reg_convs[idx][1:](reg_feat)
        out[lvl] = (head.obj_preds[idx](reg_feat), head.cls_preds[idx](cls_feat), head.reg_preds[idx](reg_feat))
    return out


class HeadOutputTap:
    """Captures the student's raw objectness and class logits and box regressions (the outputs of
    ``head.obj_preds[i]``, ``head.cls_preds[i]`` and ``head.reg_preds[i]``) during its own
    training forward, with their graph.

    Args:
        model: the student (DDP wrappers are unwrapped).
    """

    def __init__(self, model):
        targets = {}
        for lvl, (idx, _) in PAFPN_LEVELS.items():
            targets[f"obj_{lvl}"] = (model, f"head.obj_preds.{idx}")
            targets[f"cls_{lvl}"] = (model, f"head.cls_preds.{idx}")
            targets[f"reg_{lvl}"] = (model, f"head.reg_preds.{idx}")
        self.hooks = FeatureHooks(targets)

    def pop(self):
        """``{level: (obj, cls, reg)}`` of the last forward, cleared after reading."""
        return {lvl: tuple(self.hooks.pop(f"{out}_{lvl}") for out in ("obj", "cls", "reg")) for lvl in PAFPN_LEVELS}

    def remove(self):
        self.hooks.remove()


class StudentTap:
    """Captures the student's maps at ``tap`` during its own forward (the tensors its head
    consumes, with their autograd graph).

    Args:
        model: the student (a YOLOX model; DDP wrappers are unwrapped).
        tap: one of :data:`TAPS`.
        levels: the distilled levels.
    """

    def __init__(self, model, tap, levels):
        _check_tap(tap)
        self.tap, self.levels = tap, tuple(levels)
        if tap == "pafpn":
            self.hooks = FeatureHooks({"pafpn": (model, "backbone")})
        else:
            self.hooks = FeatureHooks({lvl: (model, f"head.{tap}.{PAFPN_LEVELS[lvl][0]}") for lvl in self.levels})

    def pop(self):
        """``{level: map}`` of the last forward, cleared after reading."""
        if self.tap == "pafpn":
            fpn = self.hooks.pop("pafpn")
            return {lvl: fpn[PAFPN_LEVELS[lvl][0]] for lvl in self.levels}
        return {lvl: self.hooks.pop(lvl) for lvl in self.levels}

    def remove(self):
        self.hooks.remove()

    @property
    def active(self):
        return self.hooks.active

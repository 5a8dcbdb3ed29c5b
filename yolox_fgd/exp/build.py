"""Load an experiment from a file (``-f``) or a YOLOX name (``-n yolox-s``), with clear errors."""
import importlib
import os
import sys

__all__ = ["load_exp"]


def load_exp(exp_file=None, exp_name=None):
    """The ``Exp()`` of ``exp_file``, or YOLOX's default experiment called ``exp_name``.

    A YOLOX name (``-n yolox-s``) gives YOLOX's experiment of that name on top of this project's
    ``Exp`` (CPU/CUDA, checked data, typed options): YOLOX's own values, this project's behaviour.

    Raises:
        FileNotFoundError: ``exp_file`` does not exist.
        ImportError: the file fails to import (chained) or defines no ``Exp``.
        ValueError: neither is given, or the name is unknown.
    """
    if exp_file is not None:
        if not os.path.isfile(exp_file):
            raise FileNotFoundError(f"experiment file not found: {exp_file}")
        folder = os.path.dirname(os.path.abspath(exp_file))
        if folder not in sys.path:
            sys.path.append(folder)
        module_name = os.path.splitext(os.path.basename(exp_file))[0]
        try:
            module = importlib.import_module(module_name)
        except Exception as e:
            raise ImportError(f"cannot import experiment file {exp_file}: {e}") from e
        if not hasattr(module, "Exp"):
            raise ImportError(f"experiment file {exp_file} defines no class named 'Exp'")
        return module.Exp()
    if exp_name is not None:
        module_name = "yolox.exp.default." + exp_name.replace("-", "_")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            raise ValueError(
                f"unknown experiment name {exp_name!r}: YOLOX knows yolox-nano, yolox-tiny, yolox-s, "
                "yolox-m, yolox-l, yolox-x, yolov3; or give an exp file with -f"
            ) from e
        from .base_exp import Exp

        exp = type("Exp", (Exp, module.Exp), {"__module__": module_name})()
        exp.exp_name = module_name.rsplit(".", 1)[1]
        return exp
    raise ValueError("give an experiment file with -f/--exp_file or a name with -n/--name")

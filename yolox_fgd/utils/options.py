"""Typed ``key value`` options after the CLI arguments (``tools/train.py ... max_epoch 5``).

YOLOX 0.3.0's ``Exp.merge`` converts a value with the type of the current attribute, so
``ema False`` becomes ``bool("False") == True`` and ``input_size (320,320)`` becomes a tuple of
characters. Here values are parsed as Python literals first and then checked against the type
of the attribute they replace.
"""
import ast

__all__ = ["parse_value", "merge_opts"]

_BOOL = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def parse_value(text):
    """A Python value from its command-line text.

    ``"False"``/``"true"`` -> bool, ``"3"`` -> int, ``"1e-3"`` -> float, ``"(320,320)"`` or
    ``"320,320"`` -> tuple of ints, ``"None"`` -> None, anything else -> the string itself.
    """
    if not isinstance(text, str):
        return text
    s = text.strip()
    if s.lower() in _BOOL:
        return _BOOL[s.lower()]
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError):
        pass
    if "," in s:
        return tuple(parse_value(p) for p in s.strip("()[]").split(",") if p.strip())
    return s


def _coerce(key, value, current):
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"option {key}: expected True or False, got {value!r}")
        return value
    if isinstance(current, int) and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(current, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(current, (tuple, list)):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (value,) * len(current) if len(current) else (value,)
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"option {key}: expected a tuple like (320,320), got {value!r}")
        return type(current)(value)
    if isinstance(current, str) and isinstance(value, str):
        return value
    if isinstance(current, str):
        return str(value)
    if type(value) is not type(current):
        raise ValueError(
            f"option {key}: expected {type(current).__name__} (current value {current!r}), got {value!r}"
        )
    return value


def merge_opts(exp, opts):
    """Set ``exp`` attributes from ``[key, value, key, value, ...]`` strings.

    Raises:
        ValueError: odd number of items, an unknown key (no such Exp attribute), or a value of
            the wrong type; the message names the key.
    """
    opts = list(opts or [])
    if len(opts) % 2:
        raise ValueError(f"options must come in 'key value' pairs, got {len(opts)} items: {opts}")
    for key, text in zip(opts[0::2], opts[1::2]):
        if not hasattr(exp, key):
            raise ValueError(f"unknown option {key!r}: the experiment has no attribute of that name")
        setattr(exp, key, _coerce(key, parse_value(text), getattr(exp, key)))
    return exp

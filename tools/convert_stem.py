#!/usr/bin/env python3
"""Convert a YOLOX checkpoint's Focus stem to the equivalent 6x6 conv: ``--ckpt IN --out OUT``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.convert_stem import cli  # noqa: E402

if __name__ == "__main__":
    cli()

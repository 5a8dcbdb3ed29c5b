#!/usr/bin/env python3
"""YOLOX inference demo with the dataset's class names:
``python tools/demo.py image -f EXP -c CKPT --path IMG --device cpu [--save_result]``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.demo import cli  # noqa: E402

if __name__ == "__main__":
    cli()

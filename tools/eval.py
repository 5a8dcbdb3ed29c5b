#!/usr/bin/env python3
"""Evaluate a YOLOX checkpoint with pycocotools: ``python tools/eval.py -f EXP_FILE -c CKPT [--device cpu]``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.eval import cli  # noqa: E402

if __name__ == "__main__":
    cli()

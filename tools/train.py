#!/usr/bin/env python3
"""Train a YOLOX model (plain or FGD-distilled): ``python tools/train.py -f EXP_FILE [-b 64] [--fp16] [key value ...]``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.train import cli  # noqa: E402

if __name__ == "__main__":
    cli()

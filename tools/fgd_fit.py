#!/usr/bin/env python3
"""Does an FGD run's projection fit the teacher: ``python tools/fgd_fit.py -f EXP -c CKPT``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.fgd_fit import cli  # noqa: E402

if __name__ == "__main__":
    cli()

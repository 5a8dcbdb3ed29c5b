#!/usr/bin/env python3
"""The one-command FGD demo on the embedded dataset (teacher, baseline student, FGD student,
COCO evaluation, table and pictures): ``python tools/fgd_demo.py`` (``--help`` for options)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.fgd_demo import cli  # noqa: E402

if __name__ == "__main__":
    cli()

#!/usr/bin/env python3
"""Foreground share per level and map statistics of teacher and student: ``python tools/map_stats.py -f FGD_EXP``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.map_stats import cli  # noqa: E402

if __name__ == "__main__":
    cli()

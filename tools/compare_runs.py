#!/usr/bin/env python3
"""Compare training runs (table, AP plot, seed groups, --diff): ``python tools/compare_runs.py RUN_DIR...``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.compare_runs import cli  # noqa: E402

if __name__ == "__main__":
    cli()

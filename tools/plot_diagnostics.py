#!/usr/bin/env python3
"""Draw a run's FGD diagnostics: ``python tools/plot_diagnostics.py RUN_DIR``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.plot_diagnostics import cli  # noqa: E402

if __name__ == "__main__":
    cli()

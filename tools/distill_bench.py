#!/usr/bin/env python3
"""Arms x seeds on the embedded benchmark: ``python tools/distill_bench.py --suite remedies``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.cli.distill_bench import cli  # noqa: E402

if __name__ == "__main__":
    cli()

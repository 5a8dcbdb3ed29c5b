"""``tools/plot_diagnostics.py RUN_DIR [--out PNG]``: draw a run's FGD diagnostics.

The run must have been trained with ``distill_diagnostics_interval N`` (it writes
``RUN_DIR/diagnostics.jsonl``). Also prints, per level and term, the median over the run of the
gradient ratio (over the whole student, and over the parameters FGD reaches: backbone and
PAFPN, plus the head's stems with the stem tap), of the cosine between the term's gradient and
the detection loss's (and the same for the sum of all FGD terms), and of the weighted term.
"""
import argparse
import os
import statistics

from ..distill.diagnostics import read_diagnostics
from ..visualize.diagnostics import plot_diagnostics
from .common import run_cli

__all__ = ["main"]


def main(argv=None):
    p = argparse.ArgumentParser("yolox-fgd plot_diagnostics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder with diagnostics.jsonl")
    p.add_argument("--out", default=None, help="PNG (default RUN/diagnostics.png)")
    args = p.parse_args(argv)
    records = read_diagnostics(args.run)
    if not records:
        raise FileNotFoundError(f"{args.run}/diagnostics.jsonl is missing or empty: train with distill_diagnostics_interval N")
    out = args.out or os.path.join(args.run, "diagnostics.png")
    plot_diagnostics(records, out, title=os.path.basename(os.path.normpath(args.run)))
    reached = all("grad_rel_reached" in r for r in records)
    has_cos = all("grad_cos" in r for r in records)
    cos = []
    print("| term | median grad / detection grad | " + ("median, where FGD reaches | " if reached else "") +
          ("median cosine with the detection grad | " if has_cos else "") + "median weighted value | max weighted value |")
    print("|---|---|---|---|" + ("---|" if reached else "") + ("---|" if has_cos else ""))
    for key in records[0]["grad_rel"]:
        g = [r["grad_rel"][key] for r in records]
        v = [r["terms"][key] for r in records]
        part = f"{statistics.median(r['grad_rel_reached'][key] for r in records):.3g} | " if reached else ""
        part += f"{statistics.median(r['grad_cos'][key] for r in records):.3g} | " if has_cos else ""
        print(f"| {key} | {statistics.median(g):.3g} | {part}{statistics.median(v):.3g} | {max(v):.3g} |")
    if has_cos:
        # where FGD reaches, its gradient is all of its gradient: the ratio and cosine rescale by
        # detection's whole norm over its norm there
        scale = [r["detection_grad_norm"] / r["detection_grad_norm_reached"] for r in records] if reached else None
        rel_there = f"{statistics.median(r['fgd_grad_rel'] * k for r, k in zip(records, scale)):.3g} | " if reached else ""
        cos = [r["fgd_grad_cos"] * k for r, k in zip(records, scale)] if reached else []
        print(f"| all FGD terms | {statistics.median(r['fgd_grad_rel'] for r in records):.3g} | {rel_there}"
              f"{statistics.median(r['fgd_grad_cos'] for r in records):.3g} | | |")
    summary = ""
    if cos:
        summary = (f"\nall FGD terms where FGD reaches: gradient / detection gradient {rel_there.strip(' |')} (median), "
                   f"cosine with the detection gradient median {statistics.median(cos):.3g}, "
                   f"from {min(cos):.3g} to {max(cos):.3g} over {len(cos)} records")
    print(f"| detection loss | 1 | {'1 | ' if reached else ''}{'1 | ' if has_cos else ''}"
          f"{statistics.median(r['detection_loss'] for r in records):.3g} | "
          f"{max(r['detection_loss'] for r in records):.3g} |")
    if summary:
        print(summary)
    print(f"\nplot: {out}")
    return records


def cli():
    run_cli(main)

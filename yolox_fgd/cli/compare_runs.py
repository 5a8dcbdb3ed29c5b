"""``tools/compare_runs.py RUN_DIR...``: compare training runs (best/last AP, AP50, APs/m/l,
epochs, wall time), grouping runs whose settings differ only in the seed (mean and standard
deviation), and plot AP against epoch for all runs.

A run folder is what ``tools/train.py`` writes: ``metrics.jsonl`` (one line per evaluation) and
``exp.json`` (the experiment's values).

    python tools/compare_runs.py outputs/stems/* --plot docs/stems.png --diff
"""
import argparse
import json
import os
import statistics

from ..visualize.ap_curves import plot_ap_curves, read_metrics
from .common import run_cli

__all__ = ["main", "load_run", "group_runs", "format_table", "differing_values"]

IGNORED_FOR_GROUPING = ("seed", "output_dir", "exp_name", "command")


def load_run(path):
    """``{"name", "path", "exp", "metrics"}`` of a run folder.

    Raises:
        FileNotFoundError: the folder holds no run (no metrics.jsonl / exp.json).
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"not a folder: {path}")
    exp_file = os.path.join(path, "exp.json")
    metrics = read_metrics(path)
    if not os.path.isfile(exp_file) and not metrics:
        raise FileNotFoundError(
            f"{path} holds no training run (no metrics.jsonl or exp.json): give folders that tools/train.py wrote, "
            "e.g. YOLOX_outputs/<experiment>"
        )
    exp = {}
    if os.path.isfile(exp_file):
        with open(exp_file) as f:
            exp = json.load(f)
    return {"name": os.path.basename(os.path.normpath(path)), "path": path, "exp": exp, "metrics": metrics}


def group_runs(runs):
    """Runs grouped by their experiment values except the seed: ``[(label, [runs])]``."""
    groups = {}
    for run in runs:
        key = json.dumps({k: v for k, v in run["exp"].items() if k not in IGNORED_FOR_GROUPING}, sort_keys=True)
        groups.setdefault(key, []).append(run)
    out = []
    for members in groups.values():
        names = [r["name"] for r in members]
        prefix = os.path.commonprefix(names).rstrip("_-") if len(names) > 1 else names[0]
        out.append((prefix or members[0]["exp"].get("exp_name", names[0]), members))
    return out


def _summary(run):
    m = run["metrics"]
    last = m[-1] if m else {}
    return {"best": max((r["AP"] for r in m), default=float("nan")), "last": last.get("AP", float("nan")),
            "AP50": last.get("AP50", float("nan")), "APs": last.get("APs", float("nan")),
            "APm": last.get("APm", float("nan")), "APl": last.get("APl", float("nan")),
            "epochs": last.get("epoch", 0), "seconds": last.get("train_seconds", float("nan"))}


def _fmt(values, scale=100.0, digits=1):
    values = [v * scale for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def format_table(groups):
    head = "| run | seeds | best AP | last AP | AP50 | APs | APm | APl | epochs | wall time (min) |"
    lines = [head, "|" + "---|" * 10]
    for label, members in groups:
        s = [_summary(r) for r in members]
        lines.append(
            f"| {label} | {len(members)} | {_fmt([x['best'] for x in s])} | {_fmt([x['last'] for x in s])} | "
            f"{_fmt([x['AP50'] for x in s])} | {_fmt([x['APs'] for x in s])} | {_fmt([x['APm'] for x in s])} | "
            f"{_fmt([x['APl'] for x in s])} | {max(x['epochs'] for x in s)} | "
            f"{_fmt([x['seconds'] for x in s], scale=1 / 60)} |")
    return "\n".join(lines)


def differing_values(runs):
    """``{key: {run name: value}}`` for every experiment value that is not the same in all runs
    (the recorded command line is left out: it always differs)."""
    keys = sorted(set().union(*(r["exp"] for r in runs)) - {"command"})
    out = {}
    for k in keys:
        values = {r["name"]: r["exp"].get(k, "<unset>") for r in runs}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
            out[k] = values
    return out


def main(argv=None):
    p = argparse.ArgumentParser("yolox-fgd compare_runs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--plot", default="compare_runs.png", help="PNG of AP against epoch")
    p.add_argument("--diff", action="store_true", help="list the experiment values that differ between runs")
    args = p.parse_args(argv)
    runs = [load_run(path) for path in args.runs]
    groups = group_runs(runs)
    table = format_table(groups)
    print(table)
    plot_ap_curves({r["name"]: r["metrics"] for r in runs}, args.plot)
    print(f"\nplot: {args.plot}")
    if args.diff:
        diff = differing_values(runs)
        print("\nexperiment values that differ:" if diff else "\nno experiment value differs")
        for k, values in diff.items():
            print(f"  {k}: " + ", ".join(f"{n}={v!r}" for n, v in values.items()))
    return groups


def cli():
    run_cli(main)

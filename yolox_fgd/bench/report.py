"""What a benchmark call reports: the teacher's evaluation, the table, the AP curves, the JSON.

The table has one markdown row per arm (mean ± standard deviation over the seeds of AP, AP50,
APs, APm, APl and training time, the gain over the baseline paired by seed, the share of the
teacher-student gap closed); the figure draws AP against epoch with the seed spread as a band;
the JSON holds all of it (AP in percent, times in seconds) with what the numbers were measured
on: the machine, the datasets' fingerprints and the benchmark's split statistics (object sizes
and foreground share, :func:`yolox_fgd.data.stats.split_stats`).
"""
import json
import os

from ..cli.training_runs import repo_path
from .arms import load_arm_exp
from .runner import say
from .statistics import STAT_KEYS

__all__ = ["teacher_stats", "format_table", "plot_curves", "dataset_root", "dataset_fingerprints",
           "benchmark_stats", "results_payload"]


def teacher_stats(teacher_exp, teacher_ckpt, out, batch_size, device="cpu", report_only=False):
    """COCO stats of the teacher checkpoint (cached in ``out/teacher_eval.json`` by checksum), or
    ``None`` when the checkpoint does not exist (the report then has no teacher row).

    Raises:
        FileNotFoundError: ``report_only`` and no cached evaluation of this checkpoint.
    """
    from ..cli.eval import evaluate_checkpoint
    from ..exp.build import load_exp
    from ..utils.checkpoint import file_sha256

    if not os.path.isfile(teacher_ckpt):
        say(f"no teacher checkpoint {repo_path(teacher_ckpt)}: the report has no teacher row and no gap closed")
        return None
    digest = file_sha256(teacher_ckpt)
    cache = os.path.join(out, "teacher_eval.json")
    if os.path.isfile(cache):
        with open(cache) as f:
            data = json.load(f)
        if data.get("sha256") == digest:
            return data["stats"]
    if report_only:
        raise FileNotFoundError(f"{cache} is missing or for another teacher: run without --report once")
    say(f"evaluating the teacher {repo_path(teacher_ckpt)} ...")
    stats, _ = evaluate_checkpoint(load_exp(teacher_exp), teacher_ckpt, batch_size=batch_size, device=device)
    with open(cache, "w") as f:
        json.dump({"sha256": digest, "ckpt": teacher_ckpt, "stats": stats}, f, indent=1)
    return stats


def _cell(mean, std, fmt="{:.1f}"):
    return fmt.format(mean) if std is None else f"{fmt.format(mean)} ± {fmt.format(std).lstrip('+')}"


def format_table(arms, teacher_ap):
    """The markdown table of :func:`~yolox_fgd.bench.statistics.summarize`'s arms; ``teacher_ap``
    ``None``: the teacher row says it was not evaluated."""
    head = ("| arm | seeds | AP | AP50 | APs | APm | APl | train time (s) | AP - baseline, paired | gap closed |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    teacher = "not evaluated" if teacher_ap is None else f"{teacher_ap:.1f}"
    lines = [head, f"| teacher | - | {teacher} | | | | | | | |"]
    for arm in arms:
        if not arm["runs"]:
            lines.append(f"| {arm['name']} | 0 | not run | | | | | | | |")
            continue
        cells = [_cell(arm["mean"][k], arm["std"][k]) for k in ("ap", "ap50", "aps", "apm", "apl")]
        gap = "" if arm["gap_closed_pct"] is None else f"{arm['gap_closed_pct']:+.1f}%"
        gain = arm["gain_ap"]
        gain = "" if gain is None or arm["name"] == "baseline" else _cell(gain["mean"], gain["std"], "{:+.1f}")
        failed = sum(r["status"] == "failed" for r in arm["runs"])
        seeds = f"{len(arm['runs'])}" + (f" ({failed} failed)" if failed else "")
        late = any("start_from" in r for r in arm["runs"])
        lines.append(f"| {arm['name']} | {seeds} | " + " | ".join(cells) +
                     f" | {_cell(arm['mean']['train_time_s'], arm['std']['train_time_s'], '{:.0f}')}"
                     f"{' *' if late else ''} | {gain} | {gap} |")
    if any("start_from" in r for arm in arms for r in arm["runs"]):
        lines.append("\n\\* some or all of the arm's runs started from another arm's checkpoint of the epoch mosaic "
                     "closes on (--from-mosaic): their time is the mosaic-free epochs' only")
    return "\n".join(lines)


def plot_curves(arms, path, teacher_ap):
    """AP against epoch per arm, mean ± std over its runs as a band, in ``path`` (PNG)."""
    from ..visualize.ap_curves import plot_ap_bands

    groups = {a["name"]: [r["metrics"] for r in a["runs"]] for a in arms}
    title = "AP against epoch, mean ± std over seeds"
    if teacher_ap is not None:
        groups["teacher (final)"] = []
        title += f" (teacher {teacher_ap:.1f})"
    plot_ap_bands(groups, path, title=title)


def dataset_root(exp):
    """The dataset folder of ``exp`` without generating it: a synthetic dataset's folder (which
    may not exist yet), else the experiment's ``data_dir``."""
    if getattr(exp, "synthetic_dataset", None) is not None:
        from ..data.synthetic import default_root

        return exp.data_dir or default_root(exp.synthetic_name)
    return exp.resolve_data_dir()


def dataset_fingerprints(arms):
    """``{data_dir: sha256}`` of the generated datasets the arms trained on
    (:func:`~yolox_fgd.data.synthetic.dataset_fingerprint`; ``None`` for a folder not generated yet):
    results from two machines are comparable only if these agree."""
    from ..data.synthetic import dataset_fingerprint

    out = {}
    for arm in arms:
        exp = load_arm_exp(arm.exp, arm.opts)
        if getattr(exp, "synthetic_dataset", None) is None:
            continue
        root = dataset_root(exp)
        if root not in out:
            try:
                out[root] = dataset_fingerprint(root)
            except FileNotFoundError:
                out[root] = None
    return {repo_path(k): v for k, v in out.items()}


def benchmark_stats(name, arms):
    """``{"name", "input_size", ...}``: the benchmark, the nominal input side (the ``baseline``
    arm's ``input_size[0]``, else the first arm's) and, when its dataset exists, the
    validation split's :func:`~yolox_fgd.data.stats.split_stats` at that side (``fg_fraction``,
    ``size_mix``, ...) with the dataset folder."""
    from ..data.stats import split_stats

    arm = next((a for a in arms if a.name == "baseline"), arms[0])
    exp = load_arm_exp(arm.exp, arm.opts)
    side = int(exp.input_size[0])
    root = dataset_root(exp)
    ann = os.path.join(root, "annotations", exp.val_ann)
    synthetic_ready = getattr(exp, "synthetic_dataset", None) is None or os.path.exists(os.path.join(root, ".complete"))
    if not (synthetic_ready and os.path.isfile(ann)):
        return {"name": name, "input_size": side}
    return {"name": name, "input_size": side, "dataset": repo_path(root), **split_stats(ann, side)}


def results_payload(arms, table, teacher, benchmark, settings):
    """The results JSON.

    Args:
        arms: :func:`~yolox_fgd.bench.statistics.summarize`'s arms, with ``exp`` and ``overrides``.
        teacher: ``{"exp", "ckpt", "stats"}`` (``stats`` ``None``: not evaluated).
        benchmark: :func:`benchmark_stats`.
        settings: ``seeds``, ``batch_size``, ``device``, ``jobs``, ``threads_per_run``, ``machine``,
            ``dataset_sha256``, ``command``, ``date``: copied as they are.
    """
    stats = teacher["stats"]
    return {
        "teacher": {"exp": repo_path(teacher["exp"]), "ckpt": repo_path(teacher["ckpt"]),
                    "ap": None if stats is None else round(100 * stats["AP"], 2),
                    **{k.lower(): None if stats is None else round(100 * stats[k], 2) for k in STAT_KEYS[1:]}},
        "benchmark": benchmark,
        "arms": [{k: a[k] for k in ("name", "exp", "overrides", "runs", "mean", "std", "gain_ap", "gap_closed_pct")}
                 for a in arms],
        **settings,
        "table": table,
    }

"""AP (COCO AP50:95) against epoch for several runs, from their ``metrics.jsonl``."""
import json
import os

__all__ = ["read_metrics", "plot_ap_curves", "plot_ap_bands"]


def read_metrics(run_dir):
    """The evaluations a trainer appended to ``run_dir/metrics.jsonl`` (list of dicts)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_ap_curves(runs, path, title="COCO AP on the validation set"):
    """Write a PNG with one AP curve per run.

    Args:
        runs: ``{label: [metrics records]}`` (records with ``epoch`` and ``AP`` as fractions).
        path: output PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, records in runs.items():
        if records:
            ax.plot([r["epoch"] for r in records], [100 * r["AP"] for r in records], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("AP50:95 (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_ap_bands(groups, path, title="AP against epoch (mean over seeds, band: ± one std)"):
    """Write a PNG with one curve per group of runs: the mean AP over the runs at each epoch they
    all evaluated, and a band of ± one standard deviation.

    Args:
        groups: ``{label: [records of run 1, records of run 2, ...]}`` (``metrics.jsonl`` records).
        path: output PNG path.
    """
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.4), dpi=120)
    for label, runs in groups.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        epochs = sorted(set.intersection(*({rec["epoch"] for rec in r} for r in runs)))
        by_epoch = [[100 * next(rec["AP"] for rec in r if rec["epoch"] == e) for r in runs] for e in epochs]
        mean = [statistics.mean(v) for v in by_epoch]
        std = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in by_epoch]
        line, = ax.plot(epochs, mean, marker="o", label=f"{label} (n={len(runs)})")
        ax.fill_between(epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                        color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("AP50:95 (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

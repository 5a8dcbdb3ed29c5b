"""AP (COCO AP50:95) against epoch for several runs, from their ``metrics.jsonl``."""
import json
import os

__all__ = ["read_metrics", "plot_ap_curves"]


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

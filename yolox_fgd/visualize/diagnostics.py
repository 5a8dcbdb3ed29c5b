"""Plots of ``diagnostics.jsonl`` (see :mod:`yolox_fgd.distill.diagnostics`): per level, the
gradient each FGD term sends into the student relative to the detection loss's, the RMS of the
compared maps, the entropy of both channel attentions and (in records that have it) the cosine
of each term's gradient with the detection gradient, against the iteration."""
import math

__all__ = ["plot_diagnostics"]

TERM_STYLE = {"fg": "-", "bg": "--", "attention": ":", "rela": "-."}


def plot_diagnostics(records, path, title="FGD diagnostics"):
    """Write a PNG with three rows (gradient ratio, map RMS, channel-attention entropy), a fourth
    (gradient cosine with detection) when the records have ``grad_cos``, and one column per level.

    Args:
        records: the records of one run's ``diagnostics.jsonl``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not records:
        raise ValueError("no diagnostics records to plot: train with distill_diagnostics_interval N")
    levels = list(records[0]["maps"])
    its = [r["iter"] for r in records]
    rows = 4 if all("grad_cos" in r for r in records) else 3
    fig, axes = plt.subplots(rows, len(levels), figsize=(4.2 * len(levels), 3.0 * rows), dpi=110, squeeze=False)
    for col, lvl in enumerate(levels):
        ax = axes[0][col]
        for term, style in TERM_STYLE.items():
            key = f"{term}_{lvl}"
            ys = [r["grad_rel"].get(key, math.nan) for r in records]
            ax.plot(its, [max(y, 1e-6) for y in ys], style, label=term)
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(f"{lvl}: |grad FGD term| / |grad detection|", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[1][col]
        ax.plot(its, [r["maps"][lvl]["rms_s"] for r in records], label="student (aligned)")
        ax.plot(its, [r["maps"][lvl]["rms_t"] for r in records], label="teacher")
        ax.set_yscale("log")
        ax.set_title(f"{lvl}: RMS of the compared maps", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[2][col]
        ax.plot(its, [r["maps"][lvl]["entropy_c_s"] for r in records], label="student")
        ax.plot(its, [r["maps"][lvl]["entropy_c_t"] for r in records], label="teacher")
        ax.set_title(f"{lvl}: channel-attention entropy (nats)", fontsize=9)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
        if rows == 4:
            ax = axes[3][col]
            for term, style in TERM_STYLE.items():
                ax.plot(its, [r["grad_cos"].get(f"{term}_{lvl}", math.nan) for r in records], style, label=term)
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.set_ylim(-1, 1)
            ax.set_title(f"{lvl}: cosine of grad FGD term with grad detection", fontsize=9)
            ax.set_xlabel("iteration")
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

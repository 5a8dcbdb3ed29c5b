"""Statistics of a benchmark: mean ± standard deviation per arm, gains paired by seed, gap closed.

Every arm is trained once per seed, and seed k gives every arm the same initial student and the
same data (docs/distill_bench.md); so an arm is compared with the ``baseline`` arm seed by seed,
over the seeds both have, and the share of the teacher-student gap it closes is
``(arm - baseline) / (teacher - baseline)``.
"""
import statistics

__all__ = ["STAT_KEYS", "mean_std", "summarize"]

# the COCO statistics a run reports (its last evaluation), in percent in the results
STAT_KEYS = ("AP", "AP50", "APs", "APm", "APl")


def mean_std(values):
    """Mean and sample standard deviation; the deviation of one value is ``None`` (not 0), the
    mean of none NaN."""
    if not values:
        return float("nan"), None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize(arms, teacher_ap):
    """Per arm: mean and std of each statistic, the paired gain over the ``baseline`` arm and the
    share of the teacher-student gap closed (in place; returns ``arms``).

    The gain is paired by seed (an arm's run of seed k against the baseline's run of seed k: the
    same initial student and the same data), over the seeds both have: ``gain_ap`` holds its mean,
    standard deviation and the seeds. The gap closed is ``mean gain / (teacher - baseline)`` with the
    baseline's mean over those seeds, which for an arm with the baseline's seeds is
    ``(arm - baseline) / (teacher - baseline)``; an arm run on fewer seeds is compared on its seeds
    only, not with the baseline's other draws.

    Args:
        arms: ``[{"name", "runs": [{"seed", "ap", "ap50", "aps", "apm", "apl", "train_time_s"}]}]``
            (AP in percent).
        teacher_ap: the teacher's AP in percent; ``None`` (not evaluated): no gap closed.
    """
    base = next((a for a in arms if a["name"] == "baseline"), None)
    base_by_seed = {r["seed"]: r["ap"] for r in base["runs"]} if base else {}
    for arm in arms:
        arm["mean"], arm["std"] = {}, {}
        for key in [k.lower() for k in STAT_KEYS] + ["train_time_s"]:
            arm["mean"][key], arm["std"][key] = mean_std([r[key] for r in arm["runs"]])
        paired = [(r["ap"], base_by_seed[r["seed"]], r["seed"]) for r in arm["runs"] if r["seed"] in base_by_seed]
        arm["gain_ap"], arm["gap_closed_pct"] = None, None
        if paired:
            gain_mean, gain_std = mean_std([a - b for a, b, _ in paired])
            arm["gain_ap"] = {"mean": gain_mean, "std": gain_std, "seeds": [k for _, _, k in paired]}
            base_ap = statistics.mean(b for _, b, _ in paired)
            if teacher_ap is not None and teacher_ap > base_ap:
                arm["gap_closed_pct"] = 100 * gain_mean / (teacher_ap - base_ap)
    return arms

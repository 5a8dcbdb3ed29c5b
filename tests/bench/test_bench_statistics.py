"""yolox_fgd/bench/statistics.py: means, gains paired by seed, the gap closed."""
from yolox_fgd.bench.report import format_table
from yolox_fgd.bench.statistics import mean_std, summarize


def _arms():
    """A 3-seed baseline (20, 28, 22 AP) and an arm run on seed 0 only (21 AP)."""
    arms = [{"name": "baseline", "runs": [{"seed": 0, "ap": 20.0}, {"seed": 1, "ap": 28.0}, {"seed": 2, "ap": 22.0}]},
            {"name": "one_seed", "runs": [{"seed": 0, "ap": 21.0}]}]
    for arm in arms:
        for run in arm["runs"]:
            run.update(ap50=0.0, aps=0.0, apm=0.0, apl=0.0, train_time_s=1.0, status="ok")
    return arms


def test_an_arm_on_fewer_seeds_is_compared_with_the_baseline_on_its_seeds():
    """With a 3-seed baseline (20, 28, 22 AP) and an arm run on seed 0 only (21 AP), the gain is
    +1 against seed 0's baseline, not -2.3 against the 3-seed mean, and the gap closed is
    1 / (teacher - 20); the table prints the paired gain."""
    arms = summarize(_arms(), 70.0)
    assert arms[1]["gain_ap"] == {"mean": 1.0, "std": None, "seeds": [0]}  # one draw has no spread
    assert arms[1]["gap_closed_pct"] == 2.0
    assert "| one_seed | 1 | 21.0 | 0.0 |" in format_table(arms, 70.0)
    assert "| +1.0 | +2.0% |" in format_table(arms, 70.0)
    assert "| baseline | 3 | 23.3 ± 4.2 |" in format_table(arms, 70.0)


def test_without_a_teacher_there_is_no_gap_closed():
    """Teacher AP None (its checkpoint not there yet): the paired gains stay, the gap closed is
    None, and the table's teacher row says it was not evaluated."""
    arms = summarize(_arms(), None)
    assert arms[1]["gain_ap"]["mean"] == 1.0 and arms[1]["gap_closed_pct"] is None
    table = format_table(arms, None)
    assert "| teacher | - | not evaluated |" in table and "| +1.0 |  |" in table


def test_mean_std_of_one_or_no_value():
    """The sample deviation (n - 1) of 20, 28, 22 is 4.16; of one value None, not 0; no values: NaN mean."""
    mean, std = mean_std([20.0, 28.0, 22.0])
    assert abs(mean - 70 / 3) < 1e-12 and abs(std - (((20 - mean) ** 2 + (28 - mean) ** 2 + (22 - mean) ** 2) / 2) ** 0.5) < 1e-12
    assert mean_std([5.0]) == (5.0, None)
    assert mean_std([])[0] != mean_std([])[0] and mean_std([])[1] is None

"""compare_runs: table from real runs, seed groups with mean and spread, plot, --diff, bad folders."""
import json

import pytest

from tests.conftest import TINY_EXP, refuse, run_tool
from yolox_fgd.cli.compare_runs import format_table, group_runs, load_run


def _fake_run(root, name, exp, aps):
    d = root / name
    d.mkdir()
    (d / "exp.json").write_text(json.dumps(exp))
    with open(d / "metrics.jsonl", "w") as f:
        for i, ap in enumerate(aps, 1):
            f.write(json.dumps({"epoch": i, "AP": ap, "AP50": 2 * ap, "APs": ap, "APm": ap, "APl": ap,
                                "train_seconds": 60.0 * i}) + "\n")
    return d


def test_seed_groups_give_mean_and_std(tmp_path):
    """Two seeds of one setting form one row with mean ± std; another stem is its own row."""
    a = _fake_run(tmp_path, "focus_s0", {"stem": "focus", "seed": 0}, [0.1, 0.3])
    b = _fake_run(tmp_path, "focus_s1", {"stem": "focus", "seed": 1}, [0.2, 0.5])
    c = _fake_run(tmp_path, "conv3_s0", {"stem": "conv3", "seed": 0}, [0.1, 0.2])
    groups = group_runs([load_run(p) for p in (a, b, c)])
    assert [(label, len(m)) for label, m in groups] == [("focus_s", 2), ("conv3_s0", 1)]
    table = format_table(groups)
    assert "| focus_s | 2 | 40.0 ± 14.1 | 40.0 ± 14.1 | 80.0 ± 28.3 |" in table
    assert "| conv3_s0 | 1 | 20.0 | 20.0 |" in table


def test_real_runs_table_plot_and_diff(tmp_path, tiny_data):
    for seed in (0, 1):
        res = run_tool("train", "-f", TINY_EXP, "-b", "4", "--device", "cpu", "-expn", f"r{seed}",
                       "output_dir", tmp_path, "max_epoch", "1", "seed", str(seed))
        assert res.returncode == 0, res.stderr[-2000:]
    plot = tmp_path / "ap.png"
    res = run_tool("compare_runs", tmp_path / "r0", tmp_path / "r1", "--plot", plot, "--diff")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "| r | 2 |" in res.stdout
    assert "seed: r0=0, r1=1" in res.stdout
    assert plot.stat().st_size > 1000


def test_folder_without_run_is_refused(tmp_path):
    assert f"{tmp_path} holds no training run" in refuse("compare_runs", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_run(str(tmp_path / "missing"))

"""tools/distill_bench.py at a tiny size: arms x seeds, reuse and resume, table, plot, JSON."""
import json
import os

from tests.conftest import REPO, TINY_EXP, TINY_FGD_EXP, TINY_TEACHER_EXP, run_tool
from yolox_fgd.utils.machine import cpu_model


def bench(tmp_path, teacher_ckpt, *extra):
    return run_tool("distill_bench", "--out", tmp_path / "bench", "--seeds", "0", "1",
                    "--teacher-exp", TINY_TEACHER_EXP, "--teacher-ckpt", teacher_ckpt, "-b", "4",
                    "--arm", "baseline", TINY_EXP, "max_epoch", "1", "test_conf", "0.001",
                    "--arm", "fgd", TINY_FGD_EXP, "max_epoch", "1", "test_conf", "0.001", *extra)


def test_arms_times_seeds_with_reuse_resume_and_report(tmp_path, tiny_data, tiny_teacher_ckpt):
    """Two arms x two seeds train once each; the JSON holds each run's final AP (the last line of
    its metrics.jsonl, in percent), means, standard deviations and the gap closed against the
    baseline arm; the table has one row per arm; a second call reuses every run, and a run whose
    done marker is gone is resumed, not restarted."""
    res = bench(tmp_path, tiny_teacher_ckpt)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    out = tmp_path / "bench"
    with open(out / "distill_bench.json") as f:
        data = json.load(f)
    assert data["teacher"]["ckpt"].endswith("tiny_teacher.pth") and "ap" in data["teacher"]
    # what the figures were measured on: the CPU and torch, and the data the arms trained on
    from yolox_fgd.data.synthetic import dataset_fingerprint

    assert data["machine"].startswith(cpu_model()) and "torch " in data["machine"]
    assert data["dataset_sha256"] == {os.path.relpath(tiny_data, REPO) if tiny_data.startswith(REPO) else tiny_data:
                                      dataset_fingerprint(tiny_data)}
    arms = {a["name"]: a for a in data["arms"]}
    assert list(arms) == ["baseline", "fgd"]
    for name, arm in arms.items():
        assert [r["seed"] for r in arm["runs"]] == [0, 1]
        for run in arm["runs"]:
            with open(out / name / f"seed{run['seed']}" / "metrics.jsonl") as f:
                last = json.loads(f.read().splitlines()[-1])
            assert run["ap"] == round(100 * last["AP"], 4)  # 4 decimals: the table rounds once
            assert run["train_time_s"] > 0
            assert f"seed {run['seed']}" in run["command"]
        aps = [r["ap"] for r in arm["runs"]]
        assert abs(arm["mean"]["ap"] - sum(aps) / 2) < 1e-9
    # the gain is paired by seed; with the baseline's seeds the gap closed is the formula
    base_runs, fgd_runs = arms["baseline"]["runs"], arms["fgd"]["runs"]
    diffs = [f["ap"] - b["ap"] for f, b in zip(fgd_runs, base_runs)]
    gain = arms["fgd"]["gain_ap"]
    assert gain["seeds"] == [0, 1] and abs(gain["mean"] - sum(diffs) / 2) < 1e-9
    assert abs(gain["std"] - abs(diffs[0] - diffs[1]) / 2 ** 0.5) < 1e-9
    base = arms["baseline"]["mean"]["ap"]
    if data["teacher"]["ap"] > base:
        expected = 100 * (arms["fgd"]["mean"]["ap"] - base) / (data["teacher"]["ap"] - base)
        assert abs(arms["fgd"]["gap_closed_pct"] - expected) < 1e-6
    rows = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["teacher", "baseline", "fgd"]
    assert (out / "ap_curves.png").stat().st_size > 1000

    again = bench(tmp_path, tiny_teacher_ckpt)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("reusing the finished run") == 4

    with open(out / "fgd" / "seed1" / "done.json") as f:
        first = json.load(f)["seconds"]
    os.remove(out / "fgd" / "seed1" / "done.json")
    resumed = bench(tmp_path, tiny_teacher_ckpt)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "seed1: resuming" in resumed.stdout and resumed.stdout.count("reusing the finished run") == 3
    with open(out / "fgd" / "seed1" / "done.json") as f:
        done = json.load(f)
    assert done["segments"] == 2 and done["seconds"] > first  # both segments' time


def test_bad_arms_fail_before_training(tmp_path, tiny_teacher_ckpt):
    """A mistyped override or a missing experiment file is refused before anything trains."""
    res = run_tool("distill_bench", "--out", tmp_path, "--teacher-ckpt", tiny_teacher_ckpt,
                   "--arm", "baseline", TINY_EXP, "fgd_alphaa", "1")
    assert res.returncode == 1 and "unknown option 'fgd_alphaa'" in res.stderr
    res = run_tool("distill_bench", "--out", tmp_path, "--arm", "x", "exps/none.py")
    assert res.returncode == 1 and "experiment file not found" in res.stderr
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def test_a_run_that_diverges_is_recorded_and_the_others_go_on(tmp_path, tiny_data, tiny_teacher_ckpt):
    """An arm whose loss is infinite from the first step (the trainer stops under the "stop"
    policy) does not abort the benchmark: the run is recorded as failed (failed.json, status
    "failed", AP 0 with no evaluation), the table says so, the arm after it still trains, and a
    second call keeps the failure instead of retrying it."""
    args = ("distill_bench", "--out", tmp_path / "bench", "--seeds", "0", "--teacher-exp", TINY_TEACHER_EXP,
            "--teacher-ckpt", tiny_teacher_ckpt, "-b", "4",
            "--arm", "fgd_inf", TINY_FGD_EXP, "max_epoch", "1", "fgd_alpha", "1e38", "nonfinite_policy", "stop",
            "--arm", "baseline", TINY_EXP, "max_epoch", "1")
    res = run_tool(*args)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "fgd_inf, seed 0: FAILED" in res.stdout
    with open(tmp_path / "bench" / "distill_bench.json") as f:
        arms = {a["name"]: a for a in json.load(f)["arms"]}
    (run,) = arms["fgd_inf"]["runs"]
    assert run["status"] == "failed" and run["ap"] == 0.0
    assert run["error"].startswith("error: ") and "non-finite" in run["error"]  # the trainer's reason
    assert arms["baseline"]["runs"][0]["status"] == "ok"
    assert "| fgd_inf | 1 (1 failed) |" in res.stdout
    again = run_tool(*args)
    assert again.returncode == 0 and "failed before (failed.json)" in again.stdout


def test_an_arm_on_fewer_seeds_is_compared_with_the_baseline_on_its_seeds():
    """With a 3-seed baseline (20, 28, 22 AP) and an arm run on seed 0 only (21 AP), the gain is
    +1 against seed 0's baseline, not -2.3 against the 3-seed mean, and the gap closed is
    1 / (teacher - 20); the table prints the paired gain."""
    from yolox_fgd.cli.distill_bench import format_table, summarize

    arms = [{"name": "baseline", "runs": [{"seed": 0, "ap": 20.0}, {"seed": 1, "ap": 28.0}, {"seed": 2, "ap": 22.0}]},
            {"name": "one_seed", "runs": [{"seed": 0, "ap": 21.0}]}]
    for arm in arms:
        for run in arm["runs"]:
            run.update(ap50=0.0, aps=0.0, apm=0.0, apl=0.0, train_time_s=1.0, status="ok")
    summarize(arms, 70.0)
    assert arms[1]["gain_ap"] == {"mean": 1.0, "std": None, "seeds": [0]}  # one draw has no spread
    assert arms[1]["gap_closed_pct"] == 2.0
    assert "| one_seed | 1 | 21.0 | 0.0 |" in format_table(arms, 70.0)
    assert "| +1.0 | +2.0% |" in format_table(arms, 70.0)
    assert "| baseline | 3 | 23.3 ± 4.2 |" in format_table(arms, 70.0)


def test_scratch_gives_every_arm_the_old_benchmark_settings():
    """--scratch (the benchmark until 2026-11-28) puts its overrides before each arm's own:
    random weights, 7 epochs, batch 8; without it the arms keep the experiment files' settings
    (the common initial weights) at the benchmark's batch."""
    from yolox_fgd.cli.distill_bench import (SCRATCH_OPTS, make_parser, resolve_arms,
                                             resolve_batch_size)
    from yolox_fgd.exp.build import load_exp
    from yolox_fgd.exp.demo_exp import BENCH_BATCH

    for argv, batch, init_none in ((["--suite", "tuned", "--scratch"], 8, True), (["--suite", "tuned"], BENCH_BATCH, False)):
        args = make_parser().parse_args(argv)
        assert resolve_batch_size(args) == batch
        for _, path, opts, _ in resolve_arms(args):
            assert (opts[:len(SCRATCH_OPTS)] == SCRATCH_OPTS) == init_none
            exp = load_exp(path)
            exp.merge(opts)
            assert (exp.init_ckpt is None) == init_none and (exp.max_epoch == 7) == init_none
    assert resolve_batch_size(make_parser().parse_args(["--scratch", "-b", "16"])) == 16


def test_every_suite_arm_is_a_valid_experiment():
    """Each arm of every predefined suite names an experiment file that exists and whose
    overrides merge and pass the experiment's checks (a typo in a suite fails here, not after
    an hour of training)."""
    from yolox_fgd.cli.distill_bench import SUITES
    from yolox_fgd.exp.build import load_exp
    from tests.conftest import REPO

    for suite, arms in SUITES.items():
        for name, exp_file, overrides in arms:
            exp = load_exp(os.path.join(REPO, exp_file))
            exp.merge(list(overrides))
            for key, value in zip(overrides[::2], overrides[1::2]):
                attr = getattr(exp, key)
                number = isinstance(attr, (int, float)) and not isinstance(attr, bool)
                assert (float(attr) == float(value)) if number else str(attr) == value, (suite, name, key)
            exp.check_config()

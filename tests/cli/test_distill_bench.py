"""tools/distill_bench.py at a tiny size: arms x seeds, reuse and resume, table, plot, JSON."""
import json
import os
import shutil

import pytest
import torch

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
    baseline arm; the table has one row per arm; a second call reuses every run (and makes no ETA
    from them), and a run whose done marker is gone is resumed, not restarted."""
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
    # reused runs take no time: no ETA is made from them
    assert "ETA 0:00:00 for the 3 left" not in again.stdout and "no ETA before a run has trained" in again.stdout

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


def test_from_mosaic_trains_the_mosaic_free_epochs_and_ends_as_the_full_run(tmp_path, tiny_data, tiny_teacher_ckpt):
    """--from-mosaic SOURCE: an arm that differs from SOURCE only in fgd_no_aug_factor starts from
    SOURCE's last-mosaic checkpoint of its seed (here one labelled the old way, epoch + 1, which
    the copy corrects) and ends bit-identical to the same arm trained from epoch 1, with workers,
    multiscale and warm-up on; its metrics begin with SOURCE's evaluations before mosaic closed,
    its runs record start_from and the table marks its time. The factor does change the result
    (the arm is not SOURCE again). Without SOURCE's checkpoint the arm is skipped, not failed."""
    from tests.conftest import USER_CONFIG, load_ckpt_file
    from tests.core.test_trainer import assert_same_training_state

    opts = ["max_epoch", "3", "eval_interval", "1", "test_conf", "0.001", *USER_CONFIG[:-2]]  # seed: --seeds
    late = ["fgd_no_aug_factor", "3"]

    def bench(out, *args):
        return run_tool("distill_bench", "--out", tmp_path / out, "--seeds", "1", "--teacher-exp", TINY_TEACHER_EXP,
                        "--teacher-ckpt", tiny_teacher_ckpt, "-b", "2", *args)

    res = bench("short", "--arm", "fgd", TINY_FGD_EXP, *opts)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    mosaic = tmp_path / "short" / "fgd" / "seed1" / "last_mosaic_epoch_ckpt.pth"
    ckpt = load_ckpt_file(mosaic)
    assert ckpt["start_epoch"] == 1  # 3 epochs, no_aug_epochs 1: mosaic closes in epoch 2
    ckpt["start_epoch"] = 2  # as the trainer labelled it before 2026-11-29
    torch.save(ckpt, mosaic)
    both = ("--arm", "fgd", TINY_FGD_EXP, *opts, "--arm", "fgd_f3", TINY_FGD_EXP, *opts, *late)
    res = bench("short", *both, "--from-mosaic", "fgd")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "fgd_f3/seed1: training from epoch 2 of" in res.stdout
    full = bench("full", "--arm", "fgd_f3", TINY_FGD_EXP, *opts, *late)
    assert full.returncode == 0, (full.stdout + full.stderr)[-3000:]
    short_f3 = load_ckpt_file(tmp_path / "short" / "fgd_f3" / "seed1" / "latest_ckpt.pth")
    assert_same_training_state(short_f3, load_ckpt_file(tmp_path / "full" / "fgd_f3" / "seed1" / "latest_ckpt.pth"))
    source_end = load_ckpt_file(tmp_path / "short" / "fgd" / "seed1" / "latest_ckpt.pth")
    assert any(not torch.equal(v, source_end["model"][k]) for k, v in short_f3["model"].items())

    with open(tmp_path / "short" / "distill_bench.json") as f:
        arms = {a["name"]: a for a in json.load(f)["arms"]}
    (run,) = arms["fgd_f3"]["runs"]
    assert run["start_from"]["start_epoch"] == 1 and run["start_from"]["ckpt"].endswith("last_mosaic_epoch_ckpt.pth")
    assert "start_from" not in arms["fgd"]["runs"][0]
    assert [m["epoch"] for m in run["metrics"]] == [1, 2, 3]
    assert run["metrics"][0] == arms["fgd"]["runs"][0]["metrics"][0]  # epoch 1 is the source's
    with open(tmp_path / "full" / "fgd_f3" / "seed1" / "metrics.jsonl") as f:
        assert [json.loads(line)["AP"] for line in f] == [m["AP"] for m in run["metrics"]]
    assert "| fgd_f3 | 1 |" in res.stdout and " * |" in res.stdout and "(--from-mosaic)" in res.stdout

    os.remove(mosaic)
    shutil.rmtree(tmp_path / "short" / "fgd_f3")
    res = bench("short", *both, "--from-mosaic", "fgd")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "fgd_f3, seed 1: skipped:" in res.stdout and "last_mosaic_epoch_ckpt.pth is missing" in res.stdout


def test_from_mosaic_refuses_what_cannot_start_from_the_source():
    """--from-mosaic names an arm; the arms that start from it share its epochs (max_epoch and
    no_aug_epochs); a source without an epoch that closes mosaic is refused, each by name and
    before anything trains. The source checkpoint must be the one of that epoch (or labelled one
    later, as before 2026-11-29)."""
    from yolox_fgd.cli.distill_bench import mosaic_starts

    arm = lambda name, *opts: (name, TINY_FGD_EXP, list(opts), True)  # noqa: E731
    base = ("baseline", TINY_EXP, [], False)
    sched = ("max_epoch", "5", "no_aug_epochs", "2")
    assert mosaic_starts([base, arm("a", *sched), arm("b", *sched, "fgd_no_aug_factor", "2")], "a") == {"b": 5 - 2 - 1}
    with pytest.raises(ValueError, match="no such arm"):
        mosaic_starts([base, arm("a", *sched)], "c")
    with pytest.raises(ValueError, match="'b' has another max_epoch or no_aug_epochs"):
        mosaic_starts([arm("a", *sched), arm("b", *sched, "max_epoch", "6")], "a")
    with pytest.raises(ValueError, match="no epoch that closes mosaic"):
        mosaic_starts([arm("a"), arm("b")], "a")  # tiny_fgd: no_aug_epochs 0
    with pytest.raises(ValueError, match="no other arm uses its experiment file"):
        mosaic_starts([base, arm("a", *sched)], "a")


def test_the_source_checkpoint_must_be_the_one_that_closes_mosaic(tmp_path):
    """check_mosaic_checkpoint accepts the checkpoint of the epoch (0-based) and the old label one
    later; another epoch or a missing file is refused by name."""
    from yolox_fgd.cli.distill_bench import check_mosaic_checkpoint

    path = tmp_path / "last_mosaic_epoch_ckpt.pth"
    for label in (7, 8):
        torch.save({"model": {}, "start_epoch": label}, path)
        check_mosaic_checkpoint(str(path), "src", 0, 7)
    torch.save({"model": {}, "start_epoch": 9}, path)
    with pytest.raises(ValueError, match="resumes at epoch 10, not 8"):
        check_mosaic_checkpoint(str(path), "src", 0, 7)
    with pytest.raises(FileNotFoundError, match="arm 'src' has not reached epoch 8 on seed 0"):
        check_mosaic_checkpoint(str(tmp_path / "none.pth"), "src", 0, 7)

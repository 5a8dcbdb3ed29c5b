"""tools/distill_bench.py at a tiny size: arms x seeds, reuse and resume, table, plot, JSON,
--from-mosaic end to end, the benchmark's defaults. The parts are tested in tests/bench/."""
import json
import os
import shutil

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
    baseline arm, and the benchmark's split statistics; the table has one row per arm; a second
    call reuses every run (and makes no ETA from them), and a run whose done marker is gone is
    resumed, not restarted."""
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
    # the benchmark's split, measured on the baseline's validation annotations at its input size
    from yolox_fgd.data.stats import split_stats

    assert data["benchmark"] == {"name": "demo", "input_size": 64, "dataset": data["benchmark"]["dataset"],
                                 **split_stats(os.path.join(tiny_data, "annotations", "instances_val2017.json"), 64)}
    assert {"fg_fraction", "size_mix"} <= set(data["benchmark"])
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
    """A mistyped override, a missing experiment file or an FGD arm taught by another teacher than
    --teacher-exp is refused before anything trains."""
    res = run_tool("distill_bench", "--out", tmp_path, "--teacher-ckpt", tiny_teacher_ckpt,
                   "--arm", "baseline", TINY_EXP, "fgd_alphaa", "1")
    assert res.returncode == 1 and "unknown option 'fgd_alphaa'" in res.stderr
    res = run_tool("distill_bench", "--out", tmp_path, "--arm", "x", "exps/none.py")
    assert res.returncode == 1 and "experiment file not found" in res.stderr
    # the demo teacher by default, but this FGD arm is taught by the tiny teacher
    res = run_tool("distill_bench", "--out", tmp_path, "--teacher-ckpt", tiny_teacher_ckpt,
                   "--arm", "fgd", TINY_FGD_EXP)
    assert res.returncode == 1 and "arm 'fgd' is taught by teacher_exp" in res.stderr
    assert "--teacher-exp is " + os.path.join(REPO, "exps", "demo", "demo_yolox_s.py") in res.stderr
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def test_the_benchmark_picks_the_defaults_and_the_suites(tmp_path):
    """--benchmark sets the defaults of --teacher-exp, --teacher-ckpt, --out and -b (given values
    win); a suite of another benchmark is refused naming the benchmark that has it; the
    COCO-shaped suites resolve and report with a teacher checkpoint that does not exist (no
    teacher row, the JSON names the benchmark and its input size)."""
    from yolox_fgd.cli.distill_bench import make_parser, resolve_settings

    for bench, teacher, out in (("demo", "exps/demo/demo_yolox_s", "outputs/distill_bench"),
                                ("coco_shaped", "exps/coco_shaped/coco_shaped_yolox_s", "outputs/coco_shaped_bench")):
        args = resolve_settings(make_parser().parse_args(["--benchmark", bench]))
        assert args.teacher_exp == os.path.join(REPO, teacher + ".py") and args.out == os.path.join(REPO, out)
        assert args.teacher_ckpt == os.path.join(REPO, "demo_assets", os.path.basename(teacher) + ".pth")
        assert args.batch_size == 32
    args = resolve_settings(make_parser().parse_args(["--benchmark", "coco_shaped", "-b", "16", "--out", "x",
                                                      "--teacher-ckpt", "t.pth"]))
    assert (args.batch_size, args.out, args.teacher_ckpt) == (16, os.path.abspath("x"), os.path.abspath("t.pth"))
    assert resolve_settings(make_parser().parse_args(["--scratch"])).batch_size == 8

    res = run_tool("distill_bench", "--out", tmp_path, "--suite", "coco_main")
    assert res.returncode == 1 and "suite 'coco_main' belongs to the coco_shaped benchmark" in res.stderr
    res = run_tool("distill_bench", "--benchmark", "coco_shaped", "--suite", "coco_main", "--suite", "coco_variants",
                   "--report", "--out", tmp_path, "--seeds", "0", "--teacher-ckpt", tmp_path / "absent.pth")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "| teacher | - | not evaluated |" in res.stdout and "| fgd_attention_diff | 0 | not run |" in res.stdout
    with open(tmp_path / "distill_bench.json") as f:
        data = json.load(f)
    assert data["benchmark"] == {"name": "coco_shaped", "input_size": 192} and data["teacher"]["ap"] is None


def test_from_mosaic_trains_the_mosaic_free_epochs_and_ends_as_the_full_run(tmp_path, tiny_data, tiny_teacher_ckpt,
                                                                            monkeypatch):
    """--from-mosaic SOURCE: an arm that differs from SOURCE only in distill_no_aug_factor starts from
    SOURCE's last-mosaic checkpoint of its seed through the trainer's own flags (--resume -c, and
    -e only because this checkpoint is labelled the old way, epoch + 1), which stays untouched;
    killed in its second epoch, the next call resumes its own latest_ckpt.pth (--resume, no -c);
    it ends bit-identical to the same arm trained from epoch 1, with workers, multiscale and
    warm-up on; its metrics begin with SOURCE's evaluations before mosaic closed, its runs record
    start_from and the table marks its time. The factor does change the result (the arm is not
    SOURCE again). Without SOURCE's checkpoint the arm is skipped, not failed."""
    from tests.conftest import USER_CONFIG, load_ckpt_file
    from tests.core.test_trainer import assert_same_training_state

    opts = ["max_epoch", "3", "eval_interval", "1", "test_conf", "0.001", *USER_CONFIG[:-2]]  # seed: --seeds
    late = ["distill_no_aug_factor", "3"]

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
    mosaic_bytes = mosaic.read_bytes()
    both = ("--arm", "fgd", TINY_FGD_EXP, *opts, "--arm", "fgd_f3", TINY_FGD_EXP, *opts, *late)
    # 4 iterations an epoch: killed (SIGKILL) in epoch 3, after epoch 2 wrote its latest_ckpt.pth
    monkeypatch.setenv("YOLOX_FGD_KILL_AT", "iter:6")
    res = bench("short", *both, "--from-mosaic", "fgd")
    monkeypatch.delenv("YOLOX_FGD_KILL_AT")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    (line,) = [ln for ln in res.stdout.splitlines() if "fgd_f3/seed1: training from epoch 2 of" in ln]
    assert f"--resume -c {mosaic} -e 2 output_dir" in line
    assert "fgd_f3, seed 1: INTERRUPTED (training seed1 was interrupted (signal SIGKILL)" in res.stdout
    assert not (tmp_path / "short" / "fgd_f3" / "seed1" / "failed.json").exists()
    res = bench("short", *both, "--from-mosaic", "fgd")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    (line,) = [ln for ln in res.stdout.splitlines() if "fgd_f3/seed1: resuming" in ln]
    assert "--resume output_dir" in line and " -c " not in line and " -e " not in line
    assert mosaic.read_bytes() == mosaic_bytes  # nothing edits checkpoints
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

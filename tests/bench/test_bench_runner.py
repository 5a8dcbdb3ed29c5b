"""yolox_fgd/bench/runner.py: the (arm, seed) grid; failed runs against interrupted ones."""
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO, TINY_EXP, TINY_FGD_EXP, TINY_TEACHER_EXP, run_tool
from yolox_fgd.bench.arms import Arm
from yolox_fgd.cli import training_runs
from yolox_fgd.cli.training_runs import TrainingInterrupted


class FakeTraining:
    """Stands in for the ``tools/train.py`` subprocess: prints nothing and exits with ``code``."""

    def __init__(self, code):
        self.code, self.stdout = code, iter(["epoch: 1/1, iter: 1/1, ETA: 0:00:00\n"])

    def wait(self):
        return self.code

    def send_signal(self, sig):
        pass


@pytest.mark.parametrize("code, interrupted", [(-signal.SIGKILL, True), (-signal.SIGTERM, True),
                                               (-signal.SIGINT, True), (130, True), (1, False), (2, False)])
def test_a_signal_interrupts_a_training_and_an_error_fails_it(tmp_path, monkeypatch, code, interrupted):
    """run_training raises TrainingInterrupted for a training ended by a signal (a negative exit
    status) or by Ctrl-C (exit 130), and a plain RuntimeError for an error of its own (any other
    non-zero exit); either way the run is not marked done."""
    monkeypatch.setattr(training_runs.subprocess, "Popen", lambda *a, **k: FakeTraining(code))
    with pytest.raises(RuntimeError) as info:
        training_runs.run_training(TINY_EXP, tmp_path, "run", log=lambda msg: None)
    assert isinstance(info.value, TrainingInterrupted) == interrupted
    said = str(info.value).splitlines()[0]
    if code < 0:
        assert f"was interrupted (signal {signal.Signals(-code).name})" in said
    else:
        assert f"(exit {code}" in said and ("interrupted" in said) == interrupted
    assert training_runs.run_record(tmp_path / "run") is None and (tmp_path / "run" / "run.json").is_file()


def test_only_a_failed_training_is_recorded_and_scored(tmp_path, monkeypatch):
    """train_grid writes failed.json for a training that failed and not for one that was
    interrupted; collect scores the failed run (AP 0: no evaluation) and leaves the interrupted
    one out, and the grid says which ended how."""
    from yolox_fgd.bench import runner

    def fake(exp, out, name, *args, **kwargs):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        arm = os.path.basename(out)
        if arm == "broken":
            raise RuntimeError("training seed0 failed (exit 1); last lines:\nerror: boom")
        raise TrainingInterrupted("training seed0 was interrupted (signal SIGTERM)")

    monkeypatch.setattr(runner, "run_training", fake)
    arms = [Arm("broken", TINY_EXP, [], False), Arm("stopped", TINY_EXP, [], False)]
    ended = runner.train_grid(arms, [0], str(tmp_path), 4)
    assert ended == {"failed": [("broken", 0)], "interrupted": [("stopped", 0)], "skipped": []}
    assert (tmp_path / "broken" / "seed0" / "failed.json").is_file()
    assert not (tmp_path / "stopped" / "seed0" / "failed.json").exists()
    (failed,) = runner.collect("broken", [0], str(tmp_path))
    assert failed["status"] == "failed" and failed["ap"] == 0.0 and failed["error"] == "error: boom"
    assert runner.collect("stopped", [0], str(tmp_path)) == []


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


def _trainings_under(folder):
    """Processes whose command line names ``folder`` (the trainings writing there)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(folder).encode() in f.read() and int(pid) != os.getpid():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stopping_the_tool_stops_its_runs_and_the_next_call_trains_them(tmp_path, tiny_data, tiny_teacher_ckpt):
    """Ctrl-C (SIGINT) to the tool alone, once its run has started, stops the training too: the
    tool exits 130, no training is left running, the run is neither done nor failed; SIGTERM
    (``kill``) does the same to the next call; the third call trains the run to the end. The tool
    is started with SIGINT ignored, as a shell without job control starts ``tool &``: it still
    stops. (A run stopped after writing its checkpoint resumes from it:
    tests/cli/test_distill_bench.py.)"""
    out = tmp_path / "bench"
    run_dir = out / "baseline" / "seed0"
    args = ["--out", str(out), "--seeds", "0", "-b", "2", "--teacher-exp", TINY_TEACHER_EXP,
            "--teacher-ckpt", str(tiny_teacher_ckpt), "--arm", "baseline", TINY_EXP]
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "distill_bench.py"), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        lines = []
        for line in proc.stdout:  # the training subprocess is starting: stop the tool
            lines.append(line)
            if "baseline/seed0: training (python" in line:
                break
        proc.send_signal(sig)
        text = "".join(lines) + proc.stdout.read()
        assert proc.wait(timeout=120) == 130, text[-3000:]
        assert "seed 0: INTERRUPTED" in text and "run the same command again" in text, text[-3000:]
        assert not _trainings_under(out), text[-3000:]
        assert not (run_dir / "failed.json").exists() and not (run_dir / "done.json").exists()
    res = run_tool("distill_bench", *args)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "| baseline | 1 |" in res.stdout and (run_dir / "done.json").is_file()


def test_a_run_recorded_under_renamed_options_is_reused(tmp_path):
    """A finished run whose run.json records a schedule option under its old name
    (fgd_no_aug_factor, now distill_no_aug_factor) is the same run: asked with the new name, it
    is reused, not refused as other settings."""
    from yolox_fgd.cli.training_runs import repo_path, run_training

    run_dir = tmp_path / "seed0"
    run_dir.mkdir()
    spec = {"exp": repo_path(TINY_EXP), "opts": ["seed", "0", "fgd_no_aug_factor", "3"], "batch_size": 4,
            "device": "cpu", "fp16": False}
    for name, data in (("run.json", {"spec": spec, "seconds": 5.0, "segments": 1}),
                       ("done.json", {"spec": spec, "seconds": 5.0, "segments": 1, "command": "python tools/train.py"})):
        (run_dir / name).write_text(json.dumps(data))
    said = []
    done = run_training(TINY_EXP, tmp_path, "seed0", ["seed", "0", "distill_no_aug_factor", "3"], 4, log=said.append)
    assert done["seconds"] == 5.0 and "reusing the finished run" in said[0]

"""Training runs started from a tool (demo, benchmark): reuse, resume or train.

A run is ``tools/train.py`` in a subprocess writing ``OUT/NAME``. ``run.json`` there records
what was asked (experiment file, options, batch size, device) and the wall seconds spent so far;
``done.json`` marks a finished run. Asked again with the same settings, a finished run is reused
and an interrupted one (a ``latest_ckpt.pth`` without ``done.json``) continues with
``--resume``; other settings in the same folder are an error unless ``fresh``. The seconds are
written at every progress line, so a run whose tool was killed keeps the time it had trained.

A run can also begin from another run's checkpoint (``start_from``): its first segment is
``tools/train.py --resume -c CHECKPOINT`` (YOLOX's flags: resume from that file, write into this
run's folder) under the run's own options, with ``-e EPOCH`` only where the checkpoint's own
``start_epoch`` is another epoch than asked; nothing edits the checkpoint. Its ``metrics.jsonl``
starts with the other run's evaluations up to that epoch. Later segments continue the run's own
``latest_ckpt.pth``.

A training that exits with an error of its own raises ``RuntimeError``; one ended by a signal
(SIGINT, SIGTERM, SIGKILL: a negative exit status, or 130 for a Python interrupted by Ctrl-C)
raises :class:`TrainingInterrupted`: it is not the configuration's failure, and asked again the
run continues where its last checkpoint left it. :func:`stop_runs` signals every training this
process has running (a tool stopped by Ctrl-C stops its runs with it).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

__all__ = ["REPO", "repo_path", "run_training", "run_record", "TrainingInterrupted", "stop_runs"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def repo_path(path):
    """``path`` relative to the repository when it lies inside it, else as given (for messages and records)."""
    path = str(path)
    return os.path.relpath(path, REPO) if path.startswith(REPO) else path


def _read(path):
    with open(path) as f:
        return json.load(f)


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


# exit status of a Python stopped by KeyboardInterrupt where it exits instead of re-raising the signal
INTERRUPTED_EXIT = 130
# the training subprocesses this process has running (stop_runs signals them)
_LIVE, _LIVE_LOCK = set(), threading.Lock()


class TrainingInterrupted(RuntimeError):
    """A training ended by a signal (not by an error of its own); asked again, it is resumed."""


def stop_runs(sig=signal.SIGTERM):
    """Send ``sig`` to every training subprocess this process has running (they end as
    interrupted: :class:`TrainingInterrupted` in the thread that started each)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:  # it ended meanwhile
            pass


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def run_record(run_dir):
    """``done.json`` of a finished run (``None`` when the run is not finished)."""
    path = os.path.join(run_dir, "done.json")
    return _read(path) if os.path.isfile(path) else None


def _renamed_options(spec):
    """A recorded ``spec`` with its options under their current names
    (:data:`yolox_fgd.exp.fgd_exp.RENAMED_OPTIONS`): a run recorded before an option was renamed
    is the same run."""
    from ..exp.fgd_exp import RENAMED_OPTIONS

    opts = spec.get("opts", [])
    return dict(spec, opts=[RENAMED_OPTIONS.get(o, o) if i % 2 == 0 else o for i, o in enumerate(opts)])


def _copy_metrics_before(run_dir, ckpt_path, start_epoch):
    """Begin ``run_dir/metrics.jsonl`` with the evaluations of ``ckpt_path``'s run before 0-based
    ``start_epoch`` (its records with 1-based ``epoch <= start_epoch``): the curve of a run that
    starts from that checkpoint."""
    src_metrics = os.path.join(os.path.dirname(ckpt_path), "metrics.jsonl")
    if os.path.isfile(src_metrics):
        with open(src_metrics) as f:
            lines = [ln for ln in f if ln.strip() and json.loads(ln)["epoch"] <= start_epoch]
        with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
            f.writelines(lines)


def _begin_flags(ckpt_path, start_epoch):
    """``tools/train.py`` flags that resume from ``ckpt_path`` at 0-based ``start_epoch``:
    ``--resume -c CKPT``, plus ``-e`` (1-based) only where the checkpoint is labelled otherwise."""
    from ..utils.checkpoint import load_checkpoint

    label = load_checkpoint(ckpt_path, map_location="cpu", what="checkpoint to start from")["start_epoch"]
    flags = ["--resume", "-c", os.path.abspath(ckpt_path)]
    return flags + (["-e", str(int(start_epoch) + 1)] if int(label) != int(start_epoch) else [])


def run_training(exp_file, out_dir, name, opts=(), batch_size=8, device="cpu", fp16=False, fresh=False,
                 log=print, progress_every=1, threads=None, start_from=None):
    """Train ``exp_file`` into ``out_dir/name`` (or reuse / resume it).

    Args:
        opts: ``key value`` experiment options (strings or values).
        log: where progress lines go (the trainer's own progress lines, shortened).
        progress_every: print every n-th progress line of the trainer.
        threads: torch's CPU threads in the run (``OMP_NUM_THREADS``; ``None``: torch's default).
            On a 2-core machine one thread per run is faster than two (the loader worker and
            the trainer otherwise compete for the cores; docs/distill_bench.md has the numbers).
        start_from: ``(checkpoint, start_epoch)``: a new run begins as a resume of that checkpoint
            (another run's; ``--resume -c``), from the 0-based epoch ``start_epoch``, instead of
            from epoch 1; recorded in the spec. A finished run of the same settings trained from epoch 1
            in the folder is reused instead (``start_from`` is a shortcut to that run).

    Returns:
        ``done.json``'s dict: ``spec``, ``seconds`` (wall seconds of all segments),
        ``run_dir``, ``ckpt`` (``latest_ckpt.pth``), ``command``.

    Raises:
        ValueError: the folder holds a run with other settings (and not ``fresh``).
        TrainingInterrupted: a signal ended the training (run again to resume it).
        RuntimeError: training failed (the message ends with the run's last lines).
    """
    run_dir = os.path.join(str(out_dir), name)
    spec = {"exp": repo_path(os.path.abspath(exp_file)), "opts": [str(o) for o in opts], "batch_size": int(batch_size),
            "device": device, "fp16": bool(fp16)}
    if start_from is not None:
        spec["start_from"] = {"ckpt": repo_path(os.path.abspath(start_from[0])), "start_epoch": int(start_from[1])}
    state_path = os.path.join(run_dir, "run.json")
    state = _read(state_path) if os.path.isfile(state_path) else None
    if state is not None:
        state["spec"] = _renamed_options(state["spec"])
    if fresh and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
        state = None
    done = run_record(run_dir)
    trained_in_full = state is not None and state["spec"] == {k: v for k, v in spec.items() if k != "start_from"}
    if start_from is not None and done is not None and trained_in_full:
        log(f"{name}: reusing the finished run in {repo_path(run_dir)}, trained from epoch 1")
        return done
    if state is not None and state["spec"] != spec:
        raise ValueError(
            f"{run_dir} holds a run with other settings ({state['spec']}) than asked ({spec}); "
            "give another output folder or start afresh (--fresh)")
    if done is not None and state is not None:
        log(f"{name}: reusing the finished run in {repo_path(run_dir)} ({done['seconds']:.0f} s)")
        return done
    resume = state is not None and os.path.isfile(os.path.join(run_dir, "latest_ckpt.pth"))
    begin_from = start_from is not None and not resume
    if not resume:
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)
        os.makedirs(run_dir)
        state = {"spec": spec, "seconds": 0.0, "segments": 0}
        if begin_from:
            _copy_metrics_before(run_dir, *start_from)
        _write(state_path, state)
    cmd = [sys.executable, os.path.join(REPO, "tools", "train.py"), "-f", os.path.abspath(exp_file),
           "-b", str(batch_size), "--device", device, "-expn", name] + (["--fp16"] if fp16 else [])
    cmd += ["output_dir", str(out_dir), *spec["opts"]]
    shown = " ".join(repo_path(c) for c in cmd[1:])
    if resume or begin_from:
        at = cmd.index("output_dir")
        cmd[at:at] = _begin_flags(*start_from) if begin_from else ["--resume"]
    if begin_from:
        what = f"training from epoch {int(start_from[1]) + 1} of {repo_path(start_from[0])}"
    else:
        what = "resuming" if resume else "training"
    log(f"{name}: {what} (python {' '.join(repo_path(c) for c in cmd[1:])})")
    start = time.time()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    tail, seen, base = [], 0, state["seconds"]
    try:
        for line in proc.stdout:
            tail = (tail + [line])[-40:]
            if "ETA: " in line and "epoch: " in line:  # the trainer's progress line
                seen += 1
                # the time so far, kept even if this tool is killed before the run ends
                _write(state_path, dict(state, seconds=base + time.time() - start))
                if seen % progress_every == 0:
                    fields = line.split(" - ", 1)[-1].split(", ")
                    keep = [f for f in fields if f.startswith(("epoch:", "iter:", "total_loss:", "ETA:"))]
                    log(f"{name}: {', '.join(keep).strip()}")
        code = proc.wait()
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    state["seconds"] = base + time.time() - start
    state["segments"] += 1
    _write(state_path, state)
    if code < 0 or code == INTERRUPTED_EXIT:
        how = f"signal {_signal_name(-code)}" if code < 0 else f"exit {code}: Ctrl-C"
        raise TrainingInterrupted(f"training {name} was interrupted ({how}); asked again, it resumes from its "
                                  f"last checkpoint; last lines:\n{''.join(tail[-5:])}")
    if code != 0:
        raise RuntimeError(f"training {name} failed (exit {code}); last lines:\n{''.join(tail)}")
    done = {"spec": spec, "seconds": state["seconds"], "segments": state["segments"], "run_dir": run_dir,
            "ckpt": os.path.join(run_dir, "latest_ckpt.pth"), "command": "python " + shown}
    _write(os.path.join(run_dir, "done.json"), done)
    log(f"{name}: done in {state['seconds'] / 60:.1f} min")
    return done

"""Training runs started from a tool (demo, benchmark): reuse, resume or train.

A run is ``tools/train.py`` in a subprocess writing ``OUT/NAME``. ``run.json`` there records
what was asked (experiment file, options, batch size, device) and the wall seconds spent so far;
``done.json`` marks a finished run. Asked again with the same settings, a finished run is reused
and an interrupted one (a ``latest_ckpt.pth`` without ``done.json``) continues with
``--resume``; other settings in the same folder are an error unless ``fresh``. The seconds are
written at every progress line, so a run whose tool was killed keeps the time it had trained.

A run can also begin from another run's checkpoint (``start_from``): the checkpoint is copied in
as the run's ``latest_ckpt.pth`` and the run continues it with ``--resume`` under its own options;
its ``metrics.jsonl`` starts with the other run's evaluations up to that epoch.
"""
import json
import os
import shutil
import subprocess
import sys
import time

__all__ = ["REPO", "run_training", "run_record"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rel(path):
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


def run_record(run_dir):
    """``done.json`` of a finished run (``None`` when the run is not finished)."""
    path = os.path.join(run_dir, "done.json")
    return _read(path) if os.path.isfile(path) else None


def _begin_from(run_dir, ckpt_path, start_epoch):
    """Seed a new run folder with a copy of ``ckpt_path`` as ``latest_ckpt.pth``, its
    ``start_epoch`` (0-based: the first epoch the run trains) set to ``start_epoch``, and the
    evaluations of the checkpoint's run up to that epoch (its ``metrics.jsonl`` records with
    1-based ``epoch <= start_epoch``)."""
    from ..utils.checkpoint import load_checkpoint, save_checkpoint_atomic

    ckpt = load_checkpoint(ckpt_path, map_location="cpu", what="checkpoint to start from")
    ckpt["start_epoch"] = int(start_epoch)
    save_checkpoint_atomic(ckpt, os.path.join(run_dir, "latest_ckpt.pth"))
    src_metrics = os.path.join(os.path.dirname(ckpt_path), "metrics.jsonl")
    if os.path.isfile(src_metrics):
        with open(src_metrics) as f:
            lines = [ln for ln in f if ln.strip() and json.loads(ln)["epoch"] <= start_epoch]
        with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
            f.writelines(lines)


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
        start_from: ``(checkpoint, start_epoch)``: a new run begins as a resume of a copy of that
            checkpoint (another run's), from the 0-based epoch ``start_epoch``, instead of from
            epoch 1; recorded in the spec. A finished run of the same settings trained from epoch 1
            in the folder is reused instead (``start_from`` is a shortcut to that run).

    Returns:
        ``done.json``'s dict: ``spec``, ``seconds`` (wall seconds of all segments),
        ``run_dir``, ``ckpt`` (``latest_ckpt.pth``), ``command``.

    Raises:
        ValueError: the folder holds a run with other settings (and not ``fresh``).
        RuntimeError: training failed (the message ends with the run's last lines).
    """
    run_dir = os.path.join(str(out_dir), name)
    spec = {"exp": _rel(os.path.abspath(exp_file)), "opts": [str(o) for o in opts], "batch_size": int(batch_size),
            "device": device, "fp16": bool(fp16)}
    if start_from is not None:
        spec["start_from"] = {"ckpt": _rel(os.path.abspath(start_from[0])), "start_epoch": int(start_from[1])}
    state_path = os.path.join(run_dir, "run.json")
    state = _read(state_path) if os.path.isfile(state_path) else None
    if fresh and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
        state = None
    done = run_record(run_dir)
    trained_in_full = state is not None and state["spec"] == {k: v for k, v in spec.items() if k != "start_from"}
    if start_from is not None and done is not None and trained_in_full:
        log(f"{name}: reusing the finished run in {_rel(run_dir)}, trained from epoch 1")
        return done
    if state is not None and state["spec"] != spec:
        raise ValueError(
            f"{run_dir} holds a run with other settings ({state['spec']}) than asked ({spec}); "
            "give another output folder or start afresh (--fresh)")
    if done is not None and state is not None:
        log(f"{name}: reusing the finished run in {_rel(run_dir)} ({done['seconds']:.0f} s)")
        return done
    resume = state is not None and os.path.isfile(os.path.join(run_dir, "latest_ckpt.pth"))
    begun_from = False
    if not resume:
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)
        os.makedirs(run_dir)
        state = {"spec": spec, "seconds": 0.0, "segments": 0}
        if start_from is not None:
            _begin_from(run_dir, *start_from)
            resume = begun_from = True
        _write(state_path, state)
    cmd = [sys.executable, os.path.join(REPO, "tools", "train.py"), "-f", os.path.abspath(exp_file),
           "-b", str(batch_size), "--device", device, "-expn", name] + (["--fp16"] if fp16 else [])
    cmd += ["output_dir", str(out_dir), *spec["opts"]]
    shown = " ".join(_rel(c) for c in cmd[1:])
    if resume:
        cmd.insert(cmd.index("output_dir"), "--resume")
    if begun_from:
        what = f"training from epoch {int(start_from[1]) + 1} of {_rel(start_from[0])}"
    else:
        what = "resuming" if resume else "training"
    log(f"{name}: {what} (python {shown})")
    start = time.time()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    tail, seen, base = [], 0, state["seconds"]
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
    state["seconds"] = base + time.time() - start
    state["segments"] += 1
    _write(state_path, state)
    if code != 0:
        raise RuntimeError(f"training {name} failed (exit {code}); last lines:\n{''.join(tail)}")
    done = {"spec": spec, "seconds": state["seconds"], "segments": state["segments"], "run_dir": run_dir,
            "ckpt": os.path.join(run_dir, "latest_ckpt.pth"), "command": "python " + shown}
    _write(os.path.join(run_dir, "done.json"), done)
    log(f"{name}: done in {state['seconds'] / 60:.1f} min")
    return done

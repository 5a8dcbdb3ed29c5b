"""Training a benchmark's (arm, seed) grid, and reading back what each run ended as.

Each run is ``tools/train.py`` in a subprocess (:func:`~yolox_fgd.cli.training_runs.run_training`)
writing ``OUT/<arm>/seed<k>``, ``jobs`` at a time, with an ETA after each. A run ends in one of
four ways:

* finished (``done.json``): reused by later calls;
* failed: the training exited with an error of its own (it diverged, it crashed): recorded in
  ``failed.json`` and scored with the AP of its last evaluation (0 if none), so a configuration
  that fails on some seeds pays for it in the mean; retried only with ``--fresh``;
* interrupted: a signal ended it (Ctrl-C, SIGTERM, SIGKILL; exit 130): not the configuration's
  failure; the next call resumes it from its last checkpoint, and until then it is not scored;
* skipped: a ``--from-mosaic`` run whose source checkpoint is not there yet.

Interrupting this process (Ctrl-C) stops the runs in progress as interrupted, starts no other,
and re-raises ``KeyboardInterrupt``.
"""
import datetime
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from ..cli.training_runs import TrainingInterrupted, repo_path, run_record, run_training, stop_runs
from .mosaic import check_mosaic_checkpoint, mosaic_checkpoint
from .statistics import STAT_KEYS

__all__ = ["say", "train_grid", "train_run", "record_failure", "failure_reason", "collect"]


def say(msg):
    print(f"[distill-bench] {msg}", flush=True)


def record_failure(run_dir, err):
    """Write ``failed.json`` for a run whose training exited with an error (e.g. it diverged:
    the trainer stops after repeated non-finite losses). A later call retries it only with ``--fresh``."""
    os.makedirs(run_dir, exist_ok=True)
    spec = {}
    if os.path.isfile(os.path.join(run_dir, "run.json")):
        with open(os.path.join(run_dir, "run.json")) as f:
            spec = json.load(f)
    with open(os.path.join(run_dir, "failed.json"), "w") as f:
        json.dump({"error": str(err)[-4000:], **spec}, f, indent=1)


def failure_reason(text):
    """The line of a failed run's output that says why: the tool's ``error:`` line, else the
    repr of the exception (what Python printed when it could not print the error), else the last line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error:"):
            return ln
    for ln in reversed(lines):
        if ln.startswith("object repr"):
            return ln.split(":", 1)[1].strip()
    return lines[-1] if lines else ""


def train_run(arm, seed, out, batch_size, device, threads, fresh, teacher_ckpt, start_from=None, source=None):
    """Train (or reuse, or resume) one ``(arm, seed)`` in ``out/<arm>/seed<k>``; see :func:`train_grid`.

    Args:
        start_from: ``(checkpoint, epoch)`` of ``source`` (``--from-mosaic``) to begin from.

    Returns:
        "ok" (trained or reused), "failed" (now: ``failed.json`` written), "kept" (failed
        before), "interrupted" or "skipped" (the source's checkpoint is not there).
    """
    run_dir = os.path.join(out, arm.name, f"seed{seed}")
    if start_from is not None and (fresh or run_record(run_dir) is None):
        try:
            check_mosaic_checkpoint(start_from[0], source, seed, start_from[1])
        except (FileNotFoundError, ValueError) as err:
            say(f"{arm.name}, seed {seed}: skipped: {err}")
            return "skipped"
    if os.path.isfile(os.path.join(run_dir, "failed.json")) and not fresh:
        say(f"{arm.name}, seed {seed}: failed before (failed.json); kept as failed, --fresh retrains it")
        return "kept"
    opts = ["seed", str(seed), *arm.opts] + (["teacher_ckpt", teacher_ckpt] if arm.is_fgd else [])
    try:
        run_training(arm.exp, os.path.join(out, arm.name), f"seed{seed}", opts, batch_size, device, fresh=fresh,
                     log=lambda msg: say(f"{arm.name}/{msg}"), progress_every=10, threads=threads,
                     start_from=start_from)
    except TrainingInterrupted as err:  # a signal, not the configuration: resumed next time
        say(f"{arm.name}, seed {seed}: INTERRUPTED ({str(err).splitlines()[0]}); not counted as a "
            "failure: the next call resumes it")
        return "interrupted"
    except RuntimeError as err:  # diverged or crashed: recorded, the other runs go on
        record_failure(run_dir, err)
        say(f"{arm.name}, seed {seed}: FAILED, recorded in {repo_path(run_dir)}/failed.json; "
            f"it counts with the AP of its last evaluation (0 if none)")
        return "failed"
    return "ok"


def train_grid(arms, seeds, out, batch_size, device="cpu", jobs=2, threads=1, fresh=False, teacher_ckpt=None,
               from_mosaic=None, starts=None):
    """Train (or reuse, or resume) every ``(arm, seed)``, ``jobs`` at a time.

    Args:
        arms: :class:`~yolox_fgd.bench.arms.Arm` list; the FGD arms get ``teacher_ckpt``.
        threads: torch CPU threads per run (``OMP_NUM_THREADS``).
        fresh: retrain the runs that exist (failed ones included).
        from_mosaic, starts: the source arm of ``--from-mosaic`` and
            :func:`~yolox_fgd.bench.mosaic.mosaic_starts`'s ``{arm: epoch}``: those arms train
            after the others, each from the source's checkpoint of its seed; one whose
            checkpoint is missing is skipped.

    Returns:
        ``{"failed": [...], "interrupted": [...], "skipped": [...]}``: ``(arm, seed)`` pairs.

    Raises:
        ValueError: ``jobs`` or ``threads`` below 1.
        KeyboardInterrupt: this process was interrupted; the runs in progress were stopped.
    """
    if jobs < 1 or threads < 1:
        raise ValueError(f"--jobs and --threads must be at least 1, got {jobs} and {threads}")
    starts = starts or {}
    todo = [(arm, seed) for arm in arms for seed in seeds]
    lock, stop = threading.Lock(), threading.Event()
    state = {"finished": 0, "trained": 0, "t0": time.time(), "active": 0}
    ended = {"failed": [], "interrupted": [], "skipped": []}

    def one(item):
        arm, seed = item
        with lock:
            state["active"] += 1
        try:
            if stop.is_set():  # interrupted: start nothing more
                return
            start = time.time()
            start_from = (mosaic_checkpoint(out, from_mosaic, seed), starts[arm.name]) if arm.name in starts else None
            outcome = train_run(arm, seed, out, batch_size, device, threads, fresh, teacher_ckpt, start_from,
                                from_mosaic)
        finally:
            with lock:
                state["active"] -= 1
        progress(arm.name, seed, outcome, time.time() - start)

    def progress(name, seed, outcome, seconds):
        with lock:
            if outcome in ended:
                ended[outcome].append((name, seed))
            state["trained"] += seconds > 5  # reused runs take no time: no ETA from them
            state["finished"] += 1
            left = len(todo) - state["finished"]
            if state["trained"] or not left:
                per_run = (time.time() - state["t0"]) / max(state["trained"], 1)
                eta = f"ETA {datetime.timedelta(seconds=int(per_run * left / jobs))}"
            else:  # only reused runs so far: nothing to estimate from
                eta = "no ETA before a run has trained"
            say(f"{state['finished']}/{len(todo)} runs done ({name}, seed {seed}); {eta} for the {left} left")

    pool, submitted = ThreadPoolExecutor(max_workers=jobs), []
    try:  # the arms that start from others' checkpoints last
        for phase in ([it for it in todo if it[0].name not in starts], [it for it in todo if it[0].name in starts]):
            for item in phase:
                submitted.append(pool.submit(one, item))
            # never block without a timeout: a signal that a worker thread happens to receive runs
            # its handler (KeyboardInterrupt) only once the main thread is back in Python
            while wait(submitted, timeout=0.5).not_done:
                pass
            for future in submitted:
                future.result()
    except KeyboardInterrupt:
        stop.set()
        say("interrupted: stopping the runs in progress (run the same command again to resume them)")
        pool.shutdown(wait=False, cancel_futures=True)
        while state["active"]:  # (not the futures: the signal may have come before submit returned one)
            stop_runs()  # again and again: a training may have started after the first signal
            time.sleep(0.5)
        raise
    finally:
        pool.shutdown(wait=True)
    return ended


def collect(name, seeds, out):
    """The runs of an arm: ``[{"seed", "ap", ..., "train_time_s", "status", "metrics"}]``.

    A finished run reports its last evaluation (``status`` "ok"); a failed one (``failed.json``)
    reports the last evaluation it reached, or 0 for every statistic if none (``status``
    "failed", with the reason in ``error``): a configuration that diverges on some
    seeds is charged for it in the mean. An unfinished run (interrupted, not run yet) is left out.
    """
    from ..visualize.ap_curves import read_metrics

    runs = []
    for seed in seeds:
        run_dir = os.path.join(out, name, f"seed{seed}")
        done, metrics = run_record(run_dir), read_metrics(run_dir)
        failed_path = os.path.join(run_dir, "failed.json")
        if done is not None and metrics:
            last = metrics[-1]
            runs.append({"seed": seed, **{k.lower(): round(100 * last[k], 4) for k in STAT_KEYS},
                         "epochs": last["epoch"], "train_time_s": round(done["seconds"], 1), "status": "ok",
                         "command": done["command"], "metrics": metrics,
                         **({"start_from": done["spec"]["start_from"]} if "start_from" in done["spec"] else {})})
        elif os.path.isfile(failed_path):
            with open(failed_path) as f:
                failed = json.load(f)
            last = metrics[-1] if metrics else {k: 0.0 for k in STAT_KEYS}
            runs.append({"seed": seed, **{k.lower(): round(100 * last[k], 4) for k in STAT_KEYS},
                         "epochs": last.get("epoch", 0), "train_time_s": round(failed.get("seconds", 0.0), 1),
                         "status": "failed", "error": failure_reason(failed["error"]),
                         "metrics": metrics})
    return runs

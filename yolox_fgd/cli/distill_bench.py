"""``tools/distill_bench.py``: does distillation help? Arms x seeds on an embedded benchmark.

An arm is an experiment file plus ``key value`` overrides; every arm is trained once per seed
(``seed`` is the experiment's seed: same initial student weights and same augmentations for
every arm, see ``docs/distill_bench.md``). ``--benchmark`` picks the data and teacher: ``demo``
(the default) or ``coco_shaped`` (``docs/coco_shaped.md``), each with its own suites. Runs go to
``OUT/<arm>/seed<k>`` and are reused when finished, resumed when interrupted: a run ended by a
signal (Ctrl-C, ``kill``; this tool stopped likewise stops its runs) is not the configuration's
failure, and the next call continues it; only a training that exits with an error of its own
is recorded as failed (``failed.json``). ``nohup`` it and run it again after a stop. At the end it
prints one markdown row per arm (mean ± standard deviation over the seeds of AP, AP50, APs, APm,
APl and training time, and the share of the teacher-student gap closed,
``(arm - baseline) / (teacher - baseline)``), draws AP against epoch with the seed spread as a
band, and writes everything as JSON (AP in percent, times in seconds).

With ``--from-mosaic ARM`` the arms that share ARM's experiment file do not train from epoch 1:
each starts from ARM's ``last_mosaic_epoch_ckpt.pth`` of the same seed (written when the trainer
closes mosaic; ``tools/train.py --resume -c`` that file, the checkpoint untouched) and trains only
the mosaic-free epochs under its own overrides. For an arm that differs from ARM only in what
acts from that epoch on (``distill_no_aug_factor``) this is the full run, bit for bit, at a
third of the time on the benchmark; for any other difference the arm measures "ARM until mosaic
closes, then the arm". Such runs record ``start_from``, and their training time is the
mosaic-free epochs' only.

    python tools/distill_bench.py --suite remedies --seeds 0 1 2
    python tools/distill_bench.py --arm baseline exps/demo/demo_yolox_nano.py \\
        --arm fgd_norm exps/demo/fgd_demo_nano.py fgd_feature_norm True --seeds 0 1 2
    python tools/distill_bench.py --suite noaugfactor --seeds 0 1 2 --from-mosaic fgd_tuned_head_kd2.5_box7.5
    python tools/distill_bench.py --benchmark coco_shaped --suite coco_main --seeds 0 1 2

The FGD arms are passed ``--teacher-ckpt`` as ``teacher_ckpt``; ``--teacher-exp`` is not passed
(that would change the arms' recorded settings): an FGD arm whose own ``teacher_exp`` is another
is refused before anything trains, so the table's teacher is the arms' teacher.
"""
import argparse
import datetime
import json
import os
import signal
import sys

from ..bench.arms import resolve_arms
from ..bench.mosaic import mosaic_starts
from ..bench.report import (benchmark_stats, dataset_fingerprints, format_table, plot_curves, results_payload,
                            teacher_stats)
from ..bench.runner import collect, say, train_grid
from ..bench.statistics import summarize
from ..bench.suites import BENCHMARKS, SCRATCH_BATCH, SCRATCH_OPTS, SUITES
from ..utils.machine import describe_device
from .common import run_cli
from .training_runs import REPO, repo_path

# SUITES, summarize and format_table: this module's names before yolox_fgd/bench existed
__all__ = ["main", "make_parser", "cli", "resolve_settings", "SUITES", "summarize", "format_table"]


def make_parser():
    p = argparse.ArgumentParser("yolox-fgd distill_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = "; ".join(f"{b.name}: {b.teacher_exp}, {b.teacher_ckpt}, {b.out}" for b in BENCHMARKS.values())
    p.add_argument("--benchmark", default="demo", choices=sorted(BENCHMARKS),
                   help=f"the benchmark: the defaults of --teacher-exp, --teacher-ckpt and --out ({defaults}), "
                        "and the suites --suite accepts")
    p.add_argument("--suite", action="append", default=[], choices=sorted(SUITES),
                   help="a predefined set of arms of the benchmark (repeatable): "
                        + "; ".join(f"{b.name}: {', '.join(b.suites)}" for b in BENCHMARKS.values()))
    p.add_argument("--arm", action="append", nargs="+", default=[], metavar="NAME EXP [KEY VALUE]",
                   help="an arm: its name, an experiment file and key value overrides (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=None, help="runs and reports (default: the benchmark's)")
    p.add_argument("--json", default=None, help="results JSON (default OUT/distill_bench.json)")
    p.add_argument("--plot", default=None, help="AP-against-epoch PNG (default OUT/ap_curves.png)")
    p.add_argument("--teacher-exp", default=None,
                   help="the teacher's experiment file, evaluated for the table (default: the benchmark's); "
                        "every FGD arm's own teacher_exp must be this one, or the call is refused")
    p.add_argument("--teacher-ckpt", default=None,
                   help="the teacher of every FGD arm (passed as teacher_ckpt; default: the benchmark's)")
    batches = ", ".join(f"{b.name} {b.batch}" for b in BENCHMARKS.values())
    p.add_argument("-b", "--batch-size", type=int, default=None,
                   help=f"student batch size (default: the benchmark's, {batches}; {SCRATCH_BATCH} with --scratch)")
    p.add_argument("--scratch", action="store_true",
                   help="the benchmark until 2026-11-28: students from random weights, 7 epochs at batch 8 "
                        f"(every arm gets {' '.join(SCRATCH_OPTS)} first)")
    p.add_argument("-j", "--jobs", type=int, default=2,
                   help="runs trained side by side (default 2: one per core of a 2-core machine)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (OMP_NUM_THREADS)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--report", action="store_true", help="train nothing: report the finished runs")
    p.add_argument("--fresh", action="store_true", help="retrain runs that exist")
    p.add_argument("--from-mosaic", metavar="ARM", default=None,
                   help="the arms with ARM's experiment file start from ARM's checkpoint of the epoch mosaic "
                        "closes on (same seed) and train only the mosaic-free epochs")
    return p


def resolve_settings(args):
    """Fill what the benchmark defaults (``--teacher-exp``, ``--teacher-ckpt``, ``--out``, ``-b``:
    ``--scratch``'s batch with it) into ``args``, as absolute paths; returns ``args``."""
    bench = BENCHMARKS[args.benchmark]
    args.teacher_exp = os.path.abspath(args.teacher_exp or os.path.join(REPO, bench.teacher_exp))
    args.teacher_ckpt = os.path.abspath(args.teacher_ckpt or os.path.join(REPO, bench.teacher_ckpt))
    args.out = os.path.abspath(args.out or os.path.join(REPO, bench.out))
    if args.batch_size is None:
        args.batch_size = SCRATCH_BATCH if args.scratch else bench.batch
    return args


def main(argv=None):
    args = resolve_settings(make_parser().parse_args(argv))
    arms = resolve_arms(args.benchmark, args.suite, args.arm, args.scratch, args.teacher_exp)
    starts = mosaic_starts(arms, args.from_mosaic)
    os.makedirs(args.out, exist_ok=True)
    say(f"{len(arms)} arm(s) x {len(args.seeds)} seed(s) = {len(arms) * len(args.seeds)} run(s) in "
        f"{repo_path(args.out)} ({args.benchmark} benchmark)")
    if starts:
        say(f"{', '.join(starts)}: from {args.from_mosaic}'s checkpoints of epoch {next(iter(starts.values())) + 1} "
            "(the epoch mosaic closes on), after its runs")
    if not args.report:
        taught = [a.name for a in arms if a.is_fgd]
        if taught and not os.path.isfile(args.teacher_ckpt):
            raise FileNotFoundError(f"teacher checkpoint not found: {args.teacher_ckpt}; the arms {', '.join(taught)} "
                                    f"need it: give --teacher-ckpt, or train {repo_path(args.teacher_exp)} first")
        ended = train_grid(arms, args.seeds, args.out, args.batch_size, args.device, args.jobs, args.threads,
                           args.fresh, args.teacher_ckpt, args.from_mosaic, starts)
        if ended["interrupted"]:
            runs = ", ".join(f"{arm}/seed{seed}" for arm, seed in ended["interrupted"])
            say(f"{len(ended['interrupted'])} run(s) interrupted ({runs}): not in the table; run the same command "
                "again to resume them")
    teacher = teacher_stats(args.teacher_exp, args.teacher_ckpt, args.out, args.batch_size, args.device, args.report)
    teacher_ap = None if teacher is None else 100 * teacher["AP"]
    results = summarize([{"name": a.name, "exp": repo_path(a.exp), "overrides": a.opts,
                          "runs": collect(a.name, args.seeds, args.out)} for a in arms], teacher_ap)
    table = format_table(results, teacher_ap)
    print("\n" + table + "\n")
    plot = args.plot or os.path.join(args.out, "ap_curves.png")
    plot_curves(results, plot, teacher_ap)
    command = " ".join(["python", "tools/distill_bench.py"] + list(sys.argv[1:] if argv is None else argv))
    payload = results_payload(
        results, table, {"exp": args.teacher_exp, "ckpt": args.teacher_ckpt, "stats": teacher},
        benchmark_stats(args.benchmark, arms),
        {"seeds": args.seeds, "batch_size": args.batch_size, "device": args.device, "jobs": args.jobs,
         "threads_per_run": args.threads, "machine": describe_device(args.device),
         "dataset_sha256": dataset_fingerprints(arms), "command": command,
         "date": datetime.date.today().isoformat()})
    path = args.json or os.path.join(args.out, "distill_bench.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)
    say(f"wrote {repo_path(os.path.abspath(path))} and {repo_path(os.path.abspath(plot))}")
    return payload


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def cli():
    """The tool: ``main`` with user errors as ``error:`` lines; Ctrl-C or SIGTERM stops the runs in
    progress (interrupted, resumed by the next call) and exits 130."""
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the trainings too, as Ctrl-C does
    # SIGINT too: a shell without job control starts `tool &` with SIGINT ignored, and Python then
    # keeps it ignored (`kill -INT` would do nothing)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        run_cli(main)
    except KeyboardInterrupt:
        say("interrupted; run the same command again to resume the unfinished runs")
        sys.exit(130)

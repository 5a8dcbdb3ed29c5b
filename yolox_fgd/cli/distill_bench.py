"""``tools/distill_bench.py``: does distillation help? Arms x seeds on the embedded benchmark.

An arm is an experiment file plus ``key value`` overrides; every arm is trained once per seed
(``seed`` is the experiment's seed: same initial student weights and same augmentations for
every arm, see ``docs/distill_bench.md``). Runs go to ``OUT/<arm>/seed<k>`` and are reused when
finished, resumed when interrupted (``nohup`` it and run it again after a stop). At the end it
prints one markdown row per arm (mean ± standard deviation over the seeds of AP, AP50, APs, APm,
APl and training time, and the share of the teacher-student gap closed,
``(arm - baseline) / (teacher - baseline)``), draws AP against epoch with the seed spread as a
band, and writes everything as JSON (AP in percent, times in seconds).

With ``--from-mosaic ARM`` the arms that share ARM's experiment file do not train from epoch 1:
each starts from ARM's ``last_mosaic_epoch_ckpt.pth`` of the same seed (written when the trainer
closes mosaic) and trains only the mosaic-free epochs under its own overrides. For an arm that
differs from ARM only in what acts from that epoch on (``fgd_no_aug_factor``) this is the full
run, bit for bit, at a third of the time on the benchmark; for any other difference the arm
measures "ARM until mosaic closes, then the arm". Such runs record ``start_from``, and their
training time is the mosaic-free epochs' only.

    python tools/distill_bench.py --suite remedies --seeds 0 1 2
    python tools/distill_bench.py --arm baseline exps/demo/demo_yolox_nano.py \\
        --arm fgd_norm exps/demo/fgd_demo_nano.py fgd_feature_norm True --seeds 0 1 2
    python tools/distill_bench.py --suite noaugfactor --seeds 0 1 2 --from-mosaic fgd_tuned_head_kd2.5_box7.5
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import threading
import time

from ..exp.build import load_exp
from ..exp.demo_exp import BENCH_BATCH
from ..utils.machine import describe_device
from .common import run_cli
from .training_runs import REPO, run_record, run_training

__all__ = ["main", "make_parser", "SUITES", "summarize", "format_table"]

STUDENT = "exps/demo/demo_yolox_nano.py"
FGD = "exps/demo/fgd_demo_nano.py"
TUNED = "exps/demo/fgd_demo_nano_tuned.py"
STAT_KEYS = ("AP", "AP50", "APs", "APm", "APl")
MOSAIC_CKPT = "last_mosaic_epoch_ckpt.pth"  # the trainer's checkpoint of the epoch that closes mosaic

# all four FGD weights times a factor (the ratios of the paper kept, as yzd-v/FGD issue 11 advises)
def scaled_weights(factor):
    """``fgd_alpha .. fgd_lambda`` overrides: the paper's weights (2e-3, 1e-3, 1e-3, 1e-5) x ``factor``."""
    return [item for key, w in (("fgd_alpha", 2e-3), ("fgd_beta", 1e-3), ("fgd_gamma", 1e-3), ("fgd_lambda", 1e-5))
            for item in (key, _short_float(w * factor))]


def _short_float(value):
    """``2e-4`` rather than ``0.0002`` or ``2e-04`` (a run folder remembers its options as text)."""
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


NORM = ["fgd_feature_norm", "True"]
# the best configuration until 2026-11-29 (docs/fgd_on_yolox.md, sections 10-12): the recommended
# FGD plus the head's objectness, classes and boxes distilled, the objectness and classes at 2;
# the suites measured around it keep it
KD2_KD = ["head_kd_weight", "2", "head_kd_box_weight", "7.5"]
KD2 = ("fgd_tuned_head_kd2_box7.5", TUNED, KD2_KD)
# section 13's best configuration: the same with the objectness and classes at 2.5
KD25_KD = ["head_kd_weight", "2.5", "head_kd_box_weight", "7.5"]
KD25 = ("fgd_tuned_head_kd2.5_box7.5", TUNED, KD25_KD)
# section 13's with the distillation weighing twice in the mosaic-free epochs (section 14; the best
# configuration until 2026-11-30)
NOAUG2 = ("fgd_tuned_head_kd2.5_box7.5_noaug2", TUNED, KD25_KD + ["fgd_no_aug_factor", "2"])
# the best configuration (exps/demo/fgd_demo_nano_tuned_kd.py; docs/fgd_on_yolox.md, section 14):
# section 13's with the distillation weighing three times in the mosaic-free epochs
BEST = ("fgd_tuned_head_kd2.5_box7.5_noaug3", TUNED, KD25_KD + ["fgd_no_aug_factor", "3"])

# --scratch: the benchmark as it was until 2026-11-28 (docs/results/distill_bench_scratch.json):
# students from random weights, 7 epochs at batch 8, evaluated every 2 epochs
SCRATCH_BATCH = 8
SCRATCH_OPTS = ["init_ckpt", "None", "max_epoch", "7", "no_aug_epochs", "1", "eval_interval", "2",
                "print_interval", "20"]

# name -> [(arm, experiment file, overrides)]
SUITES = {
    # issue 11: the paper's settings and each remedy alone (on the paper's weights)
    "remedies": [
        ("baseline", STUDENT, []),
        ("fgd_paper", FGD, []),
        ("fgd_feature_norm", FGD, NORM),
        ("fgd_channel_ref", FGD, ["fgd_channel_ref", "256"]),
        ("fgd_calibrate", FGD, ["fgd_calibrate_iters", "50"]),
        ("fgd_cosine", FGD, ["fgd_decay", "cosine"]),
        ("fgd_stop", FGD, ["fgd_stop_epoch", "6"]),
        ("fgd_grad_clip", FGD, ["grad_clip_norm", "30"]),
    ],
    # feature normalisation with the paper's weights scaled down (the PAFPN tap)
    "weights": [
        ("baseline", STUDENT, []),
        ("fgd_fn_w01", FGD, NORM + scaled_weights(0.1)),
        ("fgd_fn_w003", FGD, NORM + scaled_weights(0.03)),
        ("fgd_fn_w001", FGD, NORM + scaled_weights(0.01)),
        ("fgd_fn_w003_cos", FGD, NORM + scaled_weights(0.03) + ["fgd_decay", "cosine"]),
        ("fgd_fn_w001_stop5", FGD, NORM + scaled_weights(0.01) + ["fgd_stop_epoch", "5"]),
        ("fgd_fn_stems_w001", FGD, NORM + ["fgd_tap", "stems"] + scaled_weights(0.01)),
    ],
    # the recommended configuration (exps/demo/fgd_demo_nano_tuned.py), the same with the FGD
    # modules at the student's learning rate (the recommendation until 2026-11-29), the paper's settings
    "tuned": [
        ("baseline", STUDENT, []),
        ("fgd_paper", FGD, []),
        ("fgd_tuned", TUNED, []),
        ("fgd_tuned_lrm1", TUNED, ["fgd_modules_lr_mult", "1"]),
    ],
    # the best configuration (exps/demo/fgd_demo_nano_tuned_kd.py: the recommendation plus the
    # head's output distillation at weight 3), as it was measured: with the diagnostics on, which
    # change no result (docs/fgd_on_yolox.md, section 9)
    "head": [
        ("baseline", STUDENT, []),
        ("fgd_tuned", TUNED, []),
        ("fgd_tuned_head_kd3", TUNED, ["head_kd_weight", "3", "fgd_diagnostics_interval", "25"]),
    ],
    # the head's boxes distilled too (head_kd_box_weight; docs/fgd_on_yolox.md, section 10): the
    # weights of the objectness/class and box terms, and the distillation stopped or decayed
    # over the last epochs
    "boxes": [
        ("baseline", STUDENT, []),
        ("fgd_tuned_head_kd3", TUNED, ["head_kd_weight", "3", "fgd_diagnostics_interval", "25"]),
        ("fgd_tuned_head_kd3_box5", TUNED, ["head_kd_weight", "3", "head_kd_box_weight", "5"]),
        KD2,
        ("fgd_tuned_head_kd2_box10", TUNED, ["head_kd_weight", "2", "head_kd_box_weight", "10"]),
        ("fgd_tuned_head_kd1_box15", TUNED, ["head_kd_weight", "1", "head_kd_box_weight", "15"]),
        ("fgd_tuned_head_kd2_box7.5_stop8", TUNED, KD2_KD + ["fgd_stop_epoch", "8"]),
        ("fgd_tuned_head_kd2_box7.5_cos", TUNED, KD2_KD + ["fgd_decay", "cosine"]),
    ],
    # around section 10's best configuration (KD2; docs/fgd_on_yolox.md, section 11): the boxes weighted by the
    # teacher's score, the teacher at its own input size, FGD's terms x10, the label assignment
    # from the teacher (LAD)
    "assignment": [
        ("baseline", STUDENT, []),
        KD2,
        ("fgd_tuned_head_kd2_box7.5_score", TUNED, KD2_KD + ["head_kd_box_weighting", "score"]),
        ("fgd_tuned_head_kd2_box10_score", TUNED, ["head_kd_weight", "2", "head_kd_box_weight", "10",
                                                   "head_kd_box_weighting", "score"]),
        ("fgd_tuned_head_kd2_box7.5_t96", TUNED, KD2_KD + ["head_kd_teacher_size", "96"]),
        ("fgd_tuned_x10_head_kd2_box7.5", TUNED, KD2_KD + ["fgd_alpha", "2e-4", "fgd_beta", "1e-4", "fgd_gamma", "1e-4",
                                                            "fgd_lambda", "1e-6"]),
        ("fgd_tuned_head_kd2_box7.5_lad", TUNED, KD2_KD + ["teacher_assignment", "True"]),
        ("fgd_tuned_head_kd2_box7.5_score_lad", TUNED, KD2_KD + ["head_kd_box_weighting", "score",
                                                                  "teacher_assignment", "True"]),
    ],
    # no distillation, the paper's FGD, the recommended FGD, the best configuration until section 13
    # (docs/results/distill_bench.json)
    "main": [
        ("baseline", STUDENT, []),
        ("fgd_paper", FGD, []),
        ("fgd_tuned", TUNED, []),
        KD2,
    ],
    # the weight of the head's objectness and classes at 2, 2.5 and 3, the
    # boxes at 7.5 (docs/fgd_on_yolox.md, section 13; docs/results/distill_bench_kd_weights.json)
    "kdweights": [
        ("baseline", STUDENT, []),
        KD2,
        KD25,
        ("fgd_tuned_head_kd3_box7.5", TUNED, ["head_kd_weight", "3", "head_kd_box_weight", "7.5"]),
    ],
    # the README's table since section 14: no distillation, section 13's best, and the same with the
    # distillation three times as heavy from the epoch mosaic closes on (fgd_no_aug_factor 3; the best)
    "noaug": [
        ("baseline", STUDENT, []),
        KD25,
        BEST,
    ],
    # the factor at 1 (KD25), 2, 3 and 4 (docs/fgd_on_yolox.md, sections 14-15); the factors only act
    # from the epoch mosaic closes on: --from-mosaic fgd_tuned_head_kd2.5_box7.5 trains them in a third
    # of the time
    "noaugfactor": [
        ("baseline", STUDENT, []),
        KD25,
        NOAUG2,
        BEST,
        ("fgd_tuned_head_kd2.5_box7.5_noaug4", TUNED, KD25_KD + ["fgd_no_aug_factor", "4"]),
    ],
    # cross-head distillation (CrossKD) on section 12's best configuration (docs/fgd_on_yolox.md)
    "crosskd": [
        ("baseline", STUDENT, []),
        KD2,
        ("kd2_box7.5_ck2", TUNED, KD2_KD + ["crosskd_weight", "2"]),
        ("kd2_box7.5_ck0.3", TUNED, KD2_KD + ["crosskd_weight", "0.3"]),
        ("kd2_box7.5_ck0.05", TUNED, KD2_KD + ["crosskd_weight", "0.05"]),
    ],
    # issue 14: the recommended configuration on either tap
    "taps": [
        ("fgd_tuned", TUNED, []),  # the PAFPN outputs
        ("fgd_tuned_stems", TUNED, ["fgd_tap", "stems"]),
    ],
    # the source document's variants, on the recommended configuration
    "variants": [
        ("fgd_tuned_per_gt", TUNED, ["fgd_fg_norm", "per_gt"]),
        ("fgd_tuned_attention_none", TUNED, ["fgd_attention", "none"]),
        ("fgd_tuned_attention_student", TUNED, ["fgd_attention", "student"]),
        ("fgd_tuned_attention_diff", TUNED, ["fgd_attention", "diff"]),
    ],
    # the stem study (docs/baseline_discrepancy.md) on the benchmark, from random weights (the
    # common initial weights have a Focus stem)
    "stems": [
        ("scratch_focus", STUDENT, ["init_ckpt", "None"]),
        ("scratch_conv6", STUDENT, ["init_ckpt", "None", "stem", "conv6"]),
        ("scratch_conv3", STUDENT, ["init_ckpt", "None", "stem", "conv3"]),
    ],
}


def make_parser():
    p = argparse.ArgumentParser("yolox-fgd distill_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", action="append", default=[], choices=sorted(SUITES),
                   help="a predefined set of arms (repeatable)")
    p.add_argument("--arm", action="append", nargs="+", default=[], metavar="NAME EXP [KEY VALUE]",
                   help="an arm: its name, an experiment file and key value overrides (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=os.path.join(REPO, "outputs", "distill_bench"), help="runs and reports")
    p.add_argument("--json", default=None, help="results JSON (default OUT/distill_bench.json)")
    p.add_argument("--plot", default=None, help="AP-against-epoch PNG (default OUT/ap_curves.png)")
    p.add_argument("--teacher-exp", default=os.path.join(REPO, "exps", "demo", "demo_yolox_s.py"))
    p.add_argument("--teacher-ckpt", default=os.path.join(REPO, "demo_assets", "demo_yolox_s.pth"),
                   help="the teacher of every FGD arm (passed as teacher_ckpt)")
    p.add_argument("-b", "--batch-size", type=int, default=None,
                   help=f"student batch size (default: the benchmark's, {BENCH_BATCH}; {SCRATCH_BATCH} with --scratch)")
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


def say(msg):
    print(f"[distill-bench] {msg}", flush=True)


def resolve_batch_size(args):
    """``-b`` if given, else the benchmark's batch (``--scratch``: the old benchmark's)."""
    if args.batch_size is not None:
        return args.batch_size
    return SCRATCH_BATCH if args.scratch else BENCH_BATCH


def resolve_arms(args):
    """``[(name, exp_file, overrides)]`` from the suites and --arm, in order, without repeats."""
    arms, seen = [], {}
    for suite in args.suite:
        arms += SUITES[suite]
    for spec in args.arm:
        if len(spec) < 2 or len(spec) % 2:
            raise ValueError(f"--arm takes a name, an experiment file and key value pairs, got {spec}")
        arms.append((spec[0], spec[1], spec[2:]))
    if not arms:
        raise ValueError("no arms: give --suite NAME or --arm NAME EXP [KEY VALUE ...]")
    out = []
    for name, exp_file, opts in arms:
        opts = (SCRATCH_OPTS if args.scratch else []) + list(opts)
        exp_path = exp_file if os.path.isabs(exp_file) else os.path.join(REPO, exp_file)
        if name in seen:
            if seen[name] != (exp_path, list(opts)):
                raise ValueError(f"arm {name!r} is defined twice with different settings")
            continue
        if not os.path.isfile(exp_path):
            raise FileNotFoundError(f"arm {name!r}: experiment file not found: {exp_file}")
        exp = load_exp(exp_path)
        exp.merge(list(opts))  # unknown or mistyped keys fail here, before any training
        seen[name] = (exp_path, list(opts))
        out.append((name, exp_path, list(opts), hasattr(exp, "teacher_ckpt")))
    return out


def mosaic_starts(arms, source):
    """``{arm name: epoch}``: the arms that start from ``source``'s last-mosaic checkpoints
    (``--from-mosaic``) and the 0-based epoch they train first, ``max_epoch - no_aug_epochs - 1``
    (the trainer writes that checkpoint before the epoch in which it closes mosaic, 1-based
    ``max_epoch - no_aug_epochs``). Every other arm of ``source``'s experiment file qualifies;
    they must share its ``max_epoch`` and ``no_aug_epochs``."""
    if source is None:
        return {}
    by_name = {a[0]: a for a in arms}
    if source not in by_name:
        raise ValueError(f"--from-mosaic {source}: no such arm; the arms are {', '.join(by_name)}")

    def epochs(exp_path, opts):
        exp = load_exp(exp_path)
        exp.merge(list(opts))
        return exp.max_epoch, exp.no_aug_epochs

    _, src_exp, src_opts, _ = by_name[source]
    max_epoch, no_aug = epochs(src_exp, src_opts)
    if not 0 < no_aug < max_epoch:
        raise ValueError(f"--from-mosaic {source}: it has no epoch that closes mosaic (max_epoch {max_epoch}, "
                         f"no_aug_epochs {no_aug})")
    starts = {}
    for name, exp_path, opts, _ in arms:
        if name == source or exp_path != src_exp:
            continue
        if epochs(exp_path, opts) != (max_epoch, no_aug):
            raise ValueError(f"--from-mosaic {source}: arm {name!r} has another max_epoch or no_aug_epochs than "
                             f"{source!r} ({epochs(exp_path, opts)} against {(max_epoch, no_aug)}); it cannot start "
                             "from its checkpoints: drop it or give it the same schedule")
        starts[name] = max_epoch - no_aug - 1
    if not starts:
        raise ValueError(f"--from-mosaic {source}: no other arm uses its experiment file "
                         f"({os.path.relpath(src_exp, REPO)}), so none can start from its checkpoints")
    return starts


def check_mosaic_checkpoint(path, source, seed, epoch):
    """Check that ``path``, ``source``'s last-mosaic checkpoint of ``seed``, is there and is the one
    written before 0-based ``epoch`` trained. A checkpoint from before 2026-11-29 is labelled
    ``epoch + 1`` (YOLOX 0.3.0's label, fixed in the trainer since); the run that starts from it is
    given ``epoch`` either way (:func:`~yolox_fgd.cli.training_runs.run_training`'s ``start_from``).

    Raises:
        FileNotFoundError: ``source`` has not reached that epoch on this seed.
        ValueError: the checkpoint is of another epoch.
    """
    from ..utils.checkpoint import load_checkpoint

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: arm {source!r} has not reached "
                                f"epoch {epoch + 1} on seed {seed}")
    label = load_checkpoint(path, map_location="cpu", what="last-mosaic checkpoint")["start_epoch"]
    if label not in (epoch, epoch + 1):
        raise ValueError(f"{path} resumes at epoch {label + 1}, not {epoch + 1}: it is "
                         f"not the checkpoint of the epoch {source!r} closes mosaic on")


def dataset_fingerprints(arms):
    """``{data_dir: sha256}`` of the generated datasets the arms trained on
    (:func:`~yolox_fgd.data.synthetic.dataset_fingerprint`; ``None`` for a folder not generated yet):
    results from two machines are comparable only if these agree."""
    from ..data.synthetic import dataset_fingerprint, default_root

    out = {}
    for _, exp_path, opts, _ in arms:
        exp = load_exp(exp_path)
        exp.merge(list(opts))
        if getattr(exp, "synthetic_dataset", None) is None:
            continue
        root = exp.data_dir or default_root(exp.synthetic_name)
        if root not in out:
            try:
                out[root] = dataset_fingerprint(root)
            except FileNotFoundError:
                out[root] = None
    return {os.path.relpath(k, REPO) if k.startswith(REPO) else k: v for k, v in out.items()}


def teacher_stats(args):
    """COCO stats of the teacher checkpoint (cached in OUT/teacher_eval.json by checksum)."""
    from ..utils.checkpoint import file_sha256
    from .eval import evaluate_checkpoint

    if not os.path.isfile(args.teacher_ckpt):
        raise FileNotFoundError(f"teacher checkpoint not found: {args.teacher_ckpt}")
    digest = file_sha256(args.teacher_ckpt)
    cache = os.path.join(args.out, "teacher_eval.json")
    if os.path.isfile(cache):
        with open(cache) as f:
            data = json.load(f)
        if data.get("sha256") == digest:
            return data["stats"]
    if args.report:
        raise FileNotFoundError(f"{cache} is missing or for another teacher: run without --report once")
    say(f"evaluating the teacher {os.path.relpath(args.teacher_ckpt, REPO)} ...")
    stats, _ = evaluate_checkpoint(load_exp(args.teacher_exp), args.teacher_ckpt, batch_size=args.batch_size,
                                   device=args.device)
    with open(cache, "w") as f:
        json.dump({"sha256": digest, "ckpt": args.teacher_ckpt, "stats": stats}, f, indent=1)
    return stats


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


def collect(name, exp_path, opts, seeds, out):
    """The runs of an arm: ``[{"seed", "ap", ..., "train_time_s", "status", "metrics"}]``.

    A finished run reports its last evaluation (``status`` "ok"); a failed one (``failed.json``)
    reports the last evaluation it reached, or 0 for every statistic if none (``status``
    "failed", with the run's last log lines in ``error``): a configuration that diverges on some
    seeds is charged for it in the mean.
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


def _mean_std(values):
    """Mean and sample standard deviation; the deviation of one value is ``None`` (not 0)."""
    if not values:
        return float("nan"), None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _cell(mean, std, fmt="{:.1f}"):
    return fmt.format(mean) if std is None else f"{fmt.format(mean)} ± {fmt.format(std).lstrip('+')}"


def summarize(arms, teacher_ap):
    """Per arm: mean and std of each statistic, the paired gain over the ``baseline`` arm and the
    share of the teacher-student gap closed.

    The gain is paired by seed (an arm's run of seed k against the baseline's run of seed k: the
    same initial student and the same data), over the seeds both have: ``gain_ap`` holds its mean,
    standard deviation and the seeds. The gap closed is ``mean gain / (teacher - baseline)`` with the
    baseline's mean over those seeds, which for an arm with the baseline's seeds is
    ``(arm - baseline) / (teacher - baseline)``; an arm run on fewer seeds is compared on its seeds
    only, not with the baseline's other draws.
    """
    base = next((a for a in arms if a["name"] == "baseline"), None)
    base_by_seed = {r["seed"]: r["ap"] for r in base["runs"]} if base else {}
    for arm in arms:
        arm["mean"], arm["std"] = {}, {}
        for key in [k.lower() for k in STAT_KEYS] + ["train_time_s"]:
            arm["mean"][key], arm["std"][key] = _mean_std([r[key] for r in arm["runs"]])
        paired = [(r["ap"], base_by_seed[r["seed"]], r["seed"]) for r in arm["runs"] if r["seed"] in base_by_seed]
        arm["gain_ap"], arm["gap_closed_pct"] = None, None
        if paired:
            gain_mean, gain_std = _mean_std([a - b for a, b, _ in paired])
            arm["gain_ap"] = {"mean": gain_mean, "std": gain_std, "seeds": [k for _, _, k in paired]}
            base_ap = statistics.mean(b for _, b, _ in paired)
            if teacher_ap > base_ap:
                arm["gap_closed_pct"] = 100 * gain_mean / (teacher_ap - base_ap)
    return arms


def format_table(arms, teacher_ap):
    head = ("| arm | seeds | AP | AP50 | APs | APm | APl | train time (s) | AP - baseline, paired | gap closed |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head, f"| teacher | - | {teacher_ap:.1f} | | | | | | | |"]
    for arm in arms:
        if not arm["runs"]:
            lines.append(f"| {arm['name']} | 0 | not run | | | | | | | |")
            continue
        cells = [_cell(arm["mean"][k], arm["std"][k]) for k in ("ap", "ap50", "aps", "apm", "apl")]
        gap = "" if arm["gap_closed_pct"] is None else f"{arm['gap_closed_pct']:+.1f}%"
        gain = arm["gain_ap"]
        gain = "" if gain is None or arm["name"] == "baseline" else _cell(gain["mean"], gain["std"], "{:+.1f}")
        failed = sum(r["status"] == "failed" for r in arm["runs"])
        seeds = f"{len(arm['runs'])}" + (f" ({failed} failed)" if failed else "")
        late = any("start_from" in r for r in arm["runs"])
        lines.append(f"| {arm['name']} | {seeds} | " + " | ".join(cells) +
                     f" | {_cell(arm['mean']['train_time_s'], arm['std']['train_time_s'], '{:.0f}')}"
                     f"{' *' if late else ''} | {gain} | {gap} |")
    if any("start_from" in r for arm in arms for r in arm["runs"]):
        lines.append("\n\\* some or all of the arm's runs started from another arm's checkpoint of the epoch mosaic "
                     "closes on (--from-mosaic): their time is the mosaic-free epochs' only")
    return "\n".join(lines)


def train_all(args, todo, starts=None):
    """Train (or reuse, or resume) every ``(arm, seed)``, ``args.jobs`` at a time, with an ETA
    after each run. A failed run is recorded (:func:`record_failure`) and the others go on.
    The arms in ``starts`` (:func:`mosaic_starts`) train after the others, each from
    ``args.from_mosaic``'s checkpoint of its seed; one whose checkpoint is missing is skipped."""
    from concurrent.futures import ThreadPoolExecutor

    if args.jobs < 1 or args.threads < 1:
        raise ValueError(f"--jobs and --threads must be at least 1, got {args.jobs} and {args.threads}")
    lock, state = threading.Lock(), {"finished": 0, "trained": 0, "t0": time.time()}
    starts = starts or {}

    def one(item):
        (name, exp_path, opts, is_fgd), seed = item
        run_opts = ["seed", str(seed), *opts] + (["teacher_ckpt", args.teacher_ckpt] if is_fgd else [])
        run_dir = os.path.join(args.out, name, f"seed{seed}")
        start_from, skip = None, None
        if name in starts:
            start_from = (os.path.join(args.out, args.from_mosaic, f"seed{seed}", MOSAIC_CKPT), starts[name])
            if args.fresh or run_record(run_dir) is None:
                try:
                    check_mosaic_checkpoint(start_from[0], args.from_mosaic, seed, starts[name])
                except (FileNotFoundError, ValueError) as err:
                    skip = err
        if skip is not None:
            say(f"{name}, seed {seed}: skipped: {skip}")
        elif os.path.isfile(os.path.join(run_dir, "failed.json")) and not args.fresh:
            say(f"{name}, seed {seed}: failed before (failed.json); kept as failed, --fresh retrains it")
        else:
            start = time.time()
            try:
                run_training(exp_path, os.path.join(args.out, name), f"seed{seed}", run_opts, args.batch_size,
                             args.device, fresh=args.fresh, log=lambda msg: say(f"{name}/{msg}"), progress_every=10,
                             threads=args.threads, start_from=start_from)
            except RuntimeError as err:  # diverged or crashed: recorded, the other runs go on
                record_failure(run_dir, err)
                say(f"{name}, seed {seed}: FAILED, recorded in {os.path.relpath(run_dir, REPO)}/failed.json; "
                    f"it counts with the AP of its last evaluation (0 if none)")
            with lock:
                state["trained"] += time.time() - start > 5
        with lock:
            state["finished"] += 1
            left = len(todo) - state["finished"]
            if state["trained"] or not left:
                per_run = (time.time() - state["t0"]) / max(state["trained"], 1)
                eta = f"ETA {datetime.timedelta(seconds=int(per_run * left / args.jobs))}"
            else:  # only reused runs so far: nothing to estimate from
                eta = "no ETA before a run has trained"
            say(f"{state['finished']}/{len(todo)} runs done ({name}, seed {seed}); {eta} for the {left} left")

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # the arms that start from others' checkpoints last
        list(pool.map(one, [item for item in todo if item[0][0] not in starts]))
        list(pool.map(one, [item for item in todo if item[0][0] in starts]))


def main(argv=None):
    args = make_parser().parse_args(argv)
    args.batch_size = resolve_batch_size(args)
    os.makedirs(args.out, exist_ok=True)
    arms = resolve_arms(args)
    starts = mosaic_starts(arms, args.from_mosaic)
    todo = [(a, s) for a in arms for s in args.seeds]
    say(f"{len(arms)} arm(s) x {len(args.seeds)} seed(s) = {len(todo)} run(s) in {args.out}")
    if starts:
        say(f"{', '.join(starts)}: from {args.from_mosaic}'s checkpoints of epoch {next(iter(starts.values())) + 1} "
            "(the epoch mosaic closes on), after its runs")
    if not args.report:
        train_all(args, todo, starts)
    teacher = teacher_stats(args)
    teacher_ap = 100 * teacher["AP"]
    results = summarize([{"name": n, "exp": os.path.relpath(e, REPO), "overrides": o,
                          "runs": collect(n, e, o, args.seeds, args.out)} for n, e, o, _ in arms], teacher_ap)
    table = format_table(results, teacher_ap)
    print("\n" + table + "\n")
    from ..visualize.ap_curves import plot_ap_bands

    plot = args.plot or os.path.join(args.out, "ap_curves.png")
    groups = {a["name"]: [r["metrics"] for r in a["runs"]] for a in results}
    groups["teacher (final)"] = []
    plot_ap_bands(groups, plot, title=f"AP against epoch, mean ± std over seeds (teacher {teacher_ap:.1f})")
    payload = {
        "teacher": {"exp": os.path.relpath(args.teacher_exp, REPO), "ckpt": os.path.relpath(args.teacher_ckpt, REPO),
                    "ap": round(teacher_ap, 2), **{k.lower(): round(100 * teacher[k], 2) for k in STAT_KEYS[1:]}},
        "arms": [{k: a[k] for k in ("name", "exp", "overrides", "runs", "mean", "std", "gain_ap", "gap_closed_pct")}
                 for a in results],
        "seeds": args.seeds, "batch_size": args.batch_size, "device": args.device, "jobs": args.jobs,
        "threads_per_run": args.threads,
        "machine": describe_device(args.device),
        "dataset_sha256": dataset_fingerprints(arms), "command": " ".join(["python", "tools/distill_bench.py"] + list(sys.argv[1:] if argv is None else argv)),
        "date": datetime.date.today().isoformat(), "table": table,
    }
    path = args.json or os.path.join(args.out, "distill_bench.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)
    say(f"wrote {os.path.relpath(path, REPO)} and {os.path.relpath(plot, REPO)}")
    return payload


def cli():
    run_cli(main)

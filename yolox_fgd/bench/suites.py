"""The benchmarks ``tools/distill_bench.py`` runs, and their suites of arms.

A benchmark is a dataset with its teacher: the demo benchmark (``yolox_fgd/exp/demo_exp.py``,
96-px inputs filled by medium objects, docs/distill_bench.md) and the COCO-shaped one
(``yolox_fgd/exp/coco_shaped_exp.py``, 192 px, COCO's size mix and background share,
docs/coco_shaped.md). Each :class:`Benchmark` gives the defaults of ``--teacher-exp``,
``--teacher-ckpt``, ``--out`` and ``-b`` and the suites ``--suite`` accepts with it. A suite is a
list of arms ``(name, experiment file, [key, value, ...])``; a suite belongs to one benchmark.

The demo suites are kept as they were measured: committed results (docs/results/*.json) refer to
their arm names and overrides. The schedule options renamed since (issue 29: ``fgd_decay``,
``fgd_stop_epoch``, ``fgd_no_aug_factor``, ``fgd_diagnostics_interval`` are now ``distill_*``,
:data:`yolox_fgd.exp.fgd_exp.RENAMED_OPTIONS`) are written with their new names: same values,
same runs (a run folder recorded under the old names is reused, see
:func:`~yolox_fgd.cli.training_runs.run_training`).
"""
from dataclasses import dataclass, field

from ..exp.demo_exp import BENCH_BATCH

__all__ = ["Benchmark", "BENCHMARKS", "SUITES", "SCRATCH_BATCH", "SCRATCH_OPTS", "scaled_weights",
           "benchmark_of_suite", "suite_arms"]

STUDENT = "exps/demo/demo_yolox_nano.py"
FGD = "exps/demo/fgd_demo_nano.py"
TUNED = "exps/demo/fgd_demo_nano_tuned.py"

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
NOAUG2 = ("fgd_tuned_head_kd2.5_box7.5_noaug2", TUNED, KD25_KD + ["distill_no_aug_factor", "2"])
# the best configuration (exps/demo/fgd_demo_nano_tuned_kd.py; docs/fgd_on_yolox.md, section 14):
# section 13's with the distillation weighing three times in the mosaic-free epochs
# every FGD weight 0: the same run with FGD's terms off (its modules exist and see no gradient)
NO_FGD = ["fgd_alpha", "0", "fgd_beta", "0", "fgd_gamma", "0", "fgd_lambda", "0"]
BEST = ("fgd_tuned_head_kd2.5_box7.5_noaug3", TUNED, KD25_KD + ["distill_no_aug_factor", "3"])

# --scratch: the benchmark as it was until 2026-11-28 (docs/results/distill_bench_scratch.json):
# students from random weights, 7 epochs at batch 8, evaluated every 2 epochs
SCRATCH_BATCH = 8
SCRATCH_OPTS = ["init_ckpt", "None", "max_epoch", "7", "no_aug_epochs", "1", "eval_interval", "2",
                "print_interval", "20"]

# the demo benchmark's suites: name -> [(arm, experiment file, overrides)]
DEMO_SUITES = {
    # issue 11: the paper's settings and each remedy alone (on the paper's weights)
    "remedies": [
        ("baseline", STUDENT, []),
        ("fgd_paper", FGD, []),
        ("fgd_feature_norm", FGD, NORM),
        ("fgd_channel_ref", FGD, ["fgd_channel_ref", "256"]),
        ("fgd_calibrate", FGD, ["fgd_calibrate_iters", "50"]),
        ("fgd_cosine", FGD, ["distill_decay", "cosine"]),
        ("fgd_stop", FGD, ["distill_stop_epoch", "6"]),
        ("fgd_grad_clip", FGD, ["grad_clip_norm", "30"]),
    ],
    # feature normalisation with the paper's weights scaled down (the PAFPN tap)
    "weights": [
        ("baseline", STUDENT, []),
        ("fgd_fn_w01", FGD, NORM + scaled_weights(0.1)),
        ("fgd_fn_w003", FGD, NORM + scaled_weights(0.03)),
        ("fgd_fn_w001", FGD, NORM + scaled_weights(0.01)),
        ("fgd_fn_w003_cos", FGD, NORM + scaled_weights(0.03) + ["distill_decay", "cosine"]),
        ("fgd_fn_w001_stop5", FGD, NORM + scaled_weights(0.01) + ["distill_stop_epoch", "5"]),
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
        ("fgd_tuned_head_kd3", TUNED, ["head_kd_weight", "3", "distill_diagnostics_interval", "25"]),
    ],
    # the head's boxes distilled too (head_kd_box_weight; docs/fgd_on_yolox.md, section 10): the
    # weights of the objectness/class and box terms, and the distillation stopped or decayed
    # over the last epochs
    "boxes": [
        ("baseline", STUDENT, []),
        ("fgd_tuned_head_kd3", TUNED, ["head_kd_weight", "3", "distill_diagnostics_interval", "25"]),
        ("fgd_tuned_head_kd3_box5", TUNED, ["head_kd_weight", "3", "head_kd_box_weight", "5"]),
        KD2,
        ("fgd_tuned_head_kd2_box10", TUNED, ["head_kd_weight", "2", "head_kd_box_weight", "10"]),
        ("fgd_tuned_head_kd1_box15", TUNED, ["head_kd_weight", "1", "head_kd_box_weight", "15"]),
        ("fgd_tuned_head_kd2_box7.5_stop8", TUNED, KD2_KD + ["distill_stop_epoch", "8"]),
        ("fgd_tuned_head_kd2_box7.5_cos", TUNED, KD2_KD + ["distill_decay", "cosine"]),
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
    # distillation three times as heavy from the epoch mosaic closes on (distill_no_aug_factor 3; the best)
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
        ("fgd_tuned_head_kd2.5_box7.5_noaug4", TUNED, KD25_KD + ["distill_no_aug_factor", "4"]),
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
    # what FGD adds on this benchmark, paired by seed (docs/coco_shaped.md, "FGD's own effect"):
    # FGD alone against no distillation, and the best configuration against the same without FGD
    # (every FGD weight 0)
    "fgd_effect": [
        ("baseline", STUDENT, []),
        ("fgd_tuned", TUNED, []),
        ("head_kd", TUNED, BEST[2] + NO_FGD),
        BEST,
    ],
    # the stem study (docs/baseline_discrepancy.md) on the benchmark, from random weights (the
    # common initial weights have a Focus stem)
    "stems": [
        ("scratch_focus", STUDENT, ["init_ckpt", "None"]),
        ("scratch_conv6", STUDENT, ["init_ckpt", "None", "stem", "conv6"]),
        ("scratch_conv3", STUDENT, ["init_ckpt", "None", "stem", "conv3"]),
    ],
}


# the COCO-shaped benchmark's student, paper FGD, recommended FGD and best demo configuration
COCO_STUDENT = "exps/coco_shaped/coco_shaped_yolox_nano.py"
COCO_FGD = "exps/coco_shaped/coco_shaped_fgd_nano.py"
COCO_TUNED = "exps/coco_shaped/coco_shaped_fgd_nano_tuned.py"
COCO_TUNED_KD = "exps/coco_shaped/coco_shaped_fgd_nano_tuned_kd.py"

COCO_SUITES = {
    # no distillation, FGD as in the paper, FGD as recommended on the demo benchmark ("fgd": the
    # FGD without head distillation measured on every seed here, docs/coco_shaped.md), the head's
    # outputs distilled alone (every FGD weight 0) and with FGD (the demo benchmark's best
    # configuration)
    "coco_main": [
        ("baseline", COCO_STUDENT, []),
        ("fgd_paper", COCO_FGD, []),
        ("fgd", COCO_TUNED, []),
        ("head_kd", COCO_TUNED_KD, NO_FGD),
        ("head_kd_fgd", COCO_TUNED_KD, []),
    ],
    # FGD without head distillation, looking for its best configuration here (seeds 0 and 1 first):
    # the official maps (stems) or the PAFPN's, normalised or not, the paper's weights x1 / x0.1 / x0.01,
    # and the teacher normalising with each batch's statistics (teacher_bn_stats batch: its maps on
    # the scale of the student's, docs/coco_shaped.md)
    "coco_fgd_search": [
        ("baseline", COCO_STUDENT, []),
        ("fgd_paper", COCO_FGD, []),
        ("fgd", COCO_TUNED, []),
        ("fgd_tuned_stems", COCO_TUNED, ["fgd_tap", "stems"]),
        ("fgd_paper_bnbatch", COCO_FGD, ["teacher_bn_stats", "batch"]),
        ("fgd_stems_x01_bnbatch", COCO_FGD, scaled_weights(0.1) + ["fgd_modules_lr_mult", "100",
                                                                   "teacher_bn_stats", "batch"]),
    ],
    # the source document's variants, on the recommended configuration
    "coco_variants": [
        ("baseline", COCO_STUDENT, []),
        ("fgd_per_gt", COCO_TUNED, ["fgd_fg_norm", "per_gt"]),
        ("fgd_attention_none", COCO_TUNED, ["fgd_attention", "none"]),
        ("fgd_attention_student", COCO_TUNED, ["fgd_attention", "student"]),
        ("fgd_attention_diff", COCO_TUNED, ["fgd_attention", "diff"]),
    ],
}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its teacher (experiment file and checkpoint, relative to the repository),
    the default output folder, the students' default batch and its suites."""
    name: str
    teacher_exp: str
    teacher_ckpt: str
    out: str
    batch: int
    suites: dict = field(default_factory=dict)


BENCHMARKS = {b.name: b for b in (
    Benchmark("demo", "exps/demo/demo_yolox_s.py", "demo_assets/demo_yolox_s.pth", "outputs/distill_bench",
              BENCH_BATCH, DEMO_SUITES),
    # the teacher checkpoint was trained by exps/coco_shaped/coco_shaped_yolox_s.py
    # (demo_assets/coco_shaped_yolox_s.json)
    Benchmark("coco_shaped", "exps/coco_shaped/coco_shaped_yolox_s.py", "demo_assets/coco_shaped_yolox_s.pth",
              "outputs/coco_shaped_bench", BENCH_BATCH, COCO_SUITES),
)}

# every suite of every benchmark by name (a name belongs to one benchmark)
SUITES = {name: arms for bench in BENCHMARKS.values() for name, arms in bench.suites.items()}
if len(SUITES) != sum(len(b.suites) for b in BENCHMARKS.values()):
    raise RuntimeError("two benchmarks define a suite of the same name: rename one (--suite picks by name)")


def benchmark_of_suite(suite):
    """The name of the benchmark that has ``suite``.

    Raises:
        ValueError: no benchmark has it.
    """
    for bench in BENCHMARKS.values():
        if suite in bench.suites:
            return bench.name
    raise ValueError(f"no suite {suite!r}; the suites are {', '.join(sorted(SUITES))}")


def suite_arms(benchmark, suite):
    """The arms of ``suite`` on ``benchmark`` (a name of :data:`BENCHMARKS`).

    Raises:
        ValueError: the suite belongs to another benchmark (named) or to none.
    """
    owner = benchmark_of_suite(suite)
    if owner != benchmark:
        raise ValueError(f"suite {suite!r} belongs to the {owner} benchmark, not {benchmark}: "
                         f"add --benchmark {owner} (or pick one of {', '.join(sorted(BENCHMARKS[benchmark].suites))})")
    return BENCHMARKS[benchmark].suites[suite]

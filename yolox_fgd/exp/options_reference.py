"""The experiment options yolox-fgd adds to YOLOX's ``Exp`` (and the YOLOX ones whose meaning or
default it changes), declared once with their type, meaning and source.

``docs/options.md`` is :func:`render_markdown`'s output (``python tools/train.py --help-options``
prints it); the defaults are read from :class:`~yolox_fgd.exp.base_exp.Exp` and
:class:`~yolox_fgd.exp.fgd_exp.FGDExp` themselves, and ``tests/exp/test_options_reference.py``
checks that every attribute they add has an entry here, every entry is an attribute, and the
page is this module's output: the reference cannot drift from the code. Values given on the
command line (``key value`` after the options) are parsed as Python literals and checked against
the attribute's type; ``Exp.check_config`` refuses the values and combinations that cannot work,
naming them.
"""
from collections import namedtuple

__all__ = ["OPTIONS", "SECTIONS", "Option", "render_markdown"]

Option = namedtuple("Option", "name type meaning source")

PAPER = "FGD paper (Yang et al., CVPR 2022)"
DOC = "source document (docs/source_document.md)"
PROJECT = "this project"

# (section title, which class's instance gives the defaults, options)
SECTIONS = [
    ("YOLOX attributes whose default or meaning changes", "exp", [
        Option("exp_name", "str", "run folder name when `-expn` is not given (YOLOX: `yolox_base`)", PROJECT),
        Option("data_dir", "str or None", "dataset folder; None: the embedded dataset when `synthetic_dataset` is "
               "set, else `$YOLOX_DATADIR/COCO` or `datasets/COCO` in the repository (YOLOX looks inside its "
               "site-packages)", PROJECT),
        Option("seed", "int or None", "also seeds every augmentation by the sample's position in the training "
               "stream, so runs of one seed see the same data whatever else they build, and resume exactly", PROJECT),
        Option("multiscale_range", "int", "as YOLOX (input sizes drawn in `input_size/32 -/+ range` units of 32 px), "
               "drawn every `multiscale_interval` iterations; a range that reaches sizes <= 0 is refused", "YOLOX"),
    ]),
    ("Data, model and training", "exp", [
        Option("synthetic_dataset", "dict or None", "arguments of the embedded synthetic dataset "
               "(`yolox_fgd.data.synthetic.SyntheticSpec`), generated on first use; None: a COCO folder", PROJECT),
        Option("synthetic_name", "str", "folder name of the embedded dataset under `datasets/`", PROJECT),
        Option("stem", "str", "backbone stem: `focus` (YOLOX), `conv6` (6x6 stride-2 conv, the same function), "
               "`conv3` (3x3 stride-2 conv, another architecture)", "docs/baseline_discrepancy.md"),
        Option("batched_assignment", "bool", "YOLOX's SimOTA for the whole batch at once, without host "
               "synchronisations (the same assignment)", PROJECT),
        Option("channels_last", "bool", "channels-last memory format for the model and inputs", PROJECT),
        Option("init_ckpt", "str or None", "initial weights of the model, loaded strictly before training (`-c` "
               "wins when given)", PROJECT),
        Option("multiscale_interval", "int", "a new multiscale input size every this many iterations (YOLOX "
               "hard-codes 10)", PROJECT),
        Option("ema_decay", "float", "EMA decay (YOLOX hard-codes 0.9998; its maintainers advise 0.9999 at batch "
               "64, YOLOX#735)", "YOLOX"),
        Option("ema_ramp_iters", "int", "EMA warm-up: `decay * (1 - exp(-updates / ema_ramp_iters))` (YOLOX: 2000)",
               "YOLOX"),
        Option("train_until_epoch", "int or None", "stop after this epoch of the schedule; `--resume` continues "
               "as if it had not stopped", PROJECT),
        Option("nonfinite_policy", "str", "a step with a NaN/Inf loss (or, without fp16, gradient): `skip` it "
               "(counted) or `stop`", PROJECT),
        Option("nonfinite_max_consecutive", "int", "with `skip`: stop after this many non-finite steps in a row "
               "(0: never)", PROJECT),
        Option("grad_clip_norm", "float or None", "clip the gradient norm over all trained parameters (unscaled "
               "under fp16)", "DAMO-YOLO, PP-YOLOE distillation (30)"),
        Option("eval_size_thresholds", "(float, float)", "sides (px) of the small/medium and medium/large area "
               "thresholds of APs/APm/APl (COCO: 32, 96)", "COCO"),
    ]),
    ("Teacher", "fgd", [
        Option("teacher_exp", "str", "the teacher's experiment: a YOLOX name (`yolox-l`) or an experiment file; "
               "built with the student's `num_classes`", PROJECT),
        Option("teacher_ckpt", "str or None", "the teacher's weights (`{\"model\": ...}` or a bare state dict); "
               "required", PROJECT),
        Option("teacher_stem", "str or None", "the teacher's stem when its experiment sets none", PROJECT),
        Option("teacher_eval_first", "bool", "evaluate the teacher before training and log its AP", PROJECT),
        Option("teacher_bn_stats", "str", "the teacher's BatchNorm while it teaches: `running` statistics (eval mode) "
               "or each `batch`'s own (running ones untouched; the official FGD YOLOX code ran it in train mode)",
               "official FGD code; project"),
    ]),
    ("FGD", "fgd", [
        Option("fgd_tap", "str", "maps distilled: `stems` (the head's stem outputs, the official run's), `pafpn` "
               "(the PAFPN outputs), `cls_convs`/`reg_convs` (the head's branches)", "official FGD code; project"),
        Option("fgd_levels", "tuple of str", "distilled levels among p3, p4, p5 (strides 8, 16, 32)", PAPER),
        Option("fgd_temp", "float", "attention temperature T (Eq. 2-3)", PAPER),
        Option("fgd_alpha", "float", "foreground feature loss weight (Eq. 7)", PAPER),
        Option("fgd_beta", "float", "background feature loss weight (Eq. 7)", PAPER),
        Option("fgd_gamma", "float", "attention loss weight (Eq. 8)", PAPER),
        Option("fgd_lambda", "float", "global (GcBlock relation) loss weight (Eq. 10)", PAPER),
        Option("fgd_ref_size", "int or None", "total divided by `(w/ref)*(h/ref)` (multiscale normalisation); None: "
               "no division", "official FGD YOLOX config"),
        Option("fgd_fg_norm", "str", "`paper` or `per_gt` (each image's foreground sums to 1: Hypothesis 1)", DOC),
        Option("fgd_attention", "str", "attention weighting Eq. 7: `teacher` (paper), `student`, `none`, `diff` "
               "(Hypothesis 3)", DOC),
        Option("fgd_level_overrides", "dict", "per-level overrides of the FGD loss arguments, e.g. "
               "`{'p5': {'alpha': 1e-3}}`", PROJECT),
        Option("fgd_feature_norm", "bool", "standardise both maps per channel over (N, H, W) before every term",
               "PKD (Cao et al., NeurIPS 2022)"),
        Option("fgd_channel_ref", "int or None", "channel sums weighed as this many channels (256: FGD's mmdet neck)",
               PROJECT),
        Option("fgd_projector", "str", "student-side projection: `conv1x1` (the paper's align) or `mlp`",
               "Miles and Mikolajczyk, AAAI 2024"),
        Option("fgd_modules_lr_mult", "float", "learning-rate multiple of the FGD modules (align convs, GcBlocks)",
               "mmcv paramwise lr_mult"),
        Option("fgd_calibrate_iters", "int", "measure FGD's terms over this many iterations (FGD off), then scale its "
               "four weights so the smallest term equals min(cls, iou) loss; scales FGD only; 0: off",
               "FGD maintainer, yzd-v/FGD#11"),
    ]),
    ("Schedule of all distillation (FGD, head outputs, cross-head)", "fgd", [
        Option("distill_warmup_iters", "int", "linear ramp of the distillation weight over this many iterations",
               PROJECT),
        Option("distill_decay", "str or None", "`cosine` decay of the weight to `distill_decay_final` at the last "
               "iteration", "YOLOv6, DAMO-YOLO"),
        Option("distill_decay_final", "float", "the decay's final value", "YOLOv6 (0.01), DAMO-YOLO (0.1)"),
        Option("distill_stop_epoch", "int or None", "no distillation from this 1-based epoch on",
               "mmyolo StopDistillHook"),
        Option("distill_no_aug_factor", "float", "the weight times this from the epoch mosaic closes on (0: stop "
               "there, as mmyolo's RTMDet distillation)", PROJECT),
        Option("distill_batch_stats", "str", "under torch.distributed, batch statistics of the distillation "
               "(feature normalisation, head distillation's normaliser, cross-head alignment) over each `process`'s "
               "batch or the `global` one", "mmrazor PKD (process), SyncBatchNorm (global)"),
        Option("distill_diagnostics_interval", "int", "every N iterations, gradient norms of every term against the "
               "detection loss's, map RMS and attention entropies in diagnostics.jsonl (0: off)", PROJECT),
    ]),
    ("Head output distillation (not FGD)", "fgd", [
        Option("head_kd_weight", "float", "weight of the binary KL of the student's objectness and class logits to "
               "the teacher's (0: off)", "Hinton et al. 2015; LD (Zheng et al., CVPR 2022)"),
        Option("head_kd_box_weight", "float", "weight of the boxes in it (GIoU loss to the teacher's boxes)",
               "LD localisation distillation"),
        Option("head_kd_box_weighting", "str", "what weighs each position's box: the teacher's `objectness` or "
               "`score`", "PP-YOLOE distillation (score)"),
        Option("head_kd_temperature", "float", "KL temperature (logits / T, loss x T^2)", "Hinton et al. 2015"),
        Option("head_kd_teacher_size", "(int, int) or None", "input size at which the teacher computes its head "
               "outputs (resampled to the student's grid); None: the student's batch",
               "Qi et al., CVPR 2021"),
    ]),
    ("Other distillation (not FGD)", "fgd", [
        Option("teacher_assignment", "bool", "the student's SimOTA assignment from the teacher's predictions",
               "LAD (Nguyen et al., WACV 2022)"),
        Option("crosskd_weight", "float", "weight of cross-head distillation (student maps through the teacher's "
               "head; 0: off)", "CrossKD (Wang et al., CVPR 2024)"),
        Option("crosskd_box_weight", "float", "weight of the boxes in the cross-head loss", "CrossKD"),
        Option("crosskd_box_weighting", "str", "`objectness` or `score`, as head_kd_box_weighting", PROJECT),
        Option("crosskd_temperature", "float", "KL temperature of the cross-head loss", "CrossKD"),
    ]),
]
OPTIONS = {opt.name: opt for _, _, options in SECTIONS for opt in options}


def _default_sources():
    from .base_exp import Exp
    from .fgd_exp import FGDExp

    return {"exp": Exp(), "fgd": FGDExp()}


def _cell(text):
    return str(text).replace("|", "\\|")


def render_markdown():
    """The options reference as markdown (the content of ``docs/options.md``)."""
    instances = _default_sources()
    lines = [
        "# Experiment options",
        "",
        "Generated by `python tools/train.py --help-options` from `yolox_fgd/exp/options_reference.py`; the",
        "defaults are read from the code (`Exp` for the first two tables, `FGDExp` for the others). Set an",
        "option in an experiment file (`self.fgd_alpha = 2e-5`) or after the command line's options",
        "(`tools/train.py -f EXP ... fgd_alpha 2e-5 input_size (320,320)`). YOLOX's own options",
        "(`max_epoch`, `input_size`, `basic_lr_per_img`, ...) keep YOLOX's meaning: see `yolox/exp/yolox_base.py`.",
        "Values and combinations that cannot work are refused at start, naming them.",
    ]
    for title, source, options in SECTIONS:
        lines += ["", f"## {title}", "", "| option | type | default | meaning | source |", "|---|---|---|---|---|"]
        for opt in options:
            default = getattr(instances[source], opt.name)
            lines.append(f"| `{opt.name}` | {_cell(opt.type)} | `{_cell(repr(default))}` | {_cell(opt.meaning)} | "
                         f"{_cell(opt.source)} |")
    return "\n".join(lines) + "\n"

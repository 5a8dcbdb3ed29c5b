"""``tools/fgd_fit.py -f EXP -c CKPT``: does an FGD run's projection fit the teacher?

Loads the student, its trained FGD modules (the checkpoint's ``fgd`` entry) and the experiment's
teacher (``teacher_ckpt``; override it after the options as in ``tools/train.py``), runs them on
the validation images, and prints per level the correlation between the projected student map
and the teacher's map, per teacher channel over all images and positions: its mean, its minimum
and the share of channels above 0.5 (:mod:`yolox_fgd.distill.projection_fit`). A projection that
does not fit (mean correlation far below what the student's own maps allow) means the student is
pulled towards maps that are not the teacher's: docs/fgd_on_yolox.md, section 8.

    python tools/fgd_fit.py -f exps/demo/fgd_demo_nano_tuned.py -c RUN/last_epoch_ckpt.pth
"""
import argparse
import json

from ..distill.projection_fit import projection_fit
from ..utils.checkpoint import CheckpointError, load_checkpoint
from .common import load_student_and_teacher, run_cli

__all__ = ["main", "load_fgd_losses"]


def load_fgd_losses(fgd_exp, ckpt, student, teacher):
    """The experiment's ``{level: FGDLoss}`` with the trained weights of ``ckpt["fgd"]``, sized
    from the two models' maps at ``fgd_exp.fgd_tap``.

    Raises:
        CheckpointError: the checkpoint has no ``fgd`` entry (not an FGD run's training
            checkpoint), or its FGD modules do not fit the experiment (another projector,
            levels or widths); the message names the keys.
    """
    from ..distill.features import tap_channels

    if "fgd" not in ckpt:
        raise CheckpointError("the checkpoint has no 'fgd' entry: give a training checkpoint of an FGD run "
                              "(RUN/latest_ckpt.pth, last_epoch_ckpt.pth or best_ckpt.pth)")
    losses = fgd_exp.get_fgd_losses(tap_channels(student, fgd_exp.fgd_tap), tap_channels(teacher, fgd_exp.fgd_tap))
    for lvl, mod in losses.items():
        state = {k.split(".", 1)[1]: v.float() for k, v in ckpt["fgd"].items() if k.startswith(lvl + ".")}
        result = mod.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"the checkpoint's FGD modules at {lvl} do not fit the experiment: missing {result.missing_keys[:4]}, "
                f"unexpected {result.unexpected_keys[:4]} (train options such as fgd_projector must be given again)")
    return losses


def main(argv=None):
    p = argparse.ArgumentParser("yolox-fgd fgd_fit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-f", "--exp_file", required=True, help="the FGD run's experiment file")
    p.add_argument("-c", "--ckpt", required=True, help="a training checkpoint of the run (has an 'fgd' entry)")
    p.add_argument("-b", "--batch-size", type=int, default=32)
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="key value overrides, as the run was trained")
    args = p.parse_args(argv)
    exp, student, teacher = load_student_and_teacher(args.exp_file, args.opts, args, args.ckpt)
    ckpt = load_checkpoint(args.ckpt)
    losses = load_fgd_losses(exp, ckpt, student, teacher)
    loader = exp.get_eval_loader(batch_size=args.batch_size, is_distributed=False)
    fit = projection_fit(student, teacher, losses, (batch[0] for batch in loader), exp.fgd_tap)
    print(f"projection fit of {args.ckpt} ({exp.fgd_tap} tap, projector {exp.fgd_projector}), "
          "correlation of the projected student map with the teacher's, per teacher channel:")
    print("| level | channels (constant, left out) | mean | min | share above 0.5 |")
    print("|---|---|---|---|---|")
    for lvl, row in fit.items():
        print(f"| {lvl} | {row['channels']} ({row['constant']}) | {row['corr_mean']:.3f} | {row['corr_min']:.3f} | "
              f"{row['corr_above_half']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ckpt": str(args.ckpt), "exp": args.exp_file, "opts": args.opts, "levels": fit}, f, indent=1)
    return fit


def cli():
    run_cli(main)

"""``tools/map_stats.py -f FGD_EXP``: the foreground share of each level and the teacher's and
student's map statistics on the validation images (:mod:`yolox_fgd.distill.map_statistics`).

The student's weights are the experiment's ``init_ckpt`` (the benchmark's common initial weights)
unless ``-c`` gives a checkpoint; the teacher is the experiment's (``teacher_ckpt``). Prints one
markdown table per tap and writes the numbers as JSON with ``--json``.

    python tools/map_stats.py -f exps/coco_shaped/coco_shaped_fgd_nano.py --tap stems pafpn
"""
import argparse
import json

from .common import load_student_and_teacher, run_cli

__all__ = ["main"]


def val_batches(exp, count, batch_size):
    """``(images, targets)`` of the first ``count`` validation images at the test size, targets
    in YOLOX's format ``(class, cx, cy, w, h)`` in input pixels (the annotations scaled as the
    loader scales the images)."""
    import torch

    loader = exp.get_eval_loader(batch_size=batch_size, is_distributed=False)
    dataset = loader.dataset
    seen = 0
    for images, _, _, ids in loader:
        rows = []
        for k in range(len(ids)):
            boxes = torch.as_tensor(dataset.annotations[seen + k][0], dtype=torch.float32).reshape(-1, 5)
            xyxy, cls = boxes[:, :4], boxes[:, 4:]
            rows.append(torch.cat([cls, (xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], dim=1))
        width = max(1, max(len(r) for r in rows))
        targets = torch.zeros(len(rows), width, 5)
        for k, r in enumerate(rows):
            targets[k, :len(r)] = r
        yield images.float(), targets
        seen += len(ids)
        if seen >= count:
            return


def main(argv=None):
    p = argparse.ArgumentParser("yolox-fgd map_stats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-f", "--exp_file", required=True, help="an FGD experiment (its data, student and teacher)")
    p.add_argument("-c", "--ckpt", default=None, help="the student's weights (default: the experiment's init_ckpt)")
    p.add_argument("--tap", nargs="+", default=None, help="taps (default: the experiment's fgd_tap)")
    p.add_argument("--images", type=int, default=128, help="validation images")
    p.add_argument("-b", "--batch-size", type=int, default=32)
    p.add_argument("--json", default=None, help="also write the numbers here")
    p.add_argument("--masks", default=None, metavar="PNG",
                   help="also draw the first 4 validation images with their boxes and FGD's foreground mask per level")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="key value overrides of the experiment")
    args = p.parse_args(argv)
    from ..distill.map_statistics import map_statistics

    exp, student, teacher = load_student_and_teacher(args.exp_file, args.opts, args, args.ckpt)
    ckpt = args.ckpt or exp.init_ckpt
    results = {"exp": args.exp_file, "student_ckpt": ckpt, "teacher_ckpt": exp.teacher_ckpt, "images": args.images,
               "input_size": list(exp.test_size), "taps": {}}
    for tap in args.tap or [exp.fgd_tap]:
        stats = map_statistics({"teacher": teacher, "student": student},
                               val_batches(exp, args.images, args.batch_size), tap)
        results["taps"][tap] = stats
        print(f"\n{args.exp_file}, {tap} tap, {args.images} validation images at {tuple(exp.test_size)}:")
        print("| level | fg share | model | channels | RMS median / max | RMS max in train mode | max abs median / max | "
              "top channel: energy on fg; BN gain, beta, input z RMS (medians) |")
        print("|---|---|---|---|---|---|---|---|")
        for lvl, share in stats["fg_fraction"].items():
            for name in ("teacher", "student"):
                s = stats[name][lvl]
                norm = s["norm"]
                bn = f"{s['top_energy_on_fg']:.2f}" + ("" if norm is None else (
                    f"; {norm['gain']:.2f}, {norm['beta']:.2f}, {norm['z_rms']:.1f} "
                    f"({norm['gain_median']:.2f}, {norm['beta_median']:.2f}, {norm['z_rms_median']:.1f})"))
                print(f"| {lvl} | {share:.2f} | {name} | {s['channels']} | {s['rms_median']:.3f} / {s['rms_max']:.2f} | "
                      f"{s['rms_max_train_mode']:.2f} | {s['max_median']:.2f} / {s['max_max']:.1f} | {bn} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.masks:
        from ..visualize.fg_masks import plot_fg_masks

        images, targets = next(val_batches(exp, 4, 4))
        plot_fg_masks(images, targets, args.masks, title=f"{args.exp_file}: FGD's foreground at {tuple(exp.test_size)}")
        print(f"wrote {args.masks}")
    return results


def cli():
    run_cli(main)

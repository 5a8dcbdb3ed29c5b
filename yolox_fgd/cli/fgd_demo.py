"""``tools/fgd_demo.py``: the one-command FGD demo on the embedded synthetic dataset.

Stages (each says what it does; what exists is reused unless ``--fresh``):

1. the dataset (generated on first use);
2. the teacher: the committed checkpoint ``demo_assets/demo_yolox_s.pth`` (trained by this
   pipeline with ``--retrain-teacher``, see the README), or trained here;
3. the student without distillation and 4. with the benchmark's best distillation configuration
   (``exps/demo/fgd_demo_nano_tuned_kd.py``: FGD with its remedies plus distillation of the head's
   outputs; ``--fgd-exp exps/demo/fgd_demo_nano_tuned.py`` for FGD alone, recommended settings,
   ``exps/demo/fgd_demo_nano.py`` for the paper's settings), same seed, same augmentations and
   schedule; on CPU the two train side by side, one torch thread each (faster on 2 cores than one
   after the other);
5. COCO evaluation of all three with pycocotools; a markdown table (AP, AP50, APs/m/l, parameters,
   GFLOPs, training time) printed and written to ``OUT/results.md`` (+ ``results.json``);
6. ``OUT/ap_curves.png`` (AP against epoch) and ``OUT/fgd_maps.png`` (ground truth, FGD masks,
   teacher and student spatial attention per level for a few validation images).
"""
import argparse
import json
import os
import time

import torch

from ..exp.build import load_exp
from ..exp.demo_exp import BENCH_BATCH
from ..utils.checkpoint import load_checkpoint, save_checkpoint_atomic
from ..utils.machine import describe_device
from .common import run_cli
from .training_runs import REPO, run_training

__all__ = ["main", "make_parser"]

DEMO = os.path.join(REPO, "exps", "demo")


def make_parser():
    p = argparse.ArgumentParser("yolox-fgd demo pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "outputs", "fgd_demo"), help="output folder")
    p.add_argument("--teacher-exp", default=os.path.join(DEMO, "demo_yolox_s.py"))
    p.add_argument("--student-exp", default=os.path.join(DEMO, "demo_yolox_nano.py"))
    p.add_argument("--fgd-exp", default=os.path.join(DEMO, "fgd_demo_nano_tuned_kd.py"),
                   help="the distilled student (default: the benchmark's best configuration, FGD plus head output "
                        "distillation; fgd_demo_nano_tuned.py: FGD alone; fgd_demo_nano.py: the paper's settings)")
    p.add_argument("--teacher-ckpt", default=os.path.join(REPO, "demo_assets", "demo_yolox_s.pth"),
                   help="reused when it exists (unless --retrain-teacher)")
    p.add_argument("--retrain-teacher", action="store_true", help="train the teacher even if a checkpoint exists")
    p.add_argument("--save-teacher", default=None, help="after training the teacher, store it here (fp16 weights)")
    p.add_argument("--teacher-run", default=None,
                   help="use (and with --save-teacher export) a finished tools/train.py run of the teacher experiment")
    p.add_argument("--teacher-epochs", type=int, default=None, help="default: the teacher experiment's")
    p.add_argument("--teacher-only", action="store_true",
                   help="stop after the teacher stage (with --teacher-run and --save-teacher: export a finished run)")
    p.add_argument("--epochs", type=int, default=None, help="student epochs (default: the experiment's)")
    p.add_argument("-b", "--batch-size", type=int, default=BENCH_BATCH,
                   help=f"student batch size (default: the benchmark's, {BENCH_BATCH})")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per training (the two students train side by side on CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--cuda-large", action="store_true",
                   help="the bigger configuration for a GPU: 320x320 input, batch 64, 60 epochs, fp16")
    p.add_argument("--fresh", action="store_true", help="retrain the students even if their runs exist")
    p.add_argument("--images", type=int, default=2, help="validation images in fgd_maps.png")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="experiment attributes for every stage: key value ...")
    return p


def say(msg):
    print(f"[fgd-demo] {msg}", flush=True)


def train(exp_file, name, args, extra, epochs):
    """Train ``exp_file`` into ``OUT/name`` (reused when finished with the same settings, resumed
    when interrupted); returns (checkpoint path, wall seconds)."""
    opts = ["seed", str(args.seed), *map(str, extra)]
    if epochs is not None:
        opts += ["max_epoch", str(epochs)]
    opts += list(args.opts or [])
    done = run_training(exp_file, args.out, name, opts, args.batch_size, args.device, fp16=args.cuda_large,
                        fresh=args.fresh, log=say, progress_every=5,
                        threads=args.threads if args.device == "cpu" else None)
    return done["ckpt"], done["seconds"]


def model_info(exp):
    """Parameters (millions) and GFLOPs at the test size, counted as YOLOX's ``get_model_info``
    does (thop at 64x64, scaled to the test size, multiply-adds x 2)."""
    from copy import deepcopy

    from thop import profile

    model = exp.get_model()
    flops, params = profile(deepcopy(model), inputs=(torch.zeros(1, 3, 64, 64),), verbose=False)
    return params / 1e6, flops / 1e9 * exp.test_size[0] * exp.test_size[1] / 64 / 64 * 2


def evaluate(exp, ckpt, args):
    from .eval import evaluate_checkpoint

    stats, _ = evaluate_checkpoint(exp, ckpt, batch_size=args.batch_size, device=args.device)
    return stats


def stage_teacher(args, common):
    """The teacher checkpoint, its training seconds (None: unknown) and its AP curve records."""
    from ..visualize.ap_curves import read_metrics

    sidecar = os.path.splitext(args.teacher_ckpt)[0] + ".json"
    if os.path.isfile(args.teacher_ckpt) and not args.retrain_teacher and not args.teacher_run:
        meta = json.load(open(sidecar)) if os.path.isfile(sidecar) else {}
        say(f"teacher: reusing {os.path.relpath(args.teacher_ckpt, REPO)} "
            f"({meta.get('epochs_trained', '?')} epochs, see {os.path.relpath(sidecar, REPO)} for the commands)")
        return args.teacher_ckpt, meta.get("seconds"), meta.get("metrics", [])
    if args.teacher_run:
        run_dir = args.teacher_run
        ckpt = os.path.join(run_dir, "latest_ckpt.pth")
        metrics = read_metrics(run_dir)
        seconds = metrics[-1]["train_seconds"] if metrics else None
        with open(os.path.join(run_dir, "exp.json")) as f:
            command = json.load(f).get("command", f"see {run_dir}/train_log.txt")
        say(f"teacher: using the finished run {run_dir}")
    else:
        ckpt, seconds = train(args.teacher_exp, "teacher", args, common, args.teacher_epochs)
        metrics = read_metrics(os.path.join(args.out, "teacher"))
        command = "python tools/fgd_demo.py --retrain-teacher" + (
            f" --teacher-epochs {args.teacher_epochs}" if args.teacher_epochs else "")
    if args.save_teacher:
        state = load_checkpoint(ckpt)["model"]
        save_checkpoint_atomic({"model": {k: v.half() if v.is_floating_point() else v for k, v in state.items()}},
                               args.save_teacher)
        with open(os.path.splitext(args.save_teacher)[0] + ".json", "w") as f:
            json.dump({"seconds": seconds, "metrics": metrics, "command": command,
                       "machine": describe_device(args.device)},
                      f, indent=1)
        say(f"teacher: stored fp16 weights in {args.save_teacher}")
    return ckpt, seconds, metrics


def format_table(rows):
    head = "| model | role | AP | AP50 | AP75 | APs | APm | APl | params (M) | GFLOPs | train time |"
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        t = "reused" if r["seconds"] is None else f"{r['seconds'] / 60:.1f} min"
        if r.get("reused") and r["seconds"] is not None:
            t += " (committed)"
        s = r["stats"]
        lines.append(f"| {r['name']} | {r['role']} | " + " | ".join(f"{100 * s[k]:.1f}" for k in
                     ("AP", "AP50", "AP75", "APs", "APm", "APl")) + f" | {r['params']:.2f} | {r['gflops']:.2f} | {t} |")
    return "\n".join(lines)


def fgd_maps(args, fgd_exp, teacher_exp, fgd_ckpt, teacher_ckpt, path):
    import numpy as np
    from yolox.data import ValTransform

    from ..data.coco import CheckedCOCODataset
    from ..visualize.fgd_maps import plot_fgd_maps
    from .eval import load_model_weights
    from .fgd_fit import load_fgd_losses

    student = load_model_weights(fgd_exp.get_model(), fgd_ckpt)
    teacher = load_model_weights(teacher_exp.get_model(), teacher_ckpt)
    losses = load_fgd_losses(fgd_exp, load_checkpoint(fgd_ckpt), student, teacher)
    dataset = CheckedCOCODataset(data_dir=fgd_exp.resolve_data_dir(), json_file=fgd_exp.val_ann, name="val2017",
                                 num_classes=fgd_exp.num_classes, img_size=fgd_exp.test_size,
                                 preproc=ValTransform(legacy=False))
    images, targets = [], torch.zeros(args.images, 120, 5)
    for i in range(args.images):
        img, _, _, _ = dataset[i]
        images.append(torch.from_numpy(img))
        boxes = dataset.annotations[i][0]  # x1, y1, x2, y2 (scaled to the input), class
        n = min(len(boxes), 120)
        b = torch.from_numpy(np.asarray(boxes[:n], dtype=np.float32))
        targets[i, :n] = torch.stack([b[:, 4], (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                                      b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1)
    names = [c["name"] for c in dataset.coco.loadCats(dataset.coco.getCatIds())]
    return plot_fgd_maps(student, teacher, losses, torch.stack(images).float(), targets, path, names,
                         tap=fgd_exp.fgd_tap)


def main(argv=None):
    args = make_parser().parse_args(argv)
    if args.cuda_large:
        args.device = "cuda"
        args.batch_size = 64 if args.batch_size == BENCH_BATCH else args.batch_size
        args.epochs = args.epochs or 60
        args.opts = ["input_size", "(320,320)", "test_size", "(320,320)", "data_num_workers", "8",
                     "synthetic_dataset", "{'num_train': 4000, 'num_val': 500}", "synthetic_name",
                     "synthetic_shapes_large", *(args.opts or [])]
    if args.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda / --cuda-large need CUDA; run without them on CPU")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    exps = {}
    for key, path in (("teacher", args.teacher_exp), ("student", args.student_exp), ("fgd", args.fgd_exp)):
        exps[key] = load_exp(path)
        exps[key].merge(list(args.opts or []))
        exps[key].output_dir = args.out
    say("stage 1/5: dataset")
    exps["student"].resolve_data_dir()
    say(f"dataset ready in {exps['student'].data_dir}")

    say("stage 2/5: teacher")
    teacher_ckpt, teacher_s, teacher_metrics = stage_teacher(args, [])
    if args.teacher_only:
        return []
    from concurrent.futures import ThreadPoolExecutor

    taught = exps["fgd"].distillation_summary()
    say(f"stages 3-4/5: the student without distillation and distilled with {taught}" +
        (", side by side (one core each)" if args.device == "cpu" else ", one after the other"))
    with ThreadPoolExecutor(max_workers=2 if args.device == "cpu" else 1) as pool:
        base = pool.submit(train, args.student_exp, "student_baseline", args, [], args.epochs)
        fgd = pool.submit(train, args.fgd_exp, "student_distilled", args, ["teacher_ckpt", teacher_ckpt], args.epochs)
        (base_ckpt, base_s), (fgd_ckpt, fgd_s) = base.result(), fgd.result()

    say("stage 5/5: evaluation with pycocotools")
    rows = []
    for name, role, key, ckpt, secs in (
            ("teacher", "teacher", "teacher", teacher_ckpt, teacher_s),
            ("student_baseline", "student, no distillation", "student", base_ckpt, base_s),
            ("student_distilled", f"student, distilled with {taught}", "fgd", fgd_ckpt, fgd_s)):
        say(f"evaluating {name} ...")
        params, gflops = model_info(exps[key])
        rows.append({"name": name, "role": role, "stats": evaluate(exps[key], ckpt, args), "params": params,
                     "gflops": gflops, "seconds": secs, "ckpt": ckpt, "reused": name == "teacher" and ckpt == args.teacher_ckpt})
    table = format_table(rows)
    from ..visualize.ap_curves import plot_ap_curves, read_metrics

    if teacher_metrics and rows[0]["reused"]:
        meta_epoch = teacher_metrics[-1]["epoch"]
        sidecar = os.path.splitext(args.teacher_ckpt)[0] + ".json"
        if os.path.isfile(sidecar):
            meta_epoch = json.load(open(sidecar)).get("epochs_trained", meta_epoch)
        if meta_epoch > teacher_metrics[-1]["epoch"]:  # the committed weights, evaluated just now
            teacher_metrics = teacher_metrics + [{"epoch": meta_epoch, "AP": rows[0]["stats"]["AP"]}]
    curves = plot_ap_curves({"teacher": teacher_metrics,
                             "student, no distillation": read_metrics(os.path.join(args.out, "student_baseline")),
                             "student, distilled": read_metrics(os.path.join(args.out, "student_distilled"))},
                            os.path.join(args.out, "ap_curves.png"))
    maps = fgd_maps(args, exps["fgd"], exps["teacher"], fgd_ckpt, teacher_ckpt, os.path.join(args.out, "fgd_maps.png"))
    total = time.time() - t0
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"rows": rows, "total_seconds": total}, f, indent=1)
    print("\n" + table + "\n")
    delta = 100 * (rows[2]["stats"]["AP"] - rows[1]["stats"]["AP"])
    gap = 100 * (rows[0]["stats"]["AP"] - rows[1]["stats"]["AP"])
    share = f", {100 * delta / gap:+.0f}% of the teacher-student gap" if gap > 0 else ""
    say(f"distilled vs no distillation: {delta:+.1f} AP{share} (teacher - baseline: {gap:+.1f} AP; one seed: "
        "tools/distill_bench.py measures means over seeds)")
    say(f"wrote {os.path.relpath(curves, REPO)}, {os.path.relpath(maps, REPO)}, results.md; total {total / 60:.1f} min")
    return rows


def cli():
    run_cli(main)

#!/usr/bin/env python3
"""Time and peak memory of one FGD distillation step against the plain student step, same run.

Plain step: student forward with YOLOX's loss, backward, SGD step. Distillation step: the
teacher's backbone (and, with ``--tap stems``, its head's three 1x1 stems) under ``no_grad`` + the
student + three FGD losses, backward, SGD step over the student and the FGD modules (what
``FGDTrainer`` does per iteration). Random images and
30 random boxes per image; the first ``--warmup`` steps are not timed.

    python tools/bench_distill.py                                   # CPU: demo nano / demo s, 160px
    python tools/bench_distill.py --device cuda --fp16 --batch 8 32 --size 640 \
        --student exps/yolox_m.py --teacher yolox-l                 # the real sizes

``--assignment yolox batched`` (default both) times the student with YOLOX's per-image SimOTA and
with the batched one; "FGD / official plain" divides by the plain step with YOLOX's assignment.
Peak memory is CUDA's: on a CPU its columns print ``-`` (``None`` in the returned rows).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.distill.distiller import Distiller  # noqa: E402
from yolox_fgd.distill.features import TAPS  # noqa: E402
from yolox_fgd.distill.teacher import TeacherModel  # noqa: E402
from yolox_fgd.exp.build import load_exp  # noqa: E402
from yolox_fgd.exp.fgd_exp import FGDExp  # noqa: E402
from yolox_fgd.utils.benchmark import time_step  # noqa: E402
from yolox_fgd.utils.machine import describe_device  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exp_of(name):
    return load_exp(exp_file=name) if name.endswith(".py") else load_exp(exp_name=name)


def random_batch(batch, size, num_classes, device, g):
    imgs = torch.rand(batch, 3, size, size, generator=g).to(device) * 255
    targets = torch.zeros(batch, 120, 5)
    wh = torch.rand(batch, 30, 2, generator=g) * size * 0.3 + 8
    targets[:, :30, 0] = torch.randint(0, num_classes, (batch, 30), generator=g).float()
    targets[:, :30, 1:3] = torch.rand(batch, 30, 2, generator=g) * (size - wh) + wh / 2
    targets[:, :30, 3:5] = wh
    return imgs, targets.to(device)


def measured(value):
    """``value`` as it goes into the rows: ``None`` (JSON null) for what was not measured (NaN:
    peak memory on a CPU)."""
    return None if value != value else value


def cell(value, spec, suffix=""):
    """A table cell: ``value`` formatted, or ``-`` when it was not measured (``None``)."""
    return "-" if value is None else f"{value:{spec}}{suffix}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--student", default=os.path.join(REPO, "exps", "demo", "demo_yolox_nano.py"))
    p.add_argument("--teacher", default=os.path.join(REPO, "exps", "demo", "demo_yolox_s.py"))
    p.add_argument("--batch", type=int, nargs="+", default=[8])
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--tap", nargs="+", default=["stems", "pafpn"], choices=TAPS,
                   help="where FGD taps both models (default: both, one row each)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--assignment", nargs="+", default=["yolox", "batched"], choices=("yolox", "batched"),
                   help="label assignment of the student's loss: YOLOX's per-image SimOTA and/or the batched one")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    fgd = FGDExp()  # FGD hyper-parameters of the paper's YOLOX config
    t_exp = exp_of(args.teacher)
    name = describe_device(device, torch.get_num_threads() if device.type == "cpu" else None)
    print(f"# one training step on {name}, {os.path.basename(args.student)} student / "
          f"{os.path.basename(args.teacher)} teacher, {args.size}x{args.size}, {'fp16 autocast' if args.fp16 else 'fp32'}")
    print("| batch | assignment | tap | plain step (ms) | FGD step (ms) | FGD / plain | FGD / official plain | "
          "plain peak (MB) | FGD peak (MB) | memory ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for batch, assignment, tap in [(b, a, t) for b in args.batch for a in args.assignment for t in args.tap]:
        g = torch.Generator().manual_seed(0)
        s_exp = exp_of(args.student)
        t_exp.num_classes = s_exp.num_classes
        if hasattr(s_exp, "batched_assignment"):
            s_exp.batched_assignment = assignment == "batched"
        elif assignment == "batched":
            raise ValueError("--assignment batched needs a yolox_fgd experiment file as --student")
        student = s_exp.get_model().to(device).train()
        teacher = TeacherModel(t_exp.get_model(), t_exp, None).to(device)
        imgs, targets = random_batch(batch, args.size, s_exp.num_classes, device, g)
        scaler = torch.amp.GradScaler(device.type, enabled=args.fp16)

        def make_step(module, forward):
            opt = torch.optim.SGD(module.parameters(), lr=1e-4, momentum=0.9, nesterov=True)

            def step():
                with torch.autocast(device.type, enabled=args.fp16):
                    loss = forward()["total_loss"]
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            return step

        plain_ms, plain_mem = time_step(make_step(student, lambda: student(imgs, targets)), device, args.reps, args.warmup)

        fgd.fgd_tap = tap  # FGD alone: FGDExp's other terms are off by default
        distiller = Distiller(student, fgd.get_distill_terms(student, teacher.model)).to(device)
        distiller.attach()

        def distill_forward():
            return distiller(imgs, targets, distiller.teacher_targets(teacher, imgs))

        fgd_ms, fgd_mem = time_step(make_step(distiller, distill_forward), device, args.reps, args.warmup)
        plain_mem, fgd_mem = measured(plain_mem), measured(fgd_mem)
        distiller.detach()
        official = next((r["plain_ms"] for r in rows if r["batch"] == batch and r["assignment"] == "yolox"), plain_ms)
        row = {"batch": batch, "assignment": assignment, "tap": tap, "plain_ms": plain_ms, "fgd_ms": fgd_ms,
               "time_ratio": fgd_ms / plain_ms, "vs_official": fgd_ms / official,
               "plain_mb": plain_mem, "fgd_mb": fgd_mem,
               "mem_ratio": None if plain_mem is None or fgd_mem is None else fgd_mem / plain_mem}
        rows.append(row)
        print(f"| {batch} | {assignment} | {tap} | {plain_ms:.1f} | {fgd_ms:.1f} | {fgd_ms / plain_ms:.2f}x | "
              f"{fgd_ms / official:.2f}x | {cell(plain_mem, '.0f')} | {cell(fgd_mem, '.0f')} | "
              f"{cell(row['mem_ratio'], '.2f', 'x')} |")
        del student, teacher, distiller
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


if __name__ == "__main__":
    main()

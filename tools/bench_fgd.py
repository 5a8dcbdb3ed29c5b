#!/usr/bin/env python3
"""Benchmark the three-level FGD loss (forward + backward) against a per-image, per-box loop.

The loop reference below computes the same math the way the official FGD code does (a Python
loop over images and a nested loop over boxes painting the masks, several host syncs per box);
it lives here, not in the package. The table gives the time per step of each, their ratio and
their agreement (relative error of the loss and of the student-map gradients).

    python tools/bench_fgd.py                      # CPU defaults: YOLOX-s student / -m teacher sizes
    python tools/bench_fgd.py --device cuda --batch 32 --size 640 \
        --student-channels 192 384 768 --teacher-channels 256 512 1024 --fp16
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yolox_fgd.losses import FGDLoss  # noqa: E402
from yolox_fgd.utils.benchmark import time_step  # noqa: E402
from yolox_fgd.utils.machine import describe_device  # noqa: E402

STRIDES = (8, 16, 32)


def reference_fgd_loss(mod, preds_S, preds_T, targets, input_size):
    """FGD of one level with the official code's loops (yzd-v/FGD ``FeatureLoss.forward``)."""
    preds_S, preds_T = preds_S.float(), preds_T.float()
    if mod.align is not None:
        preds_S = mod.align(preds_S)
    N, C, H, W = preds_S.shape
    in_h, in_w = input_size

    def attention(x):
        value = x.abs()
        s = (H * W * F.softmax((value.mean(1, keepdim=True) / mod.temp).view(N, -1), dim=1)).view(N, H, W)
        c = C * F.softmax(value.mean(2).mean(2) / mod.temp, dim=1)
        return s, c

    S_t, C_t = attention(preds_T)
    S_s, C_s = attention(preds_S)
    mask_fg = torch.zeros_like(S_t)
    mask_bg = torch.ones_like(S_t)
    for i in range(N):
        rows = targets[i][targets[i].abs().sum(1) > 0]
        cx, cy, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
        wmin = torch.floor((cx - w / 2) / in_w * W).int()
        wmax = torch.ceil((cx + w / 2) / in_w * W).int()
        hmin = torch.floor((cy - h / 2) / in_h * H).int()
        hmax = torch.ceil((cy + h / 2) / in_h * H).int()
        area = 1.0 / (hmax.view(1, -1) + 1 - hmin.view(1, -1)) / (wmax.view(1, -1) + 1 - wmin.view(1, -1))
        for j in range(len(rows)):
            h0, w0 = max(int(hmin[j]), 0), max(int(wmin[j]), 0)
            region = mask_fg[i][h0:hmax[j] + 1, w0:wmax[j] + 1]
            mask_fg[i][h0:hmax[j] + 1, w0:wmax[j] + 1] = torch.maximum(region, area[0][j])
        mask_bg[i] = torch.where(mask_fg[i] > 0, 0.0, 1.0)
        if torch.sum(mask_bg[i]):
            mask_bg[i] /= torch.sum(mask_bg[i])

    fea_w = torch.sqrt(S_t.unsqueeze(1)) * torch.sqrt(C_t[..., None, None])
    fg_w, bg_w = torch.sqrt(mask_fg.unsqueeze(1)), torch.sqrt(mask_bg.unsqueeze(1))
    fg = F.mse_loss(preds_S * fea_w * fg_w, preds_T * fea_w * fg_w, reduction="sum") / N
    bg = F.mse_loss(preds_S * fea_w * bg_w, preds_T * fea_w * bg_w, reduction="sum") / N
    mask = torch.sum(torch.abs(C_s - C_t)) / N + torch.sum(torch.abs(S_s - S_t)) / N

    def gc(x, conv_mask, add):
        ctx_w = F.softmax(conv_mask(x).view(N, 1, H * W), dim=2).unsqueeze(-1)
        ctx = torch.matmul(x.view(N, C, H * W).unsqueeze(1), ctx_w).view(N, C, 1, 1)
        return x + add(ctx)

    rela = F.mse_loss(gc(preds_S, mod.conv_mask_s, mod.channel_add_conv_s),
                      gc(preds_T, mod.conv_mask_t, mod.channel_add_conv_t), reduction="sum") / N
    loss = mod.alpha * fg + mod.beta * bg + mod.gamma * mask + mod.lambda_ * rela
    if mod.ref_size is not None:
        loss = loss / ((in_w / mod.ref_size) * (in_h / mod.ref_size))
    return loss


def make_inputs(args, device, dtype):
    g = torch.Generator().manual_seed(0)
    feats_s, feats_t = [], []
    for cs, ct, stride in zip(args.student_channels, args.teacher_channels, STRIDES):
        hw = args.size // stride
        feats_s.append((torch.randn(args.batch, cs, hw, hw, generator=g) * 2).to(device, dtype))
        feats_t.append((torch.randn(args.batch, ct, hw, hw, generator=g) * 2).to(device, dtype))
    targets = torch.zeros(args.batch, 120, 5)
    wh = torch.rand(args.batch, args.boxes, 2, generator=g) * args.size * 0.4 + 4
    c = torch.rand(args.batch, args.boxes, 2, generator=g) * (args.size - wh) + wh / 2
    targets[:, : args.boxes, 0] = 1
    targets[:, : args.boxes, 1:3] = c
    targets[:, : args.boxes, 3:5] = wh
    return feats_s, feats_t, targets.to(device)


def run(losses, impl, feats_s, feats_t, targets, size, amp, device):
    grads = [f.detach().clone().requires_grad_(True) for f in feats_s]
    with torch.autocast(device.type, enabled=amp):
        if impl == "vectorised":
            total = sum(m(s, t, targets, (size, size))["loss"] for m, s, t in zip(losses, grads, feats_t))
        else:
            total = sum(reference_fgd_loss(m, s, t, targets, (size, size)) for m, s, t in zip(losses, grads, feats_t))
    total.backward()
    return total.detach(), [g.grad for g in grads]


def run_align_only(losses, feats_s, amp, device):
    """The dense work any implementation of the same math must do: the 1x1 align convs, forward
    and backward (input and weight gradients). It bounds the speed-up: loop / this."""
    grads = [f.detach().clone().requires_grad_(True) for f in feats_s]
    with torch.autocast(device.type, enabled=amp):
        outs = [m.align(s.float()) for m, s in zip(losses, grads) if m.align is not None]
    if outs:
        torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--batch", type=int, nargs="+", default=[4])
    p.add_argument("--size", type=int, default=320, help="input size in pixels (maps are size/8, /16, /32)")
    p.add_argument("--boxes", type=int, default=30, help="boxes per image")
    p.add_argument("--student-channels", type=int, nargs=3, default=[128, 256, 512])
    p.add_argument("--teacher-channels", type=int, nargs=3, default=[192, 384, 768])
    p.add_argument("--fp16", action="store_true", help="fp16 maps and autocast (CUDA)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.float16 if args.fp16 else torch.float32
    losses = [FGDLoss(cs, ct).to(device) for cs, ct in zip(args.student_channels, args.teacher_channels)]
    name = describe_device(device, torch.get_num_threads() if device.type == "cpu" else None)
    print(f"# FGD loss, 3 levels, forward+backward on {name}, input {args.size}, {args.boxes} boxes/image, "
          f"student {args.student_channels}, teacher {args.teacher_channels}, {'fp16' if args.fp16 else 'fp32'}")
    print("| batch | loop reference (ms) | vectorised (ms) | speed-up | align convs alone (ms) "
          "| bound: loop / align | loss rel. diff | grad rel. diff |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for batch in args.batch:
        args.batch = batch
        fs, ft, tg = make_inputs(args, device, dtype)
        ref_loss, ref_grads = run(losses, "loop", fs, ft, tg, args.size, args.fp16, device)
        vec_loss, vec_grads = run(losses, "vectorised", fs, ft, tg, args.size, args.fp16, device)
        loss_diff = ((vec_loss - ref_loss).abs() / ref_loss.abs()).item()
        grad_diff = max(((a - b).norm() / b.norm()).item() for a, b in zip(vec_grads, ref_grads))
        t_ref = time_step(lambda: run(losses, "loop", fs, ft, tg, args.size, args.fp16, device), device, args.reps)[0]
        t_vec = time_step(lambda: run(losses, "vectorised", fs, ft, tg, args.size, args.fp16, device), device, args.reps)[0]
        t_align = time_step(lambda: run_align_only(losses, fs, args.fp16, device), device, args.reps)[0]
        bound = f"{t_ref / t_align:.1f}x" if any(m.align is not None for m in losses) else "-"
        rows.append({"batch": batch, "loop_ms": t_ref, "vec_ms": t_vec, "speedup": t_ref / t_vec,
                     "align_ms": t_align, "loss_diff": loss_diff, "grad_diff": grad_diff})
        print(f"| {batch} | {t_ref:.1f} | {t_vec:.1f} | {t_ref / t_vec:.1f}x | {t_align:.1f} | {bound} "
              f"| {loss_diff:.1e} | {grad_diff:.1e} |")
    return rows


if __name__ == "__main__":
    main()

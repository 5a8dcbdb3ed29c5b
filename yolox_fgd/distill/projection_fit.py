"""How well an FGD run's student-side projection reproduces the teacher's maps.

FGD compares ``f(F_S)`` with ``F_T`` (Eq. 7 and 10; ``f`` is the projection ``align``). When
``f`` does not fit, the student is pulled towards maps that do not resemble the teacher's,
however far its own features move: on the benchmark, with the paper's weights x0.01 and the
FGD modules at the student's learning rate, the trained ``align`` of the last checkpoint
correlates 0.11 / 0.21 / 0.25 (p3 / p4 / p5, mean over channels) with the teacher
(docs/fgd_on_yolox.md, section 8).

The measure: per level and teacher channel ``k``, Pearson's correlation over ``(N, H, W)``
between ``f(F_S)_k`` and ``F_T,k`` on the given images. It does not depend on either map's
per-channel scale or offset (so it reads the same with and without ``feature_norm``); the mean
squared difference of the two per-channel standardised maps is ``2 (1 - corr_k)``.
"""
import torch

from .features import distilled_maps

__all__ = ["channel_correlation", "projection_fit"]


def channel_correlation(a, b, rel_eps=1e-6):
    """Pearson correlation of ``a`` and ``b`` ``(N, C, H, W)`` per channel over ``(N, H, W)``.

    A channel of ``b`` (the teacher) whose spread is below ``rel_eps`` times the largest
    channel's is constant: nothing to fit, its correlation is NaN. A constant channel of ``a``
    against a varying one of ``b`` correlates 0.

    Returns:
        ``(C,)`` float64 tensor in ``[-1, 1]`` or NaN.
    """
    a = a.double().transpose(0, 1).reshape(a.shape[1], -1)
    b = b.double().transpose(0, 1).reshape(b.shape[1], -1)
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    a_norm, b_norm = a.norm(dim=1), b.norm(dim=1)
    corr = (a * b).sum(dim=1) / (a_norm.clamp_min(torch.finfo(a.dtype).tiny) * b_norm.clamp_min(torch.finfo(b.dtype).tiny))
    return torch.where(b_norm > rel_eps * b_norm.max(), corr, torch.full_like(corr, float("nan")))


@torch.no_grad()
def projection_fit(student, teacher, fgd_losses, batches, tap):
    """Fit of each level's projection to the teacher on ``batches``.

    Args:
        student, teacher: YOLOX models (put in eval mode here).
        fgd_losses: ``{level: FGDLoss}`` holding the trained projections (eval mode is set).
        batches: iterable of ``(N, 3, H, W)`` image tensors (YOLOX's preprocessing).
        tap: one of ``features.TAPS`` (the run's ``fgd_tap``).

    Returns:
        ``{level: {"corr_mean": float, "corr_min": float, "corr_above_half": float (share of
        channels with correlation above 0.5), "channels": int (the teacher channels that vary),
        "constant": int (the ones that do not: left out)}}``.
    """
    student.eval()
    teacher.eval()
    levels = list(fgd_losses)
    proj, targ = {lvl: [] for lvl in levels}, {lvl: [] for lvl in levels}
    for images in batches:
        images = images.float()
        s_maps = distilled_maps(student, images, tap, levels)
        t_maps = distilled_maps(teacher, images, tap, levels)
        for lvl in levels:
            loss = fgd_losses[lvl].eval()
            s = s_maps[lvl].float()
            proj[lvl].append(loss.align(s) if loss.align is not None else s)
            targ[lvl].append(t_maps[lvl].float())
    out = {}
    for lvl in levels:
        corr = channel_correlation(torch.cat(proj[lvl]), torch.cat(targ[lvl]))
        valid = corr[~corr.isnan()]
        out[lvl] = {"corr_mean": valid.mean().item(), "corr_min": valid.min().item(),
                    "corr_above_half": (valid > 0.5).double().mean().item(), "channels": valid.numel(),
                    "constant": corr.numel() - valid.numel()}
    return out

"""What FGD sees on a dataset: the foreground share of each level and the statistics of the maps
it compares (docs/coco_shaped.md; issue 26).

Per level (p3/p4/p5) over validation images at the test size:

* ``fg_fraction``: the mean share of the map's cells inside FGD's foreground mask
  (:func:`~yolox_fgd.losses.build_masks`: ``M_fg > 0``); FGD's focal half separates these cells
  from the rest, its background term is normalised by the rest's count;
* per model (teacher, student) and tap: the per-channel RMS and max ``|x|`` over images and
  positions, summarised as the median and the largest over channels, and for the channel with
  the largest RMS: the share of its energy (sum of squares) on foreground cells, and, at the
  ``stems`` tap, the BatchNorm of the layer that writes it (``head.stems[i]``: a channel after BN
  and SiLU is about ``gain * (x - mean) + beta`` with ``gain = gamma / sqrt(var)``) and the RMS of
  its normalised input ``z = (x - mean) / sqrt(var)``, which is about 1 on the data the running
  statistics were gathered on: a channel is large because its gain or beta is, or because its
  input is far from those statistics (``z`` well above 1);
* the same maps in train mode (BatchNorm on the batch's own statistics, on a copy of the model):
  ``rms_max_train_mode``. A channel large in eval mode and not in train mode is large because the
  running statistics do not describe the batches (a train/eval BatchNorm discrepancy), not because
  the network learnt large values.
"""
import copy

import torch

from ..losses import build_masks
from .features import PAFPN_LEVELS, distilled_maps

__all__ = ["map_statistics"]


def _channels(maps):
    """``(C, everything)`` of a list of ``(N, C, H, W)`` batches."""
    return torch.cat([m.float().transpose(0, 1).reshape(m.shape[1], -1) for m in maps], dim=1)


def _summary(maps, fg_cells):
    """Per-channel RMS and max |x| of a list of ``(N, C, H, W)`` batches, and the foreground share
    of the energy of the channel with the largest RMS (``fg_cells``: the batches' ``(N, H, W)``
    foreground masks)."""
    x = _channels(maps)
    rms, peak = x.pow(2).mean(dim=1).sqrt(), x.abs().amax(dim=1)
    top = int(rms.argmax())
    fg = torch.cat([m.reshape(-1) for m in fg_cells])
    energy = x[top].pow(2)
    return {"rms_median": float(rms.median()), "rms_max": float(rms.max()), "max_median": float(peak.median()),
            "max_max": float(peak.max()), "top_channel": top, "channels": int(x.shape[0]),
            "top_energy_on_fg": float(energy[fg].sum() / energy.sum().clamp_min(1e-12))}, top


def _norm_of(model, idx, channel, conv_out):
    """The BatchNorm of ``channel`` of ``head.stems[idx]`` and the RMS of its normalised input."""
    bn = model.head.stems[idx].bn
    gamma, beta = bn.weight.detach(), bn.bias.detach()
    std = (bn.running_var + bn.eps).sqrt()
    gain = (gamma / std).abs()
    z = (_channels(conv_out) - bn.running_mean[:, None]) / std[:, None]
    z_rms = z.pow(2).mean(dim=1).sqrt()
    return {"gain": float(gain[channel]), "gain_median": float(gain.median()), "beta": float(beta[channel]),
            "beta_median": float(beta.median()), "z_rms": float(z_rms[channel]), "z_rms_median": float(z_rms.median())}


@torch.no_grad()
def map_statistics(models, batches, tap, levels=tuple(PAFPN_LEVELS)):
    """Statistics of the maps of several models on the same batches.

    Args:
        models: ``{name: YOLOX model}`` (eval mode is set).
        batches: iterable of ``(images (N, 3, H, W), targets (N, M, 5))`` at one input size, targets
            in YOLOX's format in input pixels.
        tap: the FGD tap (:data:`~yolox_fgd.distill.features.TAPS`).

    Returns:
        ``{"fg_fraction": {level: share}, name: {level: {rms_median, rms_max, max_median, max_max,
        top_channel, channels, norm}}}``.
    """
    maps = {name: {lvl: [] for lvl in levels} for name in models}
    train_rms = {name: {lvl: [] for lvl in levels} for name in models}
    train_copies = {name: copy.deepcopy(model).train() for name, model in models.items()}
    conv_out = {name: {lvl: [] for lvl in levels} for name in models}
    fg = {lvl: [] for lvl in levels}
    handles = []
    for name, model in models.items():
        model.eval()
        if tap == "stems":
            for lvl in levels:
                conv = model.head.stems[PAFPN_LEVELS[lvl][0]].conv
                handles.append(conv.register_forward_hook(
                    lambda m, i, o, store=conv_out[name][lvl]: store.append(o.detach())))
    try:
        for images, targets in batches:
            size = tuple(images.shape[-2:])
            for name, model in models.items():
                for lvl, m in distilled_maps(train_copies[name], images, tap, levels).items():
                    train_rms[name][lvl].append(m.float().pow(2).mean(dim=(0, 2, 3)))
                for lvl, m in distilled_maps(model, images, tap, levels).items():
                    maps[name][lvl].append(m)
                    if name == next(iter(models)):
                        mask, _ = build_masks(targets, m.shape[-2:], size)
                        fg[lvl].append(mask > 0)
    finally:
        for handle in handles:
            handle.remove()
    out = {"fg_fraction": {lvl: float(torch.cat(v).float().mean()) for lvl, v in fg.items()}}
    for name, model in models.items():
        out[name] = {}
        for lvl in levels:
            stats, top = _summary(maps[name][lvl], fg[lvl])
            stats["norm"] = _norm_of(model, PAFPN_LEVELS[lvl][0], top, conv_out[name][lvl]) if tap == "stems" else None
            stats["rms_max_train_mode"] = float(torch.stack(train_rms[name][lvl]).mean(dim=0).sqrt().max())
            out[name][lvl] = stats
    return out

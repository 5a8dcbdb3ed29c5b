"""Per-channel batch statistics over one process's batch or over every process's (global).

FGD's feature normalisation (PKD's standardisation, :func:`~yolox_fgd.losses.fgd.standardize_channels`),
the head output distillation's normaliser (the teacher's expected object count) and the
cross-head alignment (CrossKD's ``align_scale``) take statistics of the batch. Under
torch.distributed each process sees ``batch / processes`` images: ``"process"`` statistics are
those of the local batch (what mmrazor's ``PKDLoss`` computes: the per-GPU batch), ``"global"``
ones are all-reduced over the processes, as SyncBatchNorm does, with the gradient flowing back
through the reduction (``torch.distributed.nn.functional.all_reduce``), so that N processes with
batch b compute what one process with batch N*b computes.
"""
import torch
import torch.distributed as dist

__all__ = ["BATCH_STATS", "channel_moments", "global_sum", "is_global", "standardize_channels"]

BATCH_STATS = ("process", "global")


def is_global(batch_stats):
    """Whether ``batch_stats`` asks for statistics over every process (and more than one runs)."""
    if batch_stats not in BATCH_STATS:
        raise ValueError(f"batch statistics must be one of {BATCH_STATS}, got {batch_stats!r}")
    return batch_stats == "global" and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def global_sum(x):
    """``x`` summed over every process, differentiable (the backward sums the gradients back)."""
    if x.requires_grad:
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(x)
    x = x.clone()
    dist.all_reduce(x)
    return x


def channel_moments(x, batch_stats="process"):
    """Per-channel mean and (biased) variance of ``x`` ``(N, C, H, W)`` over ``(N, H, W)``, of
    this process's batch or of every process's (``"global"``; the variance about the global mean).

    Returns:
        ``(mean, var)``, each ``(1, C, 1, 1)``.
    """
    if not is_global(batch_stats):
        return x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    count = global_sum(torch.tensor(float(x.numel() // x.shape[1]), device=x.device))
    mean = global_sum(x.sum(dim=(0, 2, 3), keepdim=True)) / count
    var = global_sum((x - mean).pow(2).sum(dim=(0, 2, 3), keepdim=True)) / count
    return mean, var


def standardize_channels(x, eps=1e-6, batch_stats="process"):
    """Each channel of ``x`` ``(N, C, H, W)`` to zero mean and unit variance over ``(N, H, W)``
    (PKD, Cao et al., NeurIPS 2022; mmrazor ``PKDLoss.norm``), with :func:`channel_moments`."""
    mean, var = channel_moments(x, batch_stats)
    return (x - mean) / (var + eps).sqrt()

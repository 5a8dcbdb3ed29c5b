"""Fault injection for the kill-and-resume tests: inert unless ``YOLOX_FGD_KILL_AT`` is set.

``YOLOX_FGD_KILL_AT=iter:K`` sends SIGKILL to the process after its K-th training iteration;
``save:K`` during its K-th checkpoint write, after the temporary file is written and before it
replaces the target (the worst moment for a non-atomic writer). ``iter:K@R`` kills only the
process of global rank ``R`` of a distributed run (a lost rank, for the launch tests).

``YOLOX_FGD_NAN_AT=K1,K2,...[@R]`` makes the training loss NaN at the listed 1-based training
iterations of the process (of rank ``R`` only, when given): the non-finite-step tests of a
distributed run (:func:`poisoned_loss`).
"""
import os
import signal

__all__ = ["fault_point", "poisoned_loss"]


def _rank():
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

_counts = {}


def fault_point(kind):
    spec = os.environ.get("YOLOX_FGD_KILL_AT")
    if not spec:
        return
    want_kind, _, count = spec.partition(":")
    if want_kind != kind:
        return
    count, _, rank = count.partition("@")
    if rank and int(rank) != _rank():
        return
    _counts[kind] = _counts.get(kind, 0) + 1
    if _counts[kind] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)


def poisoned_loss(loss, iteration):
    """``loss`` times NaN at the iterations ``YOLOX_FGD_NAN_AT`` lists (1-based ``iteration``),
    else ``loss`` itself."""
    spec = os.environ.get("YOLOX_FGD_NAN_AT")
    if not spec:
        return loss
    iters, _, rank = spec.partition("@")
    if (rank and int(rank) != _rank()) or iteration not in {int(k) for k in iters.split(",")}:
        return loss
    return loss * float("nan")

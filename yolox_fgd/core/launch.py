"""Process launch for single- and multi-process training, CPU (gloo) or CUDA (nccl).

Same contract as ``yolox.core.launch`` (0.3.0), whose worker asserts CUDA: ``launch(main_func,
num_procs, num_machines, machine_rank, backend, dist_url, args)`` spawns ``num_procs`` processes
per machine, initialises ``torch.distributed`` and YOLOX's local process group, then calls
``main_func(*args)`` in each.
"""
import gc
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yolox.utils.dist as comm
from loguru import logger

__all__ = ["launch", "find_free_port"]

DEFAULT_TIMEOUT = timedelta(minutes=30)


def find_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(main_func, num_procs_per_machine, num_machines=1, machine_rank=0, backend="gloo",
           dist_url=None, args=(), timeout=DEFAULT_TIMEOUT):
    """Run ``main_func(*args)`` in one process, or in ``num_machines * num_procs_per_machine``.

    Args:
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (CUDA).
        dist_url: ``tcp://host:port``, or ``"auto"``/None for a free local port (one machine only).
    """
    world_size = num_machines * num_procs_per_machine
    if world_size <= 1:
        main_func(*args)
        return
    if backend == "nccl" and num_procs_per_machine > torch.cuda.device_count():
        raise RuntimeError(
            f"{num_procs_per_machine} processes with nccl need as many GPUs, found "
            f"{torch.cuda.device_count()}; use --device cpu --dist-backend gloo for CPU training"
        )
    if dist_url in (None, "auto"):
        if num_machines != 1:
            raise ValueError("--dist-url auto only works on one machine; give tcp://HOST:PORT")
        dist_url = f"tcp://127.0.0.1:{find_free_port()}"
    cache = bool(getattr(args[1], "cache", False)) if len(args) > 1 else False
    mp.start_processes(
        _distributed_worker,
        nprocs=num_procs_per_machine,
        args=(main_func, world_size, num_procs_per_machine, machine_rank, backend, dist_url, args, timeout),
        daemon=False,
        start_method="fork" if cache else "spawn",
    )


def _distributed_worker(local_rank, main_func, world_size, num_procs_per_machine, machine_rank,
                        backend, dist_url, args, timeout):
    global_rank = machine_rank * num_procs_per_machine + local_rank
    try:
        dist.init_process_group(backend=backend, init_method=dist_url, world_size=world_size,
                                rank=global_rank, timeout=timeout)
    except Exception as e:
        raise RuntimeError(f"cannot join the process group at {dist_url} as rank {global_rank}: {e}") from e
    logger.info(f"Rank {global_rank} initialization finished.")
    num_machines = world_size // num_procs_per_machine
    for i in range(num_machines):
        ranks = list(range(i * num_procs_per_machine, (i + 1) * num_procs_per_machine))
        group = dist.new_group(ranks)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    comm.synchronize()
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    try:
        main_func(*args)
        # Tear down together: every rank reaches this point before any process group is shut
        # down, and the objects that hold process groups (DDP reducers caught in reference
        # cycles, YOLOX's local group) are released while the groups are still alive. A rank
        # that shut down its gloo group while a peer was still using it (or that freed a reducer
        # after the shutdown) aborted at exit now and then ("terminate called without an active
        # exception").
        dist.barrier()
    finally:
        comm._LOCAL_PROCESS_GROUP = None
        gc.collect()
        dist.destroy_process_group()

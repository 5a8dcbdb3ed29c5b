"""Process launch for single- and multi-process training, CPU (gloo) or CUDA (nccl).

Three ways in, one per kind of cluster:

* YOLOX's flags (``launch``): same contract as ``yolox.core.launch`` (0.3.0), whose worker asserts
  CUDA: ``launch(main_func, num_procs, num_machines, machine_rank, backend, dist_url, args)``
  spawns ``num_procs`` processes per machine and joins them at ``dist_url`` (``tcp://HOST:PORT``);
* ``torchrun`` (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``,
  ``MASTER_ADDR``/``MASTER_PORT`` in the environment): the process joins the group it was given
  (``env://``) instead of spawning;
* SLURM's ``srun`` (``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NTASKS``, ``SLURM_NNODES``,
  ``SLURM_STEP_ID``): the same, with ``MASTER_ADDR`` (unless set) the first host of
  ``SLURM_JOB_NODELIST`` and ``MASTER_PORT`` (unless set) derived from the job id.

Every distributed process also initialises YOLOX's local (per machine) process group and runs a
:class:`~yolox_fgd.core.watchdog.PeerWatchdog`: a lost rank stops the others within
``peer_timeout`` seconds with a message naming it.
"""
import gc
import os
import re
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yolox.utils.dist as comm
from loguru import logger

from .watchdog import PeerWatchdog

__all__ = ["launch", "find_free_port", "launcher_environment", "launch_from_environment", "first_slurm_host"]

DEFAULT_TIMEOUT = timedelta(minutes=30)
DEFAULT_PEER_TIMEOUT = 120.0


def find_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_slurm_host(nodelist):
    """The first host of a SLURM host list: ``"node[03-05,9],gpu1"`` -> ``"node03"``."""
    first = re.match(r"[^,\[]+(\[[^\]]*\])?", nodelist.strip())
    if not first or not first.group(0):
        raise ValueError(f"cannot read a host from SLURM_JOB_NODELIST={nodelist!r}; set MASTER_ADDR")
    name = first.group(0)
    if "[" not in name:
        return name
    prefix, ranges = name.split("[", 1)
    return prefix + ranges.rstrip("]").split(",")[0].split("-")[0]


def launcher_environment(environ=None):
    """What a cluster launcher put in the environment, or ``None``.

    Returns:
        ``{"launcher", "rank", "local_rank", "world_size", "local_world_size", "node_rank",
        "num_nodes", "master_addr", "master_port"}`` for ``torchrun`` (``RANK`` set) or SLURM's
        ``srun`` (``SLURM_PROCID`` and ``SLURM_STEP_ID`` set; an ``sbatch`` script outside
        ``srun`` is not a launch).

    Raises:
        ValueError: a variable the launch needs is missing or malformed (named).
    """
    env = os.environ if environ is None else environ

    def need(name):
        if name not in env:
            raise ValueError(f"{name} is not set: the environment looks like a {kind} launch but lacks it")
        try:
            return int(env[name])
        except ValueError as e:
            raise ValueError(f"{name}={env[name]!r} is not an integer") from e

    if "RANK" in env and "WORLD_SIZE" in env:
        kind = "torchrun"
        world, local_world = need("WORLD_SIZE"), need("LOCAL_WORLD_SIZE")
        info = {"rank": need("RANK"), "local_rank": need("LOCAL_RANK"), "world_size": world,
                "local_world_size": local_world, "node_rank": int(env.get("GROUP_RANK", need("RANK") // local_world)),
                "num_nodes": world // local_world}
        if "MASTER_ADDR" not in env or "MASTER_PORT" not in env:
            raise ValueError("MASTER_ADDR/MASTER_PORT are not set: start the training with torchrun")
        info.update(master_addr=env["MASTER_ADDR"], master_port=int(env["MASTER_PORT"]))
    elif "SLURM_PROCID" in env and "SLURM_STEP_ID" in env:
        kind = "srun"
        world, nodes = need("SLURM_NTASKS"), need("SLURM_NNODES")
        if world % nodes:
            raise ValueError(f"SLURM_NTASKS={world} tasks do not split evenly over SLURM_NNODES={nodes} nodes: "
                             "use --ntasks-per-node")
        info = {"rank": need("SLURM_PROCID"), "local_rank": need("SLURM_LOCALID"), "world_size": world,
                "local_world_size": world // nodes, "node_rank": int(env.get("SLURM_NODEID", 0)), "num_nodes": nodes}
        addr = env.get("MASTER_ADDR") or first_slurm_host(env.get("SLURM_JOB_NODELIST", ""))
        port = int(env.get("MASTER_PORT") or 20000 + int(env.get("SLURM_JOB_ID", "0")) % 20000)
        info.update(master_addr=addr, master_port=port)
    else:
        return None
    info["launcher"] = kind
    return info


def _is_communication_error(e):
    text = f"{type(e).__name__}: {e}".lower()
    return isinstance(e, getattr(dist, "DistBackendError", ())) or any(
        k in text for k in ("gloo", "nccl", "connection", "broken pipe", "timed out", "socket"))


def launch_from_environment(main_func, info, backend="gloo", args=(), timeout=DEFAULT_TIMEOUT,
                            peer_timeout=DEFAULT_PEER_TIMEOUT):
    """Join the process group a cluster launcher set up (``info`` from :func:`launcher_environment`)
    and run ``main_func(*args)`` in this process."""
    os.environ.update({"MASTER_ADDR": info["master_addr"], "MASTER_PORT": str(info["master_port"]),
                       "RANK": str(info["rank"]), "WORLD_SIZE": str(info["world_size"]),
                       "LOCAL_RANK": str(info["local_rank"])})
    _run_in_group(main_func, info["rank"], info["local_rank"], info["world_size"], info["local_world_size"],
                  info["node_rank"], backend, "env://", args, timeout, peer_timeout)


def launch(main_func, num_procs_per_machine, num_machines=1, machine_rank=0, backend="gloo",
           dist_url=None, args=(), timeout=DEFAULT_TIMEOUT, peer_timeout=DEFAULT_PEER_TIMEOUT):
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
        args=(main_func, world_size, num_procs_per_machine, machine_rank, backend, dist_url, args, timeout,
              peer_timeout),
        daemon=False,
        start_method="fork" if cache else "spawn",
    )


def _distributed_worker(local_rank, main_func, world_size, num_procs_per_machine, machine_rank,
                        backend, dist_url, args, timeout, peer_timeout):
    global_rank = machine_rank * num_procs_per_machine + local_rank
    _run_in_group(main_func, global_rank, local_rank, world_size, num_procs_per_machine, machine_rank, backend,
                  dist_url, args, timeout, peer_timeout)


def _run_in_group(main_func, global_rank, local_rank, world_size, num_procs_per_machine, machine_rank,
                  backend, dist_url, args, timeout, peer_timeout):
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
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
    watchdog = PeerWatchdog(dist.distributed_c10d._get_default_store(), global_rank, world_size,
                            timeout=peer_timeout).start()
    comm.synchronize()
    try:
        try:
            main_func(*args)
        except Exception as e:
            if _is_communication_error(e):
                logger.error(f"rank {global_rank}: communication with the other ranks failed ({e}); "
                             f"waiting up to {peer_timeout:.0f} s to tell which rank was lost")
                watchdog.wait_for_lost_peer()
            raise
        # The watchdog stops before the last barrier: rank 0's store goes away when it exits,
        # which a peer's watchdog would otherwise report as a lost rank.
        watchdog.stop()
        # Tear down together: every rank reaches this point before any process group is shut
        # down, and the objects that hold process groups (DDP reducers caught in reference
        # cycles, YOLOX's local group) are released while the groups are still alive. A rank
        # that shut down its gloo group while a peer was still using it (or that freed a reducer
        # after the shutdown) aborted at exit now and then ("terminate called without an active
        # exception").
        dist.barrier()
    finally:
        watchdog.stop()
        comm._LOCAL_PROCESS_GROUP = None
        gc.collect()
        dist.destroy_process_group()

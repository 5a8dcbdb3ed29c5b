"""``tools/train.py``: YOLOX's training CLI, on CPU or CUDA, single or multi process.

Same arguments as ``yolox/tools/train.py`` (0.3.0) plus ``--device {auto,cpu,cuda}`` and
``--peer-timeout``. Trailing ``key value`` pairs set experiment attributes with typed parsing
(``ema False``, ``input_size (320,320)``, ``max_epoch 5``).

Several processes: ``-d N`` (and ``--num_machines/--machine_rank/--dist-url`` across machines)
spawns them as YOLOX does; under ``torchrun`` or SLURM's ``srun`` each process joins the group
its launcher set up instead (``-d`` and the machine flags then must agree with it or be left out).
"""
import argparse
import os
import random
import warnings

import numpy as np
import torch
import torch.backends.cudnn as cudnn
from loguru import logger

from ..core.launch import DEFAULT_PEER_TIMEOUT, launch, launch_from_environment, launcher_environment
from ..core.metric_loggers import check_logger, split_wandb_options
from ..exp.build import load_exp
from ..utils.device import resolve_device
from .common import check_checkpoint_path, check_dataset, run_cli

__all__ = ["make_parser", "main", "train_worker"]


class PrintOptionsReference(argparse.Action):
    """``--help-options``: print the experiment options reference (docs/options.md) and exit."""

    def __call__(self, parser, namespace, values, option_string=None):
        from ..exp.options_reference import render_markdown

        print(render_markdown(), end="")
        parser.exit()


def make_parser():
    parser = argparse.ArgumentParser("yolox-fgd train")
    parser.add_argument("--help-options", nargs=0, action=PrintOptionsReference,
                        help="print the experiment options yolox-fgd adds (docs/options.md) and exit")
    parser.add_argument("-expn", "--experiment-name", type=str, default=None)
    parser.add_argument("-n", "--name", type=str, default=None, help="YOLOX model name, e.g. yolox-s")
    parser.add_argument("--dist-backend", default=None, type=str, help="nccl (CUDA) or gloo (CPU); default by device")
    parser.add_argument("--dist-url", default=None, type=str, help="url for distributed training, default auto")
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="total batch size over all processes")
    parser.add_argument("-d", "--devices", default=None, type=int, help="processes (GPUs, or CPU processes)")
    parser.add_argument("-f", "--exp_file", default=None, type=str, help="experiment file")
    parser.add_argument("--resume", default=False, action="store_true", help="resume training")
    parser.add_argument("-c", "--ckpt", default=None, type=str, help="checkpoint file")
    parser.add_argument("-e", "--start_epoch", default=None, type=int, help="resume training start epoch")
    parser.add_argument("--num_machines", default=1, type=int, help="number of nodes")
    parser.add_argument("--machine_rank", default=0, type=int, help="node rank")
    parser.add_argument("--fp16", dest="fp16", default=False, action="store_true",
                        help="mixed precision: float16 autocast and loss scaling (on a CPU too, for testing)")
    parser.add_argument("--cache", dest="cache", default=False, action="store_true", help="cache images in RAM")
    parser.add_argument("-o", "--occupy", dest="occupy", default=False, action="store_true",
                        help="accepted for YOLOX compatibility; ignored (GPU memory is not pre-allocated)")
    parser.add_argument("-l", "--logger", type=str, default="tensorboard",
                        help="tensorboard (default) or wandb (YOLOX's; wandb-<key> value options go to wandb)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto: CUDA when available, else CPU")
    parser.add_argument("--peer-timeout", type=float, default=DEFAULT_PEER_TIMEOUT,
                        help="seconds without a heartbeat from a rank before the others stop, naming it")
    parser.add_argument("opts", help="experiment attributes: key value ...", default=None,
                        nargs=argparse.REMAINDER)
    return parser


def train_worker(exp, args):
    """What each process runs: seed, then ``exp.get_trainer(args).train()``."""
    if exp.seed is not None:
        random.seed(exp.seed)
        np.random.seed(exp.seed)
        torch.manual_seed(exp.seed)
        cudnn.deterministic = True
        warnings.warn("You have chosen to seed training. This turns on CUDNN deterministic setting.")
    else:
        cudnn.benchmark = True
    trainer = exp.get_trainer(args)
    trainer.train()
    return trainer


def apply_launcher(args, env):
    """Take the process layout from torchrun / srun; options that disagree with it are refused."""
    given = {"-d/--devices": (args.devices, env["local_world_size"]),
             "--num_machines": (args.num_machines, env["num_nodes"]),
             "--machine_rank": (args.machine_rank, env["node_rank"])}
    for option, (value, theirs) in given.items():
        default = 1 if option == "--num_machines" else (0 if option == "--machine_rank" else None)
        if value not in (default, theirs):
            raise ValueError(f"{option} {value} disagrees with {env['launcher']}, which started {theirs} "
                             f"(processes per machine / machines / this machine's rank): leave {option} out")
    if args.dist_url is not None:
        raise ValueError(f"--dist-url is for YOLOX's own launch; under {env['launcher']} the rendezvous is "
                         f"{env['master_addr']}:{env['master_port']}: leave --dist-url out")
    args.devices, args.num_machines, args.machine_rank = env["local_world_size"], env["num_nodes"], env["node_rank"]


def check_args(args, device):
    """Refuse at once what cannot work, naming the option (before any data or model is loaded)."""
    if args.batch_size < 1:
        raise ValueError(f"-b/--batch-size must be at least 1, got {args.batch_size}")
    if args.devices is not None and args.devices < 1:
        raise ValueError(f"-d/--devices must be at least 1, got {args.devices}")
    if args.num_machines < 1 or not 0 <= args.machine_rank < args.num_machines:
        raise ValueError(f"--machine_rank must be in 0..{args.num_machines - 1} for --num_machines "
                         f"{args.num_machines}, got {args.machine_rank}")
    check_logger(args.logger)
    if args.dist_backend not in (None, "gloo", "nccl"):
        raise ValueError(f"--dist-backend must be gloo or nccl, got {args.dist_backend!r}")
    if args.dist_backend == "nccl" and device.type != "cuda":
        raise ValueError("--dist-backend nccl needs CUDA; use gloo on CPU (the default there)")
    if args.start_epoch is not None and (not args.resume or args.start_epoch < 1):
        raise ValueError(f"-e/--start_epoch {args.start_epoch}: the 1-based epoch to resume from, only with "
                         "--resume (without it training starts at epoch 1)")
    if args.peer_timeout <= 2:
        raise ValueError(f"--peer-timeout must be more than 2 seconds, got {args.peer_timeout}")
    if args.occupy:
        logger.warning("-o/--occupy is accepted for YOLOX compatibility and ignored")
    if args.devices is None:
        args.devices = torch.cuda.device_count() if device.type == "cuda" else 1
    if device.type == "cuda" and args.devices > torch.cuda.device_count():
        raise ValueError(f"-d {args.devices} asks for more GPUs than the {torch.cuda.device_count()} present")
    check_batch_split(args)


def check_batch_split(args):
    """The total batch splits evenly over the processes."""
    procs = args.devices * args.num_machines
    if args.batch_size % procs:
        raise ValueError(f"-b/--batch-size {args.batch_size} does not split evenly over {procs} process(es) "
                         f"(-d {args.devices} x --num_machines {args.num_machines}): use a multiple of {procs}")


def main(argv=None):
    args = make_parser().parse_args(argv)
    env = launcher_environment()
    device = resolve_device(args.device, env["local_rank"] if env else 0)
    if env:
        apply_launcher(args, env)
    check_args(args, device)
    exp = load_exp(args.exp_file, args.name)
    args.opts, args.wandb_options = split_wandb_options(args.opts)
    exp.merge(args.opts)
    if not args.experiment_name:
        args.experiment_name = (os.path.splitext(os.path.basename(args.exp_file))[0]
                                if args.exp_file else exp.exp_name)
    if hasattr(exp, "check_config"):
        exp.check_config()
    check_checkpoint_path(args.ckpt)
    if not args.resume and args.ckpt is None:
        check_checkpoint_path(getattr(exp, "init_ckpt", None), "the student's initial weights (init_ckpt)",
                              "fix init_ckpt in the experiment, or pass `init_ckpt None` for random weights")
    if args.resume and args.ckpt is None:
        latest = os.path.join(exp.output_dir, args.experiment_name, "latest_ckpt.pth")
        check_checkpoint_path(latest, "checkpoint to resume",
                              "--resume without -c continues OUTPUT_DIR/EXPERIMENT_NAME/latest_ckpt.pth: give the "
                              "run's -expn and output_dir, or -c PATH")
    check_dataset(exp)
    if hasattr(exp, "check_before_launch"):
        exp.check_before_launch(args)

    if args.dist_backend is None:
        args.dist_backend = "nccl" if device.type == "cuda" else "gloo"
    args.device = device.type
    world = args.devices * args.num_machines
    how = f"started by {env['launcher']}, rank {env['rank']}" if env else "spawned here" if world > 1 else "this one"
    logger.info(f"training on {device.type} with {world} process(es) ({how})")
    if env and env["world_size"] > 1:
        launch_from_environment(train_worker, env, backend=args.dist_backend, args=(exp, args),
                                peer_timeout=args.peer_timeout)
    else:
        launch(train_worker, args.devices, args.num_machines, args.machine_rank, backend=args.dist_backend,
               dist_url=args.dist_url, args=(exp, args), peer_timeout=args.peer_timeout)


def cli():
    run_cli(main)

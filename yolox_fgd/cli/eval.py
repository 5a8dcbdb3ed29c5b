"""``tools/eval.py``: COCO AP of a YOLOX checkpoint with pycocotools, on CPU or CUDA.

Reads YOLOX checkpoints in both forms: ``{"model": state_dict, ...}`` (official releases and
this project's trainer) and a bare state dict. Prints AP, AP50, AP75, APs, APm, APl. Under
``torchrun`` or ``srun`` the processes split the validation set and rank 0 prints the result.
"""
import argparse

import torch
from loguru import logger

from ..evaluators import format_ap_table
from ..core.launch import launch_from_environment, launcher_environment
from ..exp.build import load_exp
from ..utils.checkpoint import CheckpointError, load_checkpoint, model_state_dict
from ..utils.device import resolve_device
from .common import apply_test_options, check_dataset, run_cli

__all__ = ["make_parser", "main", "evaluate_checkpoint", "load_model_weights"]


def make_parser():
    parser = argparse.ArgumentParser("yolox-fgd eval")
    parser.add_argument("-expn", "--experiment-name", type=str, default=None)
    parser.add_argument("-n", "--name", type=str, default=None, help="YOLOX model name")
    parser.add_argument("-f", "--exp_file", default=None, type=str, help="experiment file")
    parser.add_argument("-c", "--ckpt", default=None, type=str, help="checkpoint to evaluate")
    parser.add_argument("-b", "--batch-size", type=int, default=16)
    parser.add_argument("--conf", default=None, type=float, help="test confidence threshold")
    parser.add_argument("--nms", default=None, type=float, help="test NMS IoU threshold")
    parser.add_argument("--tsize", default=None, type=int, help="test image size")
    parser.add_argument("--model-size", default=None, type=int,
                        help="run the model on every test image resized to this size (boxes scaled back): "
                             "a model's AP on images rendered at --tsize when it runs at another size")
    parser.add_argument("--seed", default=None, type=int)
    parser.add_argument("--fp16", default=False, action="store_true", help="half precision (CUDA)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("opts", default=None, nargs=argparse.REMAINDER, help="experiment attributes")
    return parser


def load_model_weights(model, ckpt_path, device="cpu"):
    """Load a checkpoint's model weights strictly; errors name the first mismatching keys."""
    ckpt = load_checkpoint(ckpt_path, map_location=device)
    state = model_state_dict(ckpt, ckpt_path)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{ckpt_path} does not fit the experiment's model: missing keys "
            f"{result.missing_keys[:5]}, unexpected keys {result.unexpected_keys[:5]} "
            "(is it the checkpoint of another experiment or model size?)"
        )
    return model


def evaluate_checkpoint(exp, ckpt_path, batch_size=16, device="auto", half=False, distributed=False, local_rank=0,
                        model_size=None):
    """COCO statistics (dict of fractions, see ``STAT_NAMES``) and the summary text; with
    ``distributed`` every process of the group evaluates its share (rank 0 gets the result); with
    ``model_size`` the model runs on every image resized to ``(model_size, model_size)``
    (:class:`~yolox_fgd.distill.resample.ResizedInput`)."""
    device = resolve_device(device, local_rank)
    if half and device.type != "cuda":
        raise ValueError("--fp16 evaluation needs CUDA")
    model = exp.get_model()
    load_model_weights(model, ckpt_path, device="cpu")
    model.to(device).eval()
    if model_size is not None:
        from ..distill.resample import ResizedInput

        model = ResizedInput(model, (model_size, model_size))
        logger.info(f"the model runs on every {tuple(exp.test_size)} test image resized to ({model_size}, {model_size})")
    evaluator = exp.get_evaluator(batch_size=batch_size, is_distributed=distributed)
    ap, ap50, summary = evaluator.evaluate(model, distributed=distributed, half=half)
    return evaluator.stats, summary


def _eval_worker(exp, args, env, result):
    import torch.distributed as dist

    stats, summary = evaluate_checkpoint(exp, args.ckpt, args.batch_size, args.device, args.fp16,
                                         distributed=True, local_rank=env["local_rank"], model_size=args.model_size)
    if dist.get_rank() == 0:
        logger.info("\n" + summary)
        print(format_ap_table(stats, title=args.experiment_name or (args.exp_file or args.name)), flush=True)
        result["stats"] = stats


def main(argv=None):
    args = make_parser().parse_args(argv)
    exp = load_exp(args.exp_file, args.name)
    exp.merge(args.opts)
    apply_test_options(exp, args)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    if args.fp16 and resolve_device(args.device).type != "cuda":
        raise ValueError("--fp16 (half-precision evaluation) needs CUDA: run on a GPU or drop --fp16")
    if args.ckpt is None:
        raise CheckpointError("give the checkpoint to evaluate with -c/--ckpt")
    if args.model_size is not None and (args.model_size <= 0 or args.model_size % 32):
        raise ValueError(f"--model-size {args.model_size} must be a positive multiple of 32 (YOLOX's largest stride)")
    load_checkpoint(args.ckpt)  # fail fast on a missing or corrupt file
    check_dataset(exp, splits=("val",))
    if not hasattr(exp, "resolve_data_dir"):
        raise ValueError("tools/eval.py needs a yolox_fgd experiment (-f exps/...)")
    env = launcher_environment()
    if env and env["world_size"] > 1:
        if args.batch_size % env["world_size"]:
            raise ValueError(f"-b/--batch-size {args.batch_size} does not split evenly over the "
                             f"{env['world_size']} processes {env['launcher']} started")
        device = resolve_device(args.device, env["local_rank"])
        result = {}
        launch_from_environment(_eval_worker, env, backend="nccl" if device.type == "cuda" else "gloo",
                                args=(exp, args, env, result))
        return result.get("stats")
    stats, summary = evaluate_checkpoint(exp, args.ckpt, args.batch_size, args.device, args.fp16,
                                         model_size=args.model_size)
    logger.info("\n" + summary)
    print(format_ap_table(stats, title=args.experiment_name or (args.exp_file or args.name)))
    return stats


def cli():
    run_cli(main)

"""``tools/demo.py``: YOLOX's inference demo (images, video, webcam) labelling boxes with the
dataset's own class names. Same CLI as ``yolox/tools/demo.py``; ``--device`` takes ``cpu``,
``gpu`` or ``cuda``.

    python tools/demo.py image -f exps/demo/demo_yolox_nano.py -c CKPT --path IMG --device cpu --save_result
"""
import os
import time

import torch
from loguru import logger
from yolox.tools import demo as yolox_demo
from yolox.utils import fuse_model, get_model_info

from ..exp.build import load_exp
from .common import apply_test_options, run_cli
from .eval import load_model_weights

__all__ = ["main", "class_names_of"]


def class_names_of(exp):
    """Class names of the experiment's dataset (its val annotations), else COCO's."""
    import json

    if hasattr(exp, "resolve_data_dir"):
        path = os.path.join(exp.resolve_data_dir(), "annotations", exp.val_ann)
        if os.path.isfile(path):
            with open(path) as f:
                cats = sorted(json.load(f)["categories"], key=lambda c: c["id"])
            return tuple(c["name"] for c in cats)
    return yolox_demo.COCO_CLASSES


def image_demo(predictor, vis_folder, path, current_time, save_result):
    """YOLOX's ``image_demo`` without its ``cv2.waitKey`` (which blocks, and fails on headless
    OpenCV): runs every image, logs and optionally saves the drawn result. Returns saved paths."""
    import cv2

    files = yolox_demo.get_image_list(path) if os.path.isdir(path) else [path]
    saved = []
    for image_name in sorted(files):
        outputs, img_info = predictor.inference(image_name)
        result_image = predictor.visual(outputs[0], img_info, predictor.confthre)
        if save_result:
            folder = os.path.join(vis_folder, time.strftime("%Y_%m_%d_%H_%M_%S", current_time))
            os.makedirs(folder, exist_ok=True)
            out = os.path.join(folder, os.path.basename(image_name))
            logger.info(f"Saving detection result in {out}")
            cv2.imwrite(out, result_image)
            saved.append(out)
    return saved


def main(argv=None):
    parser = yolox_demo.make_parser()
    args = parser.parse_args(argv)
    if args.demo not in ("image", "video", "webcam"):
        raise ValueError(f"demo type must be image, video or webcam, got {args.demo!r}")
    if args.device == "cuda":
        args.device = "gpu"
    if args.device == "gpu" and not torch.cuda.is_available():
        raise RuntimeError("--device gpu/cuda was asked for but CUDA is not available; use --device cpu")
    if args.trt:
        raise ValueError("TensorRT is not supported by this demo; use YOLOX's own tools/demo.py")
    if args.ckpt is None:
        raise ValueError("give the checkpoint with -c/--ckpt")
    if args.demo == "image" and (args.path is None or not os.path.exists(args.path)):
        raise FileNotFoundError(f"image path not found: {args.path}")
    exp = load_exp(args.exp_file, args.name)
    apply_test_options(exp, args)
    args.experiment_name = args.experiment_name or (
        os.path.splitext(os.path.basename(args.exp_file))[0] if args.exp_file else exp.exp_name)
    out_dir = os.path.join(exp.output_dir, args.experiment_name)
    vis_folder = os.path.join(out_dir, "vis_res") if args.save_result else None
    if vis_folder:
        os.makedirs(vis_folder, exist_ok=True)

    names = class_names_of(exp)
    if len(names) != exp.num_classes:
        raise ValueError(f"the dataset has {len(names)} classes but the experiment num_classes={exp.num_classes}")
    model = exp.get_model()
    logger.info(f"Model Summary: {get_model_info(model, exp.test_size)}")
    load_model_weights(model, args.ckpt)
    if args.device == "gpu":
        model.cuda()
        if args.fp16:
            model.half()
    model.eval()
    if args.fuse:
        model = fuse_model(model)
    predictor = yolox_demo.Predictor(model, exp, names, None, None, args.device, args.fp16, args.legacy)
    current_time = time.localtime()
    if args.demo == "image":
        image_demo(predictor, vis_folder, args.path, current_time, args.save_result)
    else:
        yolox_demo.imageflow_demo(predictor, vis_folder, current_time, args)
    return vis_folder


def cli():
    run_cli(main)

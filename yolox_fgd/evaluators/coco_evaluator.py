"""COCO evaluation with pycocotools on CPU or CUDA.

``yolox.evaluators.COCOEvaluator`` (0.3.0) casts images with ``torch.cuda.FloatTensor``; this
subclass runs on the model's own device and keeps every COCO statistic of the last run in
``self.stats`` (``AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl``, fractions).
``size_thresholds`` moves pycocotools' small / medium / large boundaries (COCO: 32 and 96 px,
sides of the area thresholds) for datasets whose images are not at COCO's scale.
"""
import contextlib
import io
import itertools
import json
import os
import tempfile
import time

import torch
from loguru import logger
from tqdm import tqdm
from yolox.evaluators import COCOEvaluator as YOLOXCOCOEvaluator
from yolox.evaluators.coco_evaluator import per_class_AP_table
from yolox.utils import gather, is_main_process, postprocess, synchronize

__all__ = ["COCOEvaluator", "STAT_NAMES", "format_ap_table"]

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def format_ap_table(stats, title="model"):
    """A one-row markdown table of AP, AP50, AP75, APs, APm, APl in percent."""
    keys = STAT_NAMES[:6]
    return "\n".join([
        "| " + " | ".join(("run",) + keys) + " |",
        "|" + "---|" * (len(keys) + 1),
        f"| {title} | " + " | ".join(f"{100 * stats[k]:.1f}" for k in keys) + " |",
    ])


class COCOEvaluator(YOLOXCOCOEvaluator):
    """Device-agnostic COCO AP evaluation (same arguments as YOLOX's)."""

    stats = None
    # sides (px) of the small / medium and medium / large area thresholds (COCO's 32 and 96)
    size_thresholds = (32, 96)

    def evaluate(self, model, distributed=False, half=False, trt_file=None, decoder=None, test_size=None):
        """Run the model over the loader and score it with pycocotools.

        Returns:
            ``(AP50:95, AP50, summary)`` as YOLOX does; all statistics land in ``self.stats``.
        """
        if trt_file is not None:
            raise ValueError("TensorRT evaluation is not supported here; use YOLOX's tools/eval.py")
        device = next(model.parameters()).device
        if half and device.type != "cuda":
            raise ValueError("half-precision evaluation needs CUDA; drop --fp16 on CPU")
        dtype = torch.float16 if half else torch.float32
        model = model.eval()
        if half:
            model = model.half()
        data_list = []
        progress = tqdm if is_main_process() else iter
        inference_time = nms_time = 0.0
        n_samples = max(len(self.dataloader) - 1, 1)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

        for cur_iter, (imgs, _, info_imgs, ids) in enumerate(progress(self.dataloader)):
            with torch.no_grad():
                imgs = imgs.to(device=device, dtype=dtype)
                timed = cur_iter < len(self.dataloader) - 1
                start = time.time()
                outputs = model(imgs)
                if decoder is not None:
                    outputs = decoder(outputs, dtype=outputs.type())
                sync()
                infer_end = time.time()
                outputs = postprocess(outputs, self.num_classes, self.confthre, self.nmsthre)
                sync()
                if timed:
                    inference_time += infer_end - start
                    nms_time += time.time() - infer_end
            data_list.extend(self.convert_to_coco_format(outputs, info_imgs, ids))

        statistics = torch.tensor([inference_time, nms_time, n_samples], dtype=torch.float64)
        if distributed:
            data_list = list(itertools.chain(*gather(data_list, dst=0)))
            backend_device = device if torch.distributed.get_backend() == "nccl" else torch.device("cpu")
            statistics = statistics.to(backend_device)
            torch.distributed.reduce(statistics, dst=0)
        results = self.evaluate_prediction(data_list, statistics.cpu())
        synchronize()
        return results

    def evaluate_prediction(self, data_dict, statistics):
        """Score ``data_dict`` (COCO json detections) against the loader's ground truth."""
        self.stats = {k: 0.0 for k in STAT_NAMES}
        if not is_main_process():
            return 0, 0, None
        inference_time, nms_time, n_samples = (float(v) for v in statistics)
        per_image = 1000 / (n_samples * self.dataloader.batch_size)
        info = "Average forward time: {:.2f} ms, Average NMS time: {:.2f} ms, Average inference time: {:.2f} ms\n".format(
            inference_time * per_image, nms_time * per_image, (inference_time + nms_time) * per_image
        )
        if not data_dict:
            logger.warning("the model produced no detection above the confidence threshold: AP = 0")
            return 0, 0, info + "no detections\n"

        from pycocotools.cocoeval import COCOeval

        coco_gt = self.dataloader.dataset.coco
        fd, tmp = tempfile.mkstemp(suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data_dict, f)
            with contextlib.redirect_stdout(io.StringIO()):
                coco_dt = coco_gt.loadRes(tmp)
        finally:
            os.remove(tmp)
        coco_eval = COCOeval(coco_gt, coco_dt, "bbox")
        small, medium = (float(t) ** 2 for t in self.size_thresholds)
        coco_eval.params.areaRng = [[0, 1e10], [0, small], [small, medium], [medium, 1e10]]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        info += buf.getvalue()
        names = [c["name"] for c in coco_gt.loadCats(coco_gt.getCatIds())]
        info += "per class AP:\n" + per_class_AP_table(coco_eval, names) + "\n"
        self.stats = {k: float(v) for k, v in zip(STAT_NAMES, coco_eval.stats)}
        return coco_eval.stats[0], coco_eval.stats[1], info

"""What a COCO-format detection split looks like to FGD: object sizes and foreground share.

FGD (Yang et al., CVPR 2022) splits each distilled map into the cells its ground-truth boxes
cover and the rest (Eq. 7); how much of an image is foreground and how its objects fall into
COCO's small / medium / large buckets (areas below 32^2, below 96^2, and above, at COCO's
640-px scale) decide what that split has to work on. These functions measure both from an
annotation file, with COCO's thresholds scaled to another nominal input size.
"""
import json

import numpy as np

__all__ = ["COCO_SIZE_THRESHOLDS", "scaled_thresholds", "split_stats"]

# COCO's object size thresholds (sides of the area thresholds, pixels) at its 640-px scale
COCO_SIZE_THRESHOLDS = (32.0, 96.0)
COCO_REFERENCE_SIDE = 640.0


def scaled_thresholds(nominal_side):
    """COCO's 32 and 96 px scaled from 640 to ``nominal_side`` px (e.g. 9.6 and 28.8 at 192)."""
    return tuple(t * float(nominal_side) / COCO_REFERENCE_SIDE for t in COCO_SIZE_THRESHOLDS)


def split_stats(ann_file, nominal_side=None):
    """Object sizes and foreground share of one annotation file.

    Args:
        ann_file: a COCO-format json.
        nominal_side: the input side (px) the images are meant for, at which an image's longer
            side is resized to it (YOLOX's letterbox); ``None``: the images' own pixels and COCO's
            thresholds unscaled.

    Returns:
        dict: ``images``, ``objects``, ``objects_per_image``; ``size_mix`` (shares of small,
        medium, large boxes by area against the thresholds scaled to ``nominal_side``);
        ``fg_fraction`` (mean over images of the share of the image covered by the union of its
        boxes); ``thresholds`` (the two side thresholds used, px).
    """
    with open(ann_file) as f:
        data = json.load(f)
    images = {im["id"]: im for im in data["images"]}
    boxes = {i: [] for i in images}
    for ann in data["annotations"]:
        boxes[ann["image_id"]].append(ann["bbox"])
    thresholds = COCO_SIZE_THRESHOLDS if nominal_side is None else scaled_thresholds(nominal_side)
    areas, fractions = [], []
    for img_id, im in images.items():
        h, w = int(im["height"]), int(im["width"])
        scale = 1.0 if nominal_side is None else float(nominal_side) / max(h, w)
        cover = np.zeros((h, w), dtype=bool)
        for x, y, bw, bh in boxes[img_id]:
            areas.append(bw * bh * scale * scale)
            cover[int(np.floor(y)):int(np.ceil(y + bh)), int(np.floor(x)):int(np.ceil(x + bw))] = True
        fractions.append(float(cover.mean()))
    areas = np.asarray(areas, dtype=np.float64)
    small, medium = thresholds[0] ** 2, thresholds[1] ** 2
    n = max(len(areas), 1)
    mix = (float((areas < small).sum() / n), float(((areas >= small) & (areas < medium)).sum() / n),
           float((areas >= medium).sum() / n))
    return {
        "images": len(images), "objects": int(len(areas)),
        "objects_per_image": len(areas) / max(len(images), 1),
        "size_mix": [round(v, 4) for v in mix],
        "fg_fraction": round(float(np.mean(fractions)) if fractions else 0.0, 4),
        "thresholds": [round(t, 2) for t in thresholds],
    }

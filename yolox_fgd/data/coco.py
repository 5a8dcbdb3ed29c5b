"""YOLOX's ``COCODataset`` with errors that name the file at fault."""
import json
import os

import cv2
from loguru import logger
from yolox.data import COCODataset

__all__ = ["CheckedCOCODataset", "check_annotations"]


def check_annotations(data_dir, json_file, num_classes=None):
    """Validate an annotation file before YOLOX reads it.

    Raises:
        FileNotFoundError: ``data_dir/annotations/json_file`` is missing.
        ValueError: the file is not valid COCO json, or its category count differs from
            ``num_classes``.
    """
    path = os.path.join(data_dir, "annotations", json_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"annotation file not found: {path}. A dataset folder needs annotations/{json_file} "
            "(COCO layout: DATA_DIR/annotations, DATA_DIR/train2017, DATA_DIR/val2017); "
            "set data_dir in the experiment"
        )
    try:
        with open(path) as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"annotation file {path} is not valid json: {e}") from e
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if not isinstance(data, dict) or missing:
        raise ValueError(f"annotation file {path} is not COCO format: missing keys {missing}")
    if num_classes is not None and len(data["categories"]) != num_classes:
        raise ValueError(
            f"the experiment has num_classes={num_classes} but {path} has "
            f"{len(data['categories'])} categories; set num_classes {len(data['categories'])}"
        )
    return data


class CheckedCOCODataset(COCODataset):
    """``yolox.data.COCODataset`` that checks its files up front.

    A missing image fails at construction with the first missing names (YOLOX would assert deep
    in the augmentation, and not at all under ``python -O``); an unreadable one fails when read,
    naming the file.
    """

    def __init__(self, data_dir=None, json_file="instances_train2017.json", name="train2017",
                 num_classes=None, **kwargs):
        check_annotations(data_dir, json_file, num_classes)
        super().__init__(data_dir=data_dir, json_file=json_file, name=name, **kwargs)
        self.drop_degenerate_boxes(json_file)
        folder = os.path.join(self.data_dir, self.name)
        missing = [a[3] for a in self.annotations if not os.path.isfile(os.path.join(folder, a[3]))]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image(s) listed in {json_file} are missing from {folder}: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )

    def drop_degenerate_boxes(self, json_file):
        """Drop boxes with non-positive width or height (YOLOX keeps x2 == x1), with one warning."""
        dropped = 0
        for i, (res, img_info, resized_info, file_name) in enumerate(self.annotations):
            keep = (res[:, 2] > res[:, 0]) & (res[:, 3] > res[:, 1])
            if not keep.all():
                dropped += int((~keep).sum())
                self.annotations[i] = (res[keep], img_info, resized_info, file_name)
        if dropped:
            logger.warning(f"{json_file}: dropped {dropped} box(es) with non-positive width or height")
        return dropped

    def load_image(self, index):
        file_name = os.path.join(self.data_dir, self.name, self.annotations[index][3])
        img = cv2.imread(file_name)
        if img is None:
            raise OSError(f"cannot read image {file_name}: missing, empty or not an image file")
        return img

"""The embedded dataset: deterministic, valid COCO for pycocotools, a real detection task."""
import json
import os

import numpy as np
from pycocotools.coco import COCO

import pytest

from yolox_fgd.data.synthetic import CLASSES, SyntheticSpec, dataset_fingerprint, ensure_dataset, generate_dataset

SPEC = dict(num_train=12, num_val=6, image_sizes=((96, 96), (96, 128)), max_objects=8, seed=3)


def test_generator_is_deterministic(tmp_path):
    """Two generations with the same spec are byte-identical (equal fingerprints); another seed
    differs; the fingerprint sees a change of one byte in one image, and refuses a folder that
    holds no complete dataset."""
    a = generate_dataset(str(tmp_path / "a"), SyntheticSpec(**SPEC))
    b = generate_dataset(str(tmp_path / "b"), SyntheticSpec(**SPEC))
    c = generate_dataset(str(tmp_path / "c"), SyntheticSpec(**dict(SPEC, seed=4)))
    assert dataset_fingerprint(a) == dataset_fingerprint(b)
    assert dataset_fingerprint(a) != dataset_fingerprint(c)
    image = os.path.join(b, "val2017", sorted(os.listdir(os.path.join(b, "val2017")))[-1])
    with open(image, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    assert dataset_fingerprint(a) != dataset_fingerprint(b)
    os.remove(os.path.join(a, ".complete"))
    with pytest.raises(FileNotFoundError, match="no complete synthetic dataset"):
        dataset_fingerprint(a)


def test_coco_json_loads_and_boxes_lie_inside_images(tmp_path):
    root = generate_dataset(str(tmp_path / "d"), SyntheticSpec(**SPEC))
    for split, count in (("train2017", 12), ("val2017", 6)):
        coco = COCO(os.path.join(root, "annotations", f"instances_{split}.json"))
        assert len(coco.getImgIds()) == count
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann["image_id"])[0]
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0
            assert x >= 0 and y >= 0 and x + w <= img["width"] + 1e-6 and y + h <= img["height"] + 1e-6
            assert os.path.isfile(os.path.join(root, split, img["file_name"]))


def test_default_dataset_spans_coco_sizes_and_classes(tmp_path):
    """The default train split has all classes and small, medium and large objects (COCO areas)."""
    root = generate_dataset(str(tmp_path / "e"), SyntheticSpec(num_train=120, num_val=2))
    with open(os.path.join(root, "annotations", "instances_train2017.json")) as f:
        anns = json.load(f)["annotations"]
    areas = np.array([a["area"] for a in anns])
    assert (areas < 32 ** 2).mean() > 0.2
    assert ((areas >= 32 ** 2) & (areas < 96 ** 2)).mean() > 0.2
    assert (areas >= 96 ** 2).mean() > 0.02
    assert {a["category_id"] for a in anns} == set(range(1, len(CLASSES) + 1))
    per_image = np.bincount([a["image_id"] for a in anns])
    assert per_image.max() >= 5  # clutter of several objects per image


def test_ensure_dataset_reuses_complete_copy(tmp_path):
    """A second call with the same spec does not rewrite; a different spec regenerates."""
    root = str(tmp_path / "f")
    ensure_dataset(root, SyntheticSpec(**SPEC), log=lambda *_: None)
    marker = os.path.join(root, ".complete")
    mtime = os.path.getmtime(marker)
    ensure_dataset(root, SyntheticSpec(**SPEC), log=lambda *_: None)
    assert os.path.getmtime(marker) == mtime
    ensure_dataset(root, SyntheticSpec(**dict(SPEC, num_val=3)), log=lambda *_: None)
    assert len(os.listdir(os.path.join(root, "val2017"))) == 3


def test_default_spec_keeps_its_pixels_across_generator_options(tmp_path):
    """A dataset made with the default spec is byte-identical to the one generator version 3 made
    before the COCO-shaped options (textures, tiles, distractors) existed: options added later do
    not change what the defaults draw, so every cached dataset and every seeded test batch stays."""
    root = generate_dataset(str(tmp_path / "d"), SyntheticSpec(num_train=6, num_val=2, seed=0))
    assert dataset_fingerprint(root) == "227363fb9a274e47cc749b4087bcfb3427afa399fdfeb5f748c41e47c9b207fd"

"""The embedded synthetic detection dataset: deterministic, COCO format, generated on first use.

Six shape classes drawn at COCO's small, medium and large sizes (area < 32^2, < 96^2, >= 96^2
pixels), rotated, partly overlapping and partly cut by the image border, on varied backgrounds
(gradients, noise, stripes, blobs) with clutter that belongs to no class (outlines, lines,
arcs). Some pairs are easy to confuse at low resolution (circle/ring, square/hexagon), so a
bigger YOLOX scores clearly above a smaller one at the same budget: the dataset is a real
detection task, small enough for a laptop CPU.

Layout (YOLOX's COCO layout)::

    ROOT/train2017/000000000001.jpg ...
    ROOT/val2017/...
    ROOT/annotations/instances_train2017.json, instances_val2017.json
    ROOT/.complete     (written last; holds the generator version and parameters)
"""
import json
import math
import os
import shutil
import tempfile

import cv2
import numpy as np

__all__ = ["CLASSES", "SyntheticSpec", "ensure_dataset", "generate_dataset", "default_root"]

GENERATOR_VERSION = 3
CLASSES = ("circle", "ring", "square", "triangle", "cross", "hexagon")


class SyntheticSpec:
    """Parameters of one synthetic dataset (what the cache key is made of)."""

    def __init__(self, num_train=800, num_val=160, image_sizes=((192, 192), (192, 240)),
                 max_objects=8, seed=0):
        self.num_train = int(num_train)
        self.num_val = int(num_val)
        self.image_sizes = tuple(tuple(int(v) for v in s) for s in image_sizes)  # (h, w)
        self.max_objects = int(max_objects)
        self.seed = int(seed)

    def as_dict(self):
        return {
            "version": GENERATOR_VERSION, "num_train": self.num_train, "num_val": self.num_val,
            "image_sizes": [list(s) for s in self.image_sizes], "max_objects": self.max_objects,
            "seed": self.seed, "classes": list(CLASSES),
        }


def default_root(name="synthetic_shapes"):
    """``$YOLOX_FGD_DATADIR/NAME`` if set, else ``datasets/NAME`` in the repository."""
    base = os.environ.get("YOLOX_FGD_DATADIR")
    if not base:
        base = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
    return os.path.join(base, name)


# ----------------------------------------------------------------------------- drawing
def _background(rng, h, w):
    kind = rng.integers(4)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if kind == 0:  # linear gradient
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h)
        grad = c0[None, :] * (1 - t[:, None]) + c1[None, :] * t[:, None]
        img = np.broadcast_to(grad[None] if grad.shape[0] == w else grad[:, None], (h, w, 3)).copy()
    elif kind == 1:  # stripes
        period = rng.integers(6, 24)
        yy, xx = np.mgrid[0:h, 0:w]
        ang = rng.random() * math.pi
        phase = ((xx * math.cos(ang) + yy * math.sin(ang)) // period) % 2
        img = np.where(phase[..., None] > 0, c0, c1).astype(np.float64)
    elif kind == 2:  # soft blobs
        img = np.tile(c0, (h, w, 1)).astype(np.float64)
        for _ in range(rng.integers(3, 8)):
            cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(10, 60)
            colour = rng.integers(0, 256, 3).tolist()
            cv2.circle(img, (int(cx), int(cy)), int(r), colour, -1)
        img = cv2.GaussianBlur(img, (0, 0), 6)
    else:  # flat
        img = np.tile(c0, (h, w, 1)).astype(np.float64)
    img = img + rng.normal(0, rng.uniform(2, 18), (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(rng, img):
    h, w = img.shape[:2]
    for _ in range(rng.integers(2, 9)):
        colour = rng.integers(0, 256, 3).tolist()
        kind = rng.integers(3)
        if kind == 0:
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 3)))
        elif kind == 1:
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(4, 40)), int(rng.integers(4, 40)))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, float(rng.uniform(60, 300)), colour, 1)
        else:
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.rectangle(img, (x, y), (x + int(rng.integers(3, 30)), y + int(rng.integers(3, 30))), colour, 1)


def _polygon(n, cx, cy, r, angle):
    a = angle + np.arange(n) * 2 * math.pi / n
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)


def _cross(cx, cy, r, angle):
    t = r * 0.35
    pts = np.array([[-t, -r], [t, -r], [t, -t], [r, -t], [r, t], [t, t], [t, r], [-t, r],
                    [-t, t], [-r, t], [-r, -t], [-t, -t]])
    c, s = math.cos(angle), math.sin(angle)
    rot = pts @ np.array([[c, s], [-s, c]])
    return rot + np.array([cx, cy])


def _draw_object(rng, img, cls, cx, cy, size):
    """Draw one object; returns its box ``(x1, y1, x2, y2)`` in pixels (unclipped)."""
    colour = rng.integers(0, 256, 3)
    # keep contrast against the local background
    colour = np.where(np.abs(colour - img[int(np.clip(cy, 0, img.shape[0] - 1)),
                                          int(np.clip(cx, 0, img.shape[1] - 1))]) < 60,
                      255 - colour, colour).tolist()
    r = size / 2
    angle = rng.uniform(0, 2 * math.pi)
    name = CLASSES[cls]
    if name in ("circle", "ring"):
        rx, ry = r, r * rng.uniform(0.8, 1.0)
        thick = -1 if name == "circle" else max(2, int(r * 0.3))
        rr = (rx - thick / 2, ry - thick / 2) if thick > 0 else (rx, ry)
        cv2.ellipse(img, (int(round(cx)), int(round(cy))), (max(1, int(round(rr[0]))), max(1, int(round(rr[1])))),
                    0, 0, 360, colour, thick, lineType=cv2.LINE_AA)
        return cx - rx, cy - ry, cx + rx, cy + ry
    if name == "square":
        pts = _polygon(4, cx, cy, r * math.sqrt(2) * 0.8, angle)
    elif name == "triangle":
        pts = _polygon(3, cx, cy, r, angle)
    elif name == "hexagon":
        pts = _polygon(6, cx, cy, r, angle)
    else:
        pts = _cross(cx, cy, r, angle)
    cv2.fillPoly(img, [np.round(pts).astype(np.int32)], colour, lineType=cv2.LINE_AA)
    return pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()


def _sample_size(rng, h, w):
    bucket = rng.choice(3, p=[0.45, 0.4, 0.15])  # small / medium / large (COCO areas)
    top = min(h, w) * 0.85
    lo, hi = [(8, 30), (34, min(90, 0.7 * top)), (min(100, 0.8 * top), top)][bucket]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _render(rng, h, w, max_objects):
    img = _background(rng, h, w)
    _clutter(rng, img)
    boxes = []
    sizes = sorted((_sample_size(rng, h, w) for _ in range(int(rng.integers(1, max_objects + 1)))), reverse=True)
    for size in sizes:  # large first, so a later object occludes an earlier one only partly
        # allow partial overlap and objects cut by the border
        cx = rng.uniform(-0.15 * size, w + 0.15 * size)
        cy = rng.uniform(-0.15 * size, h + 0.15 * size)
        cls = int(rng.integers(len(CLASSES)))
        x1, y1, x2, y2 = _draw_object(rng, img, cls, cx, cy, size)
        x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            boxes.append((cls, x1, y1, x2, y2))
    return img, boxes


# ----------------------------------------------------------------------------- writing
def _write_split(root, split, count, spec, first_id, ann_id):
    os.makedirs(os.path.join(root, split), exist_ok=True)
    images, annotations = [], []
    split_seed = {"train2017": 1, "val2017": 2}[split]
    for k in range(count):
        img_id = first_id + k
        rng = np.random.default_rng([spec.seed, split_seed, k])
        h, w = spec.image_sizes[int(rng.integers(len(spec.image_sizes)))]
        img, boxes = _render(rng, h, w, spec.max_objects)
        file_name = f"{img_id:012d}.jpg"
        cv2.imwrite(os.path.join(root, split, file_name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        images.append({"id": img_id, "file_name": file_name, "height": h, "width": w})
        for cls, x1, y1, x2, y2 in boxes:
            bw, bh = round(x2 - x1, 2), round(y2 - y1, 2)
            annotations.append({
                "id": ann_id, "image_id": img_id, "category_id": cls + 1,
                "bbox": [round(x1, 2), round(y1, 2), bw, bh], "area": round(bw * bh, 2),
                "iscrowd": 0, "segmentation": [],
            })
            ann_id += 1
    data = {
        "info": {"description": "yolox-fgd synthetic shapes", "version": GENERATOR_VERSION},
        "images": images, "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)],
    }
    with open(os.path.join(root, "annotations", f"instances_{split}.json"), "w") as f:
        json.dump(data, f)
    return ann_id


def generate_dataset(root, spec=None):
    """Write the dataset under ``root`` (replacing what is there). Returns ``root``."""
    spec = spec or SyntheticSpec()
    parent = os.path.dirname(os.path.abspath(root)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".synthetic_tmp_", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "annotations"))
        ann_id = _write_split(tmp, "train2017", spec.num_train, spec, 1, 1)
        _write_split(tmp, "val2017", spec.num_val, spec, 1_000_000, ann_id)
        with open(os.path.join(tmp, ".complete"), "w") as f:
            json.dump(spec.as_dict(), f)
        if os.path.exists(root):
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_dataset(root, spec=None, log=print):
    """Generate the dataset under ``root`` unless a complete one with the same spec is there."""
    spec = spec or SyntheticSpec()
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        try:
            with open(marker) as f:
                if json.load(f) == spec.as_dict():
                    return root
        except (OSError, ValueError):
            pass
    log(f"Generating the synthetic dataset under {root} "
        f"({spec.num_train} train / {spec.num_val} val images) ...")
    return generate_dataset(root, spec)

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
import hashlib
import json
import math
import os
import shutil
import tempfile

import cv2
import numpy as np

__all__ = ["BACKGROUNDS", "CLASSES", "SyntheticSpec", "dataset_fingerprint", "ensure_dataset",
           "generate_dataset", "default_root"]

GENERATOR_VERSION = 3
CLASSES = ("circle", "ring", "square", "triangle", "cross", "hexagon")
BACKGROUNDS = ("gradient", "stripes", "blobs", "flat", "texture", "tiles")
# the kinds drawn when none are named: those of generator version 3, so that every dataset made
# with the defaults keeps its cache key and its pixels
DEFAULT_BACKGROUNDS = BACKGROUNDS[:4]


class SyntheticSpec:
    """Parameters of one synthetic dataset (what the cache key is made of).

    Args:
        num_train, num_val: images per split.
        image_sizes: ``(h, w)`` choices in pixels, drawn uniformly per image.
        max_objects, min_objects: objects per image, drawn uniformly in ``[min, max]``.
        seed: generator seed.
        size_mix: probabilities of COCO's small / medium / large objects (areas < 32^2, < 96^2,
            >= 96^2 pixels at the image's own resolution).
        clutter: ``(lo, hi)``: distractor strokes per image drawn in ``[lo, hi)`` (``(0, 0)``:
            none).
        noise: ``(lo, hi)``: standard deviation of the pixel noise, drawn per image (0-255 scale).
        backgrounds: background kinds drawn from, among :data:`BACKGROUNDS` (default
            :data:`DEFAULT_BACKGROUNDS`, the four without ``texture`` and ``tiles``).
        max_overlap: ``None`` (objects placed anywhere) or the largest share of an object's box
            that another may cover; a placement above it is redrawn up to ``placement_tries``
            times (the last draw is kept).
        classes: the shape classes drawn (category ids 1.. in this order), among :data:`CLASSES`.
        size_bounds: ``None`` (the default ranges) or the side ranges in pixels of the small,
            medium and large buckets, ``((lo, hi), (lo, hi), (lo, hi))``, sides drawn
            log-uniformly in each (the COCO-shaped benchmark scales COCO's 32 and 96 px from 640
            to its input).
        distractors: ``(lo, hi)``: unlabelled filled shapes per image drawn in ``[lo, hi]``, of the
            ``distractor_classes`` and the objects' size distribution, painted before the objects
            (objects look like them; nothing marks them as background but their shape).
        distractor_classes: shapes among :data:`CLASSES` that are never labelled (default: the
            shapes not in ``classes``).

    The options after ``classes`` enter the cache key only when set, so datasets generated before
    they existed keep their key and their pixels.
    """

    def __init__(self, num_train=800, num_val=160, image_sizes=((192, 192), (192, 240)),
                 max_objects=8, seed=0, min_objects=1, size_mix=(0.45, 0.4, 0.15), clutter=(2, 9),
                 noise=(2, 18), backgrounds=None, max_overlap=None, placement_tries=10, classes=None,
                 size_bounds=None, distractors=(0, 0), distractor_classes=None):
        self.num_train = int(num_train)
        self.num_val = int(num_val)
        self.image_sizes = tuple(tuple(int(v) for v in s) for s in image_sizes)  # (h, w)
        self.max_objects = int(max_objects)
        self.min_objects = int(min_objects)
        self.seed = int(seed)
        self.size_mix = tuple(float(p) for p in size_mix)
        self.clutter = tuple(int(v) for v in clutter)
        self.noise = tuple(float(v) for v in noise)
        self.backgrounds = tuple(DEFAULT_BACKGROUNDS if backgrounds is None else backgrounds)
        self.classes = tuple(CLASSES if classes is None else classes)
        if not self.classes or len(set(self.classes)) != len(self.classes) or set(self.classes) - set(CLASSES):
            raise ValueError(f"classes must be distinct names among {CLASSES}, got {classes}")
        self.max_overlap = None if max_overlap is None else float(max_overlap)
        self.placement_tries = int(placement_tries)
        unknown = [b for b in self.backgrounds if b not in BACKGROUNDS]
        if not self.backgrounds or unknown:
            raise ValueError(f"backgrounds must be a non-empty choice among {BACKGROUNDS}, got {backgrounds}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 1 <= min_objects <= max_objects, got {self.min_objects} and {self.max_objects}")
        if len(self.size_mix) != 3 or min(self.size_mix) < 0 or abs(sum(self.size_mix) - 1) > 1e-6:
            raise ValueError(f"size_mix must be three probabilities (small, medium, large) summing to 1, got {size_mix}")
        if len(self.clutter) != 2 or not 0 <= self.clutter[0] <= self.clutter[1]:
            raise ValueError(f"clutter must be (lo, hi) with 0 <= lo <= hi, got {clutter}")
        if len(self.noise) != 2 or not 0 <= self.noise[0] <= self.noise[1]:
            raise ValueError(f"noise must be (lo, hi) with 0 <= lo <= hi, got {noise}")
        self.size_bounds = None if size_bounds is None else tuple(tuple(float(v) for v in b) for b in size_bounds)
        if self.size_bounds is not None and (
                len(self.size_bounds) != 3 or any(len(b) != 2 or not 1 <= b[0] <= b[1] for b in self.size_bounds)):
            raise ValueError(f"size_bounds must be three (lo, hi) side ranges in pixels with 1 <= lo <= hi, "
                             f"got {size_bounds}")
        self.distractors = tuple(int(v) for v in distractors)
        if len(self.distractors) != 2 or not 0 <= self.distractors[0] <= self.distractors[1]:
            raise ValueError(f"distractors must be (lo, hi) with 0 <= lo <= hi, got {distractors}")
        others = tuple(c for c in CLASSES if c not in self.classes)
        self.distractor_classes = tuple(others if distractor_classes is None else distractor_classes)
        if self.distractors[1] > 0 and (not self.distractor_classes
                                        or set(self.distractor_classes) - set(CLASSES)
                                        or set(self.distractor_classes) & set(self.classes)):
            raise ValueError(f"distractor_classes must be shapes among {CLASSES} that are not labelled "
                             f"classes {self.classes}, got {distractor_classes}")

    def as_dict(self):
        return {
            "version": GENERATOR_VERSION, "num_train": self.num_train, "num_val": self.num_val,
            "image_sizes": [list(s) for s in self.image_sizes], "max_objects": self.max_objects,
            "min_objects": self.min_objects, "seed": self.seed, "classes": list(self.classes),
            "size_mix": list(self.size_mix), "clutter": list(self.clutter), "noise": list(self.noise),
            "backgrounds": list(self.backgrounds), "max_overlap": self.max_overlap,
            "placement_tries": self.placement_tries,
            # set only when used: the key of a dataset generated before these options is unchanged
            **({"size_bounds": [list(b) for b in self.size_bounds]} if self.size_bounds is not None else {}),
            **({"distractors": list(self.distractors), "distractor_classes": list(self.distractor_classes)}
               if self.distractors[1] > 0 else {}),
        }

    @property
    def nominal_side(self):
        """The smaller side of the largest image size, in pixels."""
        return max(min(s) for s in self.image_sizes)


def default_root(name="synthetic_shapes"):
    """``$YOLOX_FGD_DATADIR/NAME`` if set, else ``datasets/NAME`` in the repository."""
    base = os.environ.get("YOLOX_FGD_DATADIR")
    if not base:
        base = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "datasets")
    return os.path.join(base, name)


# ----------------------------------------------------------------------------- drawing
def _background(rng, h, w, noise, kinds):
    kind = BACKGROUNDS.index(kinds[int(rng.integers(len(kinds)))])
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
    elif kind == 3:  # flat
        img = np.tile(c0, (h, w, 1)).astype(np.float64)
    elif kind == 4:  # texture: noise blurred at two scales, mapped between two colours
        fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), float(rng.uniform(1.0, 2.5)))
        coarse = cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), float(rng.uniform(6.0, 14.0)))
        t = fine / (fine.std() + 1e-6) + 2.0 * coarse / (coarse.std() + 1e-6)
        t = np.clip(0.5 + t / 6.0, 0.0, 1.0)[..., None]
        img = c0[None, None, :] * (1 - t) + c1[None, None, :] * t
    else:  # tiles: a patchwork of coloured rectangles with edges that look like object borders
        img = np.tile(c0, (h, w, 1)).astype(np.float64)
        for _ in range(rng.integers(4, 12)):
            x, y = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
            tw, th = int(rng.integers(w // 8, w // 2 + 1)), int(rng.integers(h // 8, h // 2 + 1))
            cv2.rectangle(img, (x, y), (x + tw, y + th), rng.integers(0, 256, 3).tolist(), -1)
    img = img + rng.normal(0, rng.uniform(*noise), (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(rng, img, lo, hi):
    h, w = img.shape[:2]
    for _ in range(rng.integers(lo, hi) if hi > lo else lo):
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


def _draw_object(rng, img, name, cx, cy, size):
    """Draw one object; returns its box ``(x1, y1, x2, y2)`` in pixels (unclipped)."""
    colour = rng.integers(0, 256, 3)
    # keep contrast against the local background
    colour = np.where(np.abs(colour - img[int(np.clip(cy, 0, img.shape[0] - 1)),
                                          int(np.clip(cx, 0, img.shape[1] - 1))]) < 60,
                      255 - colour, colour).tolist()
    r = size / 2
    angle = rng.uniform(0, 2 * math.pi)
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


def _sample_size(rng, h, w, size_mix, size_bounds=None):
    bucket = rng.choice(3, p=list(size_mix))  # small / medium / large (COCO areas)
    if size_bounds is None:
        top = min(h, w) * 0.85
        lo, hi = [(8, 30), (34, min(90, 0.7 * top)), (min(100, 0.8 * top), top)][bucket]
    else:
        lo, hi = size_bounds[bucket]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _overlap(cx, cy, size, boxes):
    """Largest share of the square ``size`` box at ``(cx, cy)`` or of a placed box covered by the other."""
    x1, y1, x2, y2 = cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2
    worst = 0.0
    for _, bx1, by1, bx2, by2 in boxes:
        iw, ih = min(x2, bx2) - max(x1, bx1), min(y2, by2) - max(y1, by1)
        if iw > 0 and ih > 0:
            inter = iw * ih
            worst = max(worst, inter / (size * size), inter / max((bx2 - bx1) * (by2 - by1), 1e-6))
    return worst


def _distractors(rng, img, spec):
    """Unlabelled shapes of ``spec.distractor_classes``, sized like the objects."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(spec.distractors[0], spec.distractors[1] + 1))):
        size = _sample_size(rng, h, w, spec.size_mix, spec.size_bounds)
        name = spec.distractor_classes[int(rng.integers(len(spec.distractor_classes)))]
        _draw_object(rng, img, name, rng.uniform(0, w), rng.uniform(0, h), size)


def _render(rng, h, w, spec):
    img = _background(rng, h, w, spec.noise, spec.backgrounds)
    _clutter(rng, img, *spec.clutter)
    if spec.distractors[1] > 0:
        _distractors(rng, img, spec)
    boxes = []
    count = int(rng.integers(spec.min_objects, spec.max_objects + 1))
    sizes = sorted((_sample_size(rng, h, w, spec.size_mix, spec.size_bounds) for _ in range(count)),
                   reverse=True)
    for size in sizes:  # large first, so a later object occludes an earlier one only partly
        # allow partial overlap and objects cut by the border
        cx = rng.uniform(-0.15 * size, w + 0.15 * size)
        cy = rng.uniform(-0.15 * size, h + 0.15 * size)
        for _ in range(spec.placement_tries if spec.max_overlap is not None else 0):
            if _overlap(cx, cy, size, boxes) <= spec.max_overlap:
                break
            cx = rng.uniform(-0.15 * size, w + 0.15 * size)
            cy = rng.uniform(-0.15 * size, h + 0.15 * size)
        cls = int(rng.integers(len(spec.classes)))
        x1, y1, x2, y2 = _draw_object(rng, img, spec.classes[cls], cx, cy, size)
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
        img, boxes = _render(rng, h, w, spec)
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
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(spec.classes)],
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


def dataset_fingerprint(root):
    """SHA-256 (hex) of a generated dataset's files: the annotations and every image, by relative
    path and content, in sorted order.

    Two machines that generated the same spec agree on it exactly when they drew the same
    pixels; results that differ across machines with equal fingerprints differ in training,
    not in data (docs/distill_bench.md). A fifth of a second for the benchmark's 1,920 images.

    Raises:
        FileNotFoundError: ``root`` holds no complete dataset (no ``.complete`` marker).
    """
    if not os.path.exists(os.path.join(root, ".complete")):
        raise FileNotFoundError(f"no complete synthetic dataset under {root} (no .complete marker): "
                                "train or evaluate once to generate it")
    digest = hashlib.sha256()
    for sub in ("annotations", "train2017", "val2017"):
        folder = os.path.join(root, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            digest.update(f"{sub}/{name}\0".encode())
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()

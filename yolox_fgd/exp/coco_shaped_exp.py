"""Base of the COCO-shaped benchmark: FGD's regime (background, small objects) at CPU size.

The demo benchmark (:mod:`yolox_fgd.exp.demo_exp`) fills 96-px inputs with medium objects: FGD's
background mask is nearly empty and p5 is 3x3 (docs/images/fgd_maps.png), so FGD's focal half
(foreground and background terms, Eq. 7) and global half (GcBlock relations, Eq. 10) have little
to act on. This benchmark keeps the student and teacher families and changes the data to look
like COCO in relative terms (docs/coco_shaped.md):

* 192x192 inputs (p5 6x6), COCO's size mix (about 40% small, 35% medium, 25% large) with COCO's
  32 / 96 px thresholds scaled from 640 to 192 (9.6 / 28.8 px), which APs / APm / APl use too;
* 3-10 objects per image covering about 15% of it (COCO: most pixels are background);
* structured backgrounds: noise textures, tiles, blobs and gradients, unlabelled strokes, and
  unlabelled triangles and hexagons drawn like objects (hard negatives);
* multiscale 160-224 with a new size every iteration, mosaic and YOLOX's affine, no mixup;
* students fine-tuned for 8 epochs at batch 32 (504 iterations) from common initial weights.
"""
from .demo_exp import DemoExp, FGDDemoExp

__all__ = ["COCO_SHAPED_DATASET", "CocoShapedExp", "FGDCocoShapedExp"]

# SyntheticSpec of the COCO-shaped dataset (datasets/synthetic_coco_shaped)
COCO_SHAPED_DATASET = {
    "num_train": 2000, "num_val": 500, "image_sizes": ((192, 192),), "min_objects": 3,
    "max_objects": 10, "size_mix": (0.38, 0.35, 0.27),
    "size_bounds": ((5.0, 9.6), (9.6, 28.8), (28.8, 110.0)), "clutter": (2, 8), "noise": (2, 10),
    "backgrounds": ("gradient", "texture", "tiles", "blobs"), "max_overlap": 0.3, "seed": 0,
    "classes": ("circle", "ring", "square", "cross"), "distractors": (2, 6),
}
COCO_SHAPED_INPUT = 192


class CocoShapedExp(DemoExp):
    def __init__(self):
        super().__init__()
        # ---------------- dataset ---------------- #
        self.synthetic_dataset = dict(COCO_SHAPED_DATASET)
        self.synthetic_name = "synthetic_coco_shaped"
        self.num_classes = 4
        self.input_size = (COCO_SHAPED_INPUT, COCO_SHAPED_INPUT)
        self.test_size = (COCO_SHAPED_INPUT, COCO_SHAPED_INPUT)
        self.multiscale_range = 1  # 160 .. 224
        # APs / APm / APl at COCO's thresholds scaled from 640 to 192 px
        self.eval_size_thresholds = (32 * COCO_SHAPED_INPUT / 640, 96 * COCO_SHAPED_INPUT / 640)
        # ---------------- the students' schedule ---------------- #
        # 8 epochs of 63 iterations at batch 32 (504 iterations) from the common initial weights;
        # YOLOX closes mosaic at epoch max_epoch - no_aug_epochs = 6: epochs 6-8 are mosaic-free and
        # the ones evaluated (YOLOX evaluates every mosaic-free epoch; an evaluation of the 500
        # validation images costs about a tenth of an epoch here)
        self.max_epoch = 8
        self.no_aug_epochs = 2
        self.eval_interval = 8


class FGDCocoShapedExp(FGDDemoExp, CocoShapedExp):
    """FGD on the COCO-shaped dataset; ``fgd_ref_size`` follows the input size (192)."""

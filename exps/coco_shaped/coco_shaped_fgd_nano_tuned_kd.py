# The demo benchmark's best configuration on the COCO-shaped benchmark
# (exps/demo/fgd_demo_nano_tuned_kd.py): the recommended FGD (coco_shaped_fgd_nano_tuned.py) plus
# the head's objectness, classes (weight 2.5) and boxes (7.5) distilled, all of it three times as
# heavy from the epoch mosaic closes on.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coco_shaped_fgd_nano_tuned import Exp as TunedExp  # noqa: E402


class Exp(TunedExp):
    def __init__(self):
        super().__init__()
        self.head_kd_weight = 2.5
        self.head_kd_box_weight = 7.5
        self.distill_no_aug_factor = 3.0

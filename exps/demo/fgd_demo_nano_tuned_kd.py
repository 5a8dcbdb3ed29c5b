# The benchmark's best configuration (docs/fgd_on_yolox.md, sections 10, 13 and 14): the recommended
# FGD configuration (fgd_demo_nano_tuned.py: feature normalisation, weights x0.01, FGD modules at
# 100x the learning rate) plus distillation of the head's outputs with weight 2.5
# (head_kd_weight: binary KL of the objectness and class logits to the teacher's probabilities;
# 2 until section 13) in which the boxes weigh 7.5 (head_kd_box_weight: GIoU loss to the
# teacher's box at each position, weighted by its objectness; yolox_fgd/losses/head_kd.py), and
# all of it three times as heavy from the epoch mosaic closes on (distill_no_aug_factor 3; section 14). What
# tools/fgd_demo.py trains as its distilled student.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgd_demo_nano_tuned import Exp as TunedExp  # noqa: E402


class Exp(TunedExp):
    def __init__(self):
        super().__init__()
        self.head_kd_weight = 2.5
        self.head_kd_box_weight = 7.5
        self.distill_no_aug_factor = 3.0

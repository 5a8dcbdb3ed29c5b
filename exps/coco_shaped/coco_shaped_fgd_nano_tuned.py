# The demo benchmark's recommended FGD on the COCO-shaped benchmark (exps/demo/fgd_demo_nano_tuned.py:
# the PAFPN maps, both standardised per channel over (N, H, W) before every term (PKD), the
# paper's four weights x 0.01, the FGD modules at 100x the student's learning rate), with the
# COCO-shaped teacher, data and initial student weights (exps/coco_shaped/coco_shaped_fgd_nano.py).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coco_shaped_fgd_nano import Exp as PaperExp  # noqa: E402


class Exp(PaperExp):
    def __init__(self):
        super().__init__()
        self.fgd_tap = "pafpn"
        self.fgd_feature_norm = True
        self.fgd_alpha, self.fgd_beta, self.fgd_gamma, self.fgd_lambda = 2e-5, 1e-5, 1e-5, 1e-7
        self.fgd_modules_lr_mult = 100.0

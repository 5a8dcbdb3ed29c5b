# Hypothesis 1 of the source document: each image's foreground mask sums to 1 (value
# 1/(H_r*W_r*N_gt)) like its background, instead of to its number of boxes.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fgd_yolox_m import Exp as FGDYoloxM  # noqa: E402


class Exp(FGDYoloxM):
    def __init__(self):
        super().__init__()
        self.exp_name = "fgd_yolox_m_h1_per_gt"
        self.fgd_fg_norm = "per_gt"

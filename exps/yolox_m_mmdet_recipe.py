# YOLOX-m with the known differences of mmdetection's YOLOX recipe (the FGD repository trained
# mmdetection's YOLOX): EMA decay 0.9999 (momentum 1e-4) and mixup scale (0.8, 1.6). Other
# differences are listed in docs/baseline_discrepancy.md (they are not switches of YOLOX 0.3.0).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yolox_m import Exp as YoloxM  # noqa: E402


class Exp(YoloxM):
    def __init__(self):
        super().__init__()
        self.exp_name = "yolox_m_mmdet_recipe"
        self.ema_decay = 0.9999
        self.mixup_scale = (0.8, 1.6)

# FGD YOLOX-l -> YOLOX-m (exps/fgd_yolox_m.py) with a conv6 stem in the student; the teacher keeps Focus.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgd_yolox_m import Exp as FGDYoloxM  # noqa: E402


class Exp(FGDYoloxM):
    def __init__(self):
        super().__init__()
        self.exp_name = "fgd_yolox_m_conv6"
        self.stem = "conv6"

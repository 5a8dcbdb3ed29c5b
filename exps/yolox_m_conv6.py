# YOLOX-m with the conv6 stem, otherwise exps/yolox_m.py. conv6 computes the same function as Focus
# (a Focus checkpoint converts exactly: tools/convert_stem.py); only speed/numerics may differ.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yolox_m import Exp as YoloxM  # noqa: E402


class Exp(YoloxM):
    def __init__(self):
        super().__init__()
        self.exp_name = "yolox_m_conv6"
        self.stem = "conv6"

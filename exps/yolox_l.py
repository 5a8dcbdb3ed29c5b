# YOLOX-l, the teacher of exps/fgd_yolox_m.py, official recipe and Focus stem (official: 49.7 AP).
import os

from yolox_fgd.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 1.0
        self.width = 1.0
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]

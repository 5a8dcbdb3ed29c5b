# YOLOX-m baseline with the official recipe (yolox_base: 300 epochs, batch 64, lr 0.01/64 per image,
# EMA 0.9998, mosaic+mixup, last 15 epochs without them and with L1) and the Focus stem.
# Official result 46.9 AP (val2017, weights trained at batch 128).
#   python tools/train.py -f exps/yolox_m.py -d 8 -b 64 --fp16
import os

from yolox_fgd.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.67
        self.width = 0.75
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]

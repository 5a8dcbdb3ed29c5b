# FGD on COCO: YOLOX-m teacher -> YOLOX-s student, the FGD hyper-parameters of exps/fgd_yolox_m.py.
#   python tools/train.py -f exps/fgd_yolox_s.py -d 8 -b 64 --fp16
# Expects datasets/COCO and the official weights/yolox_m.pth.
import os

from yolox_fgd.exp.fgd_exp import FGDExp


class Exp(FGDExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]
        self.teacher_exp = "yolox-m"
        self.teacher_ckpt = "weights/yolox_m.pth"

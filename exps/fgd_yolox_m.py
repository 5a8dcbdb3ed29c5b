# FGD on COCO: YOLOX-l teacher -> YOLOX-m student, the official YOLOX config of the FGD repository
# (branch yolox): temp 0.5, alpha 2e-3, beta 1e-3, gamma 1e-3, lambda 1e-5, three PAFPN levels,
# reference size 640. Reported there: 45.9 -> 46.6 AP (their YOLOX-m baseline; official 46.9).
#   python tools/train.py -f exps/fgd_yolox_m.py -d 8 -b 64 --fp16
# Expects datasets/COCO (or $YOLOX_DATADIR/COCO) and the official weights/yolox_l.pth.
import os

from yolox_fgd.exp.fgd_exp import FGDExp


class Exp(FGDExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.67
        self.width = 0.75
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]
        self.teacher_exp = "yolox-l"
        self.teacher_ckpt = "weights/yolox_l.pth"

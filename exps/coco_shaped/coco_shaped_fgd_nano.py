# FGD with the paper's settings on the COCO-shaped benchmark: the teacher
# (exps/coco_shaped/coco_shaped_yolox_s.py) teaches the student of
# exps/coco_shaped/coco_shaped_yolox_nano.py through the maps the official FGD YOLOX run distils
# (fgd_tap "stems": the outputs of head.stems), alpha 2e-3, beta 1e-3, gamma 1e-3, lambda 1e-5,
# temperature 0.5, normalised to the benchmark's 192 px. The same initial student weights.
import os

from yolox_fgd.exp.coco_shaped_exp import FGDCocoShapedExp

HERE = os.path.dirname(os.path.abspath(__file__))


class Exp(FGDCocoShapedExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.fgd_tap = "stems"
        self.teacher_exp = os.path.join(HERE, "coco_shaped_yolox_s.py")
        self.teacher_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "coco_shaped_yolox_s.pth")
        self.init_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "coco_shaped_nano_init.pth")

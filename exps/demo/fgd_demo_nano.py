# FGD demo: the demo YOLOX-s (exps/demo/demo_yolox_s.py) teaches the demo YOLOX-nano-width student
# on the embedded dataset. The teacher checkpoint is what `tools/fgd_demo.py` trains (or the one
# committed under demo_assets/); pass another with `teacher_ckpt PATH`.
import os

from yolox_fgd.exp.demo_exp import FGDDemoExp

HERE = os.path.dirname(os.path.abspath(__file__))


class Exp(FGDDemoExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.teacher = os.path.join(HERE, "demo_yolox_s.py")
        self.teacher_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "demo_yolox_s.pth")

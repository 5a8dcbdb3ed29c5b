# The benchmark's student without distillation (YOLOX-nano widths, plain convs) on the embedded
# synthetic dataset: fine-tuned for 10 epochs at batch 32 from the common initial weights
# demo_assets/demo_yolox_nano_init.pth (demo_assets/demo_yolox_nano_init.json says how they were
# made; `init_ckpt None` trains from random weights).
import os

from yolox_fgd.exp.demo_exp import DemoExp

HERE = os.path.dirname(os.path.abspath(__file__))


class Exp(DemoExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.init_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "demo_yolox_nano_init.pth")

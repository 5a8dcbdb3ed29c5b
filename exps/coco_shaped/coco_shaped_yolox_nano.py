# The COCO-shaped benchmark's student without distillation (YOLOX-nano widths, plain convs;
# yolox_fgd/exp/coco_shaped_exp.py, docs/coco_shaped.md): fine-tuned at batch 32 from the common
# initial weights demo_assets/coco_shaped_nano_init.pth (demo_assets/coco_shaped_nano_init.json
# says how they were made; `init_ckpt None` trains from random weights).
import os

from yolox_fgd.exp.coco_shaped_exp import CocoShapedExp

HERE = os.path.dirname(os.path.abspath(__file__))


class Exp(CocoShapedExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.init_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "coco_shaped_nano_init.pth")

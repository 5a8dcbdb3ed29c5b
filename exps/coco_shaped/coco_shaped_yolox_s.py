# Teacher of the COCO-shaped benchmark (yolox_fgd/exp/coco_shaped_exp.py, docs/coco_shaped.md):
# YOLOX-s widths (twice the student's), fine-tuned from the demo teacher
# (demo_assets/demo_yolox_s.pth: the same four classes at 96 px) on the COCO-shaped data at 192 px.
# demo_assets/coco_shaped_yolox_s.pth holds its EMA weights in fp16;
# demo_assets/coco_shaped_yolox_s.json the commands and the AP curve.
import os

from yolox_fgd.exp.coco_shaped_exp import CocoShapedExp

HERE = os.path.dirname(os.path.abspath(__file__))


class Exp(CocoShapedExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50
        self.init_ckpt = os.path.join(HERE, "..", "..", "demo_assets", "demo_yolox_s.pth")
        # ---------------- teacher schedule ---------------- #
        # cosine lr with mosaic to epoch 35, then the minimum lr without mosaic (every epoch
        # evaluated) until the AP rose by less than 1 point over the last 20% of the epochs
        # (demo_assets/coco_shaped_yolox_s.json: the stop rule, the curve and the commands)
        self.max_epoch = 80
        self.warmup_epochs = 2
        self.no_aug_epochs = 45
        self.ema_decay = 0.999
        self.ema_ramp_iters = 500
        self.eval_interval = 5

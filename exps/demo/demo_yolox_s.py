# Teacher of the demo and the distillation benchmark: YOLOX-s widths on the embedded dataset,
# trained to convergence: YOLOX's schedule with mosaic and a cosine lr until epoch 57, then 33
# epochs without mosaic at the minimum lr (YOLOX's no-aug rule), until the AP stops rising
# (docs/distill_bench.md; about 80 min on 2 CPU cores). demo_assets/demo_yolox_s.pth holds this
# experiment's EMA weights in fp16; demo_assets/demo_yolox_s.json the commands and the AP curve.
from yolox_fgd.exp.demo_exp import DemoExp


class Exp(DemoExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50
        # ---------------- teacher schedule ---------------- #
        self.max_epoch = 90
        self.warmup_epochs = 2
        self.no_aug_epochs = 33
        self.ema_decay = 0.999
        self.ema_ramp_iters = 500
        self.eval_interval = 5
        # YOLOX's multiscale period, with which the committed teacher was trained (the students
        # draw a size every iteration, DemoExp)
        self.multiscale_interval = 10

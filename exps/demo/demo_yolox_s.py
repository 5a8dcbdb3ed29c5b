# Teacher of the demo and the distillation benchmark: YOLOX-s widths on the embedded dataset,
# trained to convergence (60 epochs, about an hour on 2 CPU cores). demo_assets/demo_yolox_s.pth
# is this experiment's EMA weights: see demo_assets/demo_yolox_s.json for the command.
from yolox_fgd.exp.demo_exp import DemoExp


class Exp(DemoExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50
        # ---------------- teacher schedule ---------------- #
        self.max_epoch = 60
        self.warmup_epochs = 2
        self.no_aug_epochs = 3
        self.ema_decay = 0.999
        self.ema_ramp_iters = 500
        self.eval_interval = 5

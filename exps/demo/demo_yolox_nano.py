# Student-size demo model (YOLOX-nano widths, plain convs) on the embedded synthetic dataset.
from yolox_fgd.exp.demo_exp import DemoExp


class Exp(DemoExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25

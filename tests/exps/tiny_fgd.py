# FGD between two tiny YOLOX models (student width 0.125 -> teacher 0.25: align convs on every
# level). Everything else is tests/exps/tiny_yolox.py, so a run with all FGD weights 0 must equal it.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_yolox import Exp as TinyExp  # noqa: E402

from yolox_fgd.exp.fgd_exp import FGDExp  # noqa: E402


class Exp(FGDExp, TinyExp):
    def __init__(self):
        super().__init__()
        self.teacher_exp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_teacher.py")
        self.fgd_ref_size = None

# The benchmark's best configuration (docs/fgd_on_yolox.md, section 9): the recommended FGD
# configuration (fgd_demo_nano_tuned.py: feature normalisation, weights x0.01, FGD modules at
# 100x the learning rate) plus distillation of the head's objectness and class logits with
# weight 3 (head_kd_weight; binary KL to the teacher's probabilities, yolox_fgd/losses/head_kd.py).
# What tools/fgd_demo.py trains as its distilled student.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgd_demo_nano_tuned import Exp as TunedExp  # noqa: E402


class Exp(TunedExp):
    def __init__(self):
        super().__init__()
        self.head_kd_weight = 3.0

# FGD YOLOX-l -> YOLOX-m on COCO with the benchmark's best configuration (docs/fgd_on_yolox.md,
# section 9): exps/fgd_yolox_m_tuned.py (feature normalisation, weights x0.01, FGD modules at
# 100x the learning rate) plus distillation of the head's objectness and class logits with
# weight 3 (head_kd_weight; binary KL to the teacher's probabilities, per expected object,
# yolox_fgd/losses/head_kd.py). Not in the paper. Chosen on the CPU benchmark, untested on COCO:
# run a few thousand iterations with fgd_diagnostics_interval 500 first; the head_kd row of
# tools/plot_diagnostics.py gives its gradient against the detection gradient's (about 1.2x,
# cosine about +0.26 on the benchmark).
#   python tools/train.py -f exps/fgd_yolox_m_tuned_kd.py -d 8 -b 64 --fp16
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgd_yolox_m_tuned import Exp as TunedExp  # noqa: E402


class Exp(TunedExp):
    def __init__(self):
        super().__init__()
        self.exp_name = "fgd_yolox_m_tuned_kd"
        self.head_kd_weight = 3.0

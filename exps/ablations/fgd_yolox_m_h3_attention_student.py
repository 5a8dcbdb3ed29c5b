# Hypothesis 3 of the source document: Eq. 7 weighted by the student's attention instead of the teacher's.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fgd_yolox_m import Exp as FGDYoloxM  # noqa: E402


class Exp(FGDYoloxM):
    def __init__(self):
        super().__init__()
        self.exp_name = "fgd_yolox_m_h3_attention_student"
        self.fgd_attention = "student"

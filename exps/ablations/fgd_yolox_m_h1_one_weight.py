# Doubt 2 of the source document: with Hypothesis 1 foreground and background both sum to 1 per
# image, so alpha and beta can be one weight (alpha == beta == 2e-3).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgd_yolox_m_h1_per_gt import Exp as H1Exp  # noqa: E402


class Exp(H1Exp):
    def __init__(self):
        super().__init__()
        self.exp_name = "fgd_yolox_m_h1_one_weight"
        self.fgd_beta = self.fgd_alpha

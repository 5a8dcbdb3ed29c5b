# Teacher of the tiny FGD test experiment: the tiny YOLOX at twice the width.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_yolox import Exp as TinyExp  # noqa: E402


class Exp(TinyExp):
    def __init__(self):
        super().__init__()
        self.width = 0.25

"""yolox-fgd: Focal and Global Knowledge Distillation for Megvii YOLOX."""
__version__ = "0.1.0"

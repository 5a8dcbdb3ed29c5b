"""yolox-fgd: Focal and Global Knowledge Distillation (FGD) for Megvii YOLOX 0.3.0."""
import warnings

__version__ = "0.1.0"

# YOLOX 0.3.0 calls torch.cuda.amp APIs that torch >= 2.4 deprecates; thop uses distutils.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"yolox\.")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"thop\.")

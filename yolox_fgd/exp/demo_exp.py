"""Base of the demo experiments: the embedded synthetic dataset, sized for a laptop CPU."""
from .base_exp import Exp
from .fgd_exp import FGDExp

__all__ = ["DemoExp", "FGDDemoExp"]


class DemoExp(Exp):
    def __init__(self):
        super().__init__()
        # ---------------- dataset ---------------- #
        self.synthetic_dataset = {}  # default SyntheticSpec: 800 train / 160 val images
        self.num_classes = 6
        self.input_size = (160, 160)
        self.test_size = (160, 160)
        self.multiscale_range = 1  # 128 .. 192
        self.data_num_workers = 2
        # ---------------- augmentation ---------------- #
        self.mosaic_scale = (0.5, 1.5)
        self.enable_mixup = False
        # ---------------- schedule ---------------- #
        self.max_epoch = 12
        self.warmup_epochs = 1
        self.no_aug_epochs = 2
        self.basic_lr_per_img = 0.04 / 64.0
        self.eval_interval = 4
        self.print_interval = 20
        self.save_history_ckpt = False
        self.test_conf = 0.01
        self.seed = 0


class FGDDemoExp(FGDExp, DemoExp):
    """FGD on the demo dataset: ``DemoExp``'s data and schedule with ``FGDExp``'s teacher fields.

    The FGD weights stay the paper's; ``fgd_ref_size`` is the demo's input size, so the
    multiscale normalisation is 1 at the nominal size, as 640 is for COCO.
    """

    def __init__(self):
        super().__init__()
        self.fgd_ref_size = self.input_size[0]

"""Base of the demo experiments: the embedded synthetic dataset, sized for a laptop CPU."""
from .base_exp import Exp

__all__ = ["DemoExp"]


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
        self.basic_lr_per_img = 0.02 / 64.0
        self.eval_interval = 4
        self.print_interval = 20
        self.save_history_ckpt = False
        self.test_conf = 0.01
        self.seed = 0

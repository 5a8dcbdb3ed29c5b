# A YOLOX small enough for tests: 64x64 input, 8 training images, CPU, deterministic.
from yolox_fgd.exp.demo_exp import DemoExp


class Exp(DemoExp):
    def __init__(self):
        super().__init__()
        self.synthetic_dataset = {"num_train": 8, "num_val": 4, "image_sizes": ((96, 96), (96, 128)),
                                  "max_objects": 4, "seed": 5}
        self.synthetic_name = "tiny_shapes"
        self.num_classes = 6
        self.depth = 0.33
        self.width = 0.125
        self.input_size = (64, 64)
        self.test_size = (64, 64)
        self.multiscale_range = 0
        self.multiscale_interval = 10  # YOLOX's, as users run it (USER_CONFIG turns multiscale on)
        self.data_num_workers = 0
        self.max_epoch = 2
        self.warmup_epochs = 0
        self.no_aug_epochs = 0
        self.eval_interval = 1
        self.print_interval = 1
        self.seed = 0

# Your own dataset, step 1: the teacher, YOLOX-s on a COCO-format folder (docs/custom_dataset.md),
# as YOLOX's exps/example/custom/yolox_s.py. Set data_dir, the annotation files and num_classes
# here or after the options on the command line (`data_dir PATH num_classes N`):
#   python tools/train.py -f exps/example/custom/custom_yolox_s.py -b 64 --fp16 num_classes 3
# The distilled student (exps/example/custom/custom_fgd_yolox_nano.py) reads its checkpoint from
# YOLOX_outputs/custom_yolox_s/best_ckpt.pth.
import os

from yolox_fgd.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]

        # ---------------- your dataset ---------------- #
        # DATA_DIR/annotations/{train_ann,val_ann} (COCO json), images in DATA_DIR/train2017 and
        # DATA_DIR/val2017; a path relative to the folder the command runs in
        self.data_dir = "datasets/my_dataset"
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"
        # the number of entries of "categories" in the annotation files (checked at start)
        self.num_classes = 1

        # ---------------- schedule ---------------- #
        self.max_epoch = 300
        self.data_num_workers = 4
        self.eval_interval = 1

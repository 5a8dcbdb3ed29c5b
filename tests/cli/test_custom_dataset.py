"""Your own dataset (docs/custom_dataset.md): the example pair of exps/example/custom/ on a plain COCO
folder with its own classes, through tools/train.py and tools/eval.py as a user runs them."""
import glob
import os

import pytest
import torch

from tests.conftest import REPO, run_tool
from yolox_fgd.data.synthetic import SyntheticSpec, generate_dataset
from yolox_fgd.exp.build import load_exp

CUSTOM = os.path.join(REPO, "exps", "example", "custom")
TEACHER = os.path.join(CUSTOM, "custom_yolox_s.py")
STUDENT = os.path.join(CUSTOM, "custom_fgd_yolox_nano.py")
# three of the generator's six shapes: the dataset's own class list, not the embedded datasets'
CLASSES = ("ring", "triangle", "hexagon")
# seconds, not hours: 64-px inputs (multiscale 32-96 px), 8 training images at batch 4 (2
# iterations an epoch), an evaluation after every epoch. YOLOX closes mosaic at the start of epoch
# max_epoch - no_aug_epochs (1-based): with no_aug_epochs 0 the last epoch is its mosaic-free one
SCHEDULE = ("input_size", "(64,64)", "test_size", "(64,64)", "multiscale_range", "1", "warmup_epochs", "1",
            "no_aug_epochs", "0", "print_interval", "1")


def test_example_pair_wiring(tmp_path, monkeypatch):
    """The student's data, class count and schedule are the teacher's; its teacher is the teacher's
    file and checkpoint (best_ckpt.pth under YOLOX_outputs/<teacher exp name>, relative to the
    folder the command runs in: before the teacher is trained there, the student is refused naming
    that path); its architecture is YOLOX-nano's widths; both files pass their checks; and their
    module names are unique in exps/ (the loader imports an experiment file by its basename)."""
    from yolox_fgd.utils.checkpoint import CheckpointError

    teacher, student = load_exp(TEACHER), load_exp(STUDENT)
    for exp in (teacher, student):
        exp.check_config()
    for key in ("data_dir", "train_ann", "val_ann", "num_classes", "max_epoch", "input_size", "data_num_workers"):
        assert getattr(student, key) == getattr(teacher, key), key
    assert (teacher.depth, teacher.width, student.depth, student.width) == (0.33, 0.50, 0.33, 0.25)
    assert os.path.samefile(student.teacher_exp, TEACHER)
    assert student.teacher_ckpt == os.path.join(".", "YOLOX_outputs", teacher.exp_name, "best_ckpt.pth")
    assert (teacher.exp_name, student.exp_name) == ("custom_yolox_s", "custom_fgd_yolox_nano")
    names = [os.path.basename(p) for p in glob.glob(os.path.join(REPO, "exps", "**", "*.py"), recursive=True)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="teacher checkpoint not found: ./YOLOX_outputs/custom_yolox_s/best_ckpt.pth"):
        student.check_before_launch(None)


def test_teacher_student_and_evaluation_on_a_coco_folder_of_its_own(tmp_path):
    """The three commands of docs/custom_dataset.md on a COCO folder of three classes, given on the
    command line (`data_dir PATH num_classes 3`), run from a working folder as a user would: the
    teacher trains (loader workers on, as in the example file); the distilled student trains from
    it, a mosaic epoch and a mosaic-free one (the teacher given as `teacher_ckpt`: a one-epoch
    teacher scores AP 0, and best_ckpt.pth is written only at an AP above the best so far, 0 at
    first); tools/eval.py prints the per-class AP table with the
    dataset's own class names; and the student checkpoint loads, strictly, into YOLOX's own model
    read with YOLOX's own torch.load call (weights_only by default since torch 2.6)."""
    data = generate_dataset(str(tmp_path / "shapes"), SyntheticSpec(
        num_train=8, num_val=4, image_sizes=((96, 96),), max_objects=4, classes=CLASSES, seed=3))
    work = tmp_path / "work"
    work.mkdir()
    dataset = ("data_dir", data, "num_classes", len(CLASSES))

    teacher = run_tool("train", "-f", TEACHER, "-b", "4", "--device", "cpu", *dataset, *SCHEDULE,
                       "max_epoch", "1", "data_num_workers", "2", cwd=work)
    assert teacher.returncode == 0, teacher.stderr[-3000:]
    teacher_ckpt = work / "YOLOX_outputs" / "custom_yolox_s" / "latest_ckpt.pth"

    student = run_tool("train", "-f", STUDENT, "-b", "4", "--device", "cpu", *dataset, *SCHEDULE,
                       "max_epoch", "2", "data_num_workers", "0", "teacher_ckpt", teacher_ckpt, cwd=work)
    assert student.returncode == 0, student.stderr[-3000:]
    student_ckpt = work / "YOLOX_outputs" / "custom_fgd_yolox_nano" / "latest_ckpt.pth"

    # --conf 0: every prediction counts, so the table is there even for a student of two epochs
    evaluation = run_tool("eval", "-f", STUDENT, "-c", student_ckpt, "-b", "4", "--device", "cpu", "--conf", "0",
                          *dataset, "test_size", "(64,64)", cwd=work)
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    table = (evaluation.stdout + evaluation.stderr).split("per class AP:")[1]
    assert all(name in table for name in CLASSES), table
    assert not any(name in table for name in ("circle", "square", "cross")), table

    from yolox.exp import Exp as YOLOXExp

    exp = YOLOXExp()
    exp.depth, exp.width, exp.num_classes = 0.33, 0.25, len(CLASSES)
    model = exp.get_model().eval()
    model.load_state_dict(torch.load(student_ckpt, map_location="cpu")["model"])
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64) * 255).shape == (1, 8 * 8 + 4 * 4 + 2 * 2, 5 + len(CLASSES))

"""tools/train.py, tools/eval.py and tools/fgd_fit.py stop on bad input with a message naming the problem."""
import os
import shutil

import torch

from tests.conftest import TINY_EXP, refuse, run_tool


def fail_in_a_process(tool, *args):
    """``tools/<tool>.py ARGS`` as a user runs it: a non-zero exit; returns its stderr."""
    res = run_tool(tool, *args)
    assert res.returncode != 0, res.stdout[-2000:]
    return res.stderr


def test_missing_exp_file():
    err = refuse("train", "-f", "exps/does_not_exist.py", "--device", "cpu")
    assert "experiment file not found: exps/does_not_exist.py" in err


def test_missing_checkpoint(tiny_data):
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "-c", "/nonexistent/ckpt.pth")
    assert "checkpoint not found: /nonexistent/ckpt.pth" in err
    err = refuse("eval", "-f", TINY_EXP, "--device", "cpu", "-c", "/nonexistent/ckpt.pth")
    assert "checkpoint not found: /nonexistent/ckpt.pth" in err


def test_missing_init_ckpt(tiny_data):
    """An experiment whose initial weights are missing is refused before anything is built."""
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "init_ckpt", "/nonexistent/init.pth")
    assert "initial weights (init_ckpt) not found: /nonexistent/init.pth" in err and "init_ckpt None" in err


def test_resume_without_checkpoint(tmp_path, tiny_data):
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "--resume", "output_dir", tmp_path)
    assert "checkpoint to resume not found" in err and "latest_ckpt.pth" in err


def test_corrupt_checkpoint(tmp_path, tiny_data):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage" * 10)
    err = refuse("eval", "-f", TINY_EXP, "--device", "cpu", "-c", bad)
    assert f"cannot read checkpoint {bad}" in err and "corrupt or truncated" in err
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert "is empty" in refuse("eval", "-f", TINY_EXP, "--device", "cpu", "-c", empty)


def test_checkpoint_of_another_model(tmp_path, tiny_data):
    """A checkpoint whose weights do not fit names the mismatching keys."""
    path = tmp_path / "other.pth"
    torch.save({"model": {"foo.weight": torch.zeros(1)}}, path)
    err = refuse("eval", "-f", TINY_EXP, "--device", "cpu", "-c", path)
    assert "does not fit the experiment's model" in err and "foo.weight" in err


def test_dataset_without_annotations(tmp_path):
    (tmp_path / "train2017").mkdir()
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "data_dir", tmp_path, "synthetic_dataset", "None")
    assert f"annotation file not found: {tmp_path}/annotations/instances_train2017.json" in err


def _copy_dataset(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_malformed_annotation_json(tmp_path, tiny_data):
    root = _copy_dataset(tiny_data, tmp_path / "d")
    (root / "annotations" / "instances_train2017.json").write_text("{not json")
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "data_dir", root, "synthetic_dataset", "None")
    assert "instances_train2017.json is not valid json" in err


def test_image_missing_on_disk(tmp_path, tiny_data):
    root = _copy_dataset(tiny_data, tmp_path / "d")
    victim = sorted(os.listdir(root / "train2017"))[0]
    os.remove(root / "train2017" / victim)
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "data_dir", root, "synthetic_dataset", "None",
               "output_dir", tmp_path / "out")
    assert "missing from" in err and victim in err


def test_class_count_differs_from_dataset(tiny_data):
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "num_classes", "80")
    assert "num_classes=80" in err and "6 categories" in err


def test_input_size_not_multiple_of_32(tiny_data):
    err = refuse("train", "-f", TINY_EXP, "--device", "cpu", "input_size", "(100,100)")
    assert "input_size=(100, 100) must be two positive multiples of 32" in err


def test_unknown_option(tiny_data):
    assert "unknown option 'max_epochs'" in refuse("train", "-f", TINY_EXP, "--device", "cpu", "max_epochs", "3")


def test_every_bad_train_option_is_refused_at_once_naming_it(tmp_path):
    """Options tools/train.py offers but that cannot work here stop before any data or model is
    loaded (no dataset folder is even looked at), with a message naming the option."""
    cases = [
        (["-b", "0"], "-b/--batch-size must be at least 1"),
        (["-b", "3", "-d", "2"], "-b/--batch-size 3 does not split evenly over 2 process(es)"),
        (["-d", "0"], "-d/--devices must be at least 1"),
        (["--num_machines", "2", "--machine_rank", "2"], "--machine_rank must be in 0..1"),
        (["-l", "mlflow"], "-l/--logger 'mlflow' is not supported: choose one of ('tensorboard', 'wandb')"),
        (["--dist-backend", "mpi"], "--dist-backend must be gloo or nccl"),
        (["--dist-backend", "nccl"], "--dist-backend nccl needs CUDA"),
        (["-e", "3"], "-e/--start_epoch 3: the 1-based epoch to resume from, only with --resume"),
    ]
    def argv(extra):
        return ["-f", TINY_EXP, "--device", "cpu", *extra, "data_dir", str(tmp_path / "none"), "synthetic_dataset", "None"]

    # the first as a user runs the tool (its own process), the rest through its entry in this process
    (extra, message), rest = cases[0], cases[1:]
    err = fail_in_a_process("train", *argv(extra))
    assert f"error: {message}" in err and "Traceback" not in err and "annotation file" not in err
    for extra, message in rest:
        err = refuse("train", *argv(extra))
        assert message in err and "annotation file" not in err, (extra, err[-500:])


def test_yolox_model_names_give_yolox_values_on_this_projects_exp(tmp_path):
    """-n yolox-s (an option the parser offers) is YOLOX's yolox-s experiment with this project's
    behaviour: it gets as far as the dataset check (no TypeError), and the experiment carries
    YOLOX's values."""
    from yolox.exp import get_exp

    from yolox_fgd.exp.base_exp import Exp
    from yolox_fgd.exp.build import load_exp

    err = refuse("train", "-n", "yolox-s", "--device", "cpu", "data_dir", tmp_path)
    assert "annotation file not found" in err and "Traceback" not in err
    exp = load_exp(exp_name="yolox-s")
    assert isinstance(exp, Exp) and (exp.depth, exp.width) == (0.33, 0.50)
    assert exp.exp_name == get_exp(None, "yolox-s").exp_name


def test_missing_teacher_checkpoint_names_the_experiment_option(tiny_data, tiny_teacher_ckpt):
    from tests.conftest import TINY_FGD_EXP

    err = refuse("train", "-f", TINY_FGD_EXP, "--device", "cpu", "teacher_ckpt", "/no/teacher.pth")
    assert "teacher checkpoint not found: /no/teacher.pth (set teacher_ckpt in the experiment" in err
    assert "-c/--ckpt" not in err


def test_a_diverged_run_ends_with_its_message_not_lost_stderr(tmp_path, tiny_data):
    """A learning rate that blows the student up: tools/train.py exits 1 with one ``error:`` line
    saying the run diverged (the FloatingPointError's message reaches the terminal; before, YOLOX's
    replaced stderr was gone by then and Python printed "lost sys.stderr")."""
    res = run_tool("train", "-f", TINY_EXP, "-b", "4", "--device", "cpu", "-expn", "nf", "output_dir", tmp_path,
                   "max_epoch", "1", "nonfinite_policy", "stop", "basic_lr_per_img", "1e30")
    assert res.returncode == 1
    assert "error: " in res.stderr and "diverged" in res.stderr and "lost sys.stderr" not in res.stderr


def test_fgd_fit_refuses_an_experiment_without_distillation(tmp_path):
    """tools/fgd_fit.py on a plain (non-FGD) experiment says so before loading anything."""
    err = refuse("fgd_fit", "-f", TINY_EXP, "-c", tmp_path / "any.pth")
    assert "is not an FGD experiment (no teacher, no fgd_levels)" in err

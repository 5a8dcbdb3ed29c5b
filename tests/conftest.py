"""Shared fixtures: a tiny synthetic dataset and tiny experiments, all on CPU."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
TINY_EXP = os.path.join(REPO, "tests", "exps", "tiny_yolox.py")
TINY_FGD_EXP = os.path.join(REPO, "tests", "exps", "tiny_fgd.py")
TINY_TEACHER_EXP = os.path.join(REPO, "tests", "exps", "tiny_teacher.py")
TINY_SPEC = {"num_train": 8, "num_val": 4, "image_sizes": ((96, 96), (96, 128)), "max_objects": 4, "seed": 5}


@pytest.fixture(scope="session", autouse=True)
def datadir(tmp_path_factory):
    """Every synthetic dataset of the test session lives in a temporary folder."""
    path = tmp_path_factory.mktemp("datasets")
    os.environ["YOLOX_FGD_DATADIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_data(datadir):
    """The tiny dataset used by tests/exps/tiny_yolox.py, generated once."""
    from yolox_fgd.data.synthetic import SyntheticSpec, default_root, ensure_dataset

    return ensure_dataset(default_root("tiny_shapes"), SyntheticSpec(**TINY_SPEC))


def run_tool(tool, *args, cwd=None, timeout=600, threads=None):
    """Run ``tools/<tool>.py`` with the test interpreter and ``threads`` torch threads per process
    (default: the machine's 2 cores shared by the ``-d`` processes); returns the CompletedProcess."""
    if threads is None:
        args = tuple(map(str, args))
        processes = int(args[args.index("-d") + 1]) if "-d" in args[:-1] else 1
        threads = max(1, 2 // processes)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS=str(threads))
    env.pop("YOLOX_FGD_DEBUG", None)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", f"{tool}.py"), *map(str, args)],
        cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def refuse(tool, *args):
    """``tools/<tool>.py ARGS`` through the tool's own entry (``run_cli`` around its ``main``), in
    this process to spare an interpreter start per case: it must exit with status 1; returns what
    it printed to stderr (one ``error:`` line)."""
    import importlib
    import io
    from unittest import mock

    from loguru import logger

    from yolox_fgd.cli.common import run_cli

    module = importlib.import_module(f"yolox_fgd.cli.{tool}")
    err = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "YOLOX_FGD_DEBUG"}
    streams = sys.stdout, sys.stderr  # YOLOX's setup_logger, if the tool got that far, replaces them
    try:
        with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(sys, "__stderr__", err):
            with pytest.raises(SystemExit) as stop:
                run_cli(module.main, [str(a) for a in args])
    finally:
        sys.stdout, sys.stderr = streams
        logger.remove()  # run_cli removed the tool's handlers; give the test session its default one back
        logger.add(sys.stderr)
    assert stop.value.code == 1, err.getvalue()[-2000:]
    return err.getvalue()


@pytest.fixture(scope="session")
def tiny_teacher_ckpt(tmp_path_factory):
    """A checkpoint of the tiny teacher in YOLOX's release format ``{"model": ...}``."""
    import torch

    from yolox_fgd.exp.build import load_exp

    torch.manual_seed(123)
    model = load_exp(TINY_TEACHER_EXP).get_model()
    path = tmp_path_factory.mktemp("teacher") / "tiny_teacher.pth"
    torch.save({"model": model.state_dict()}, path)
    return path


@pytest.fixture
def restore_std():
    """YOLOX's setup_logger redirects sys.stdout/stderr to loguru: undo it after the test."""
    from loguru import logger

    out, err = sys.stdout, sys.stderr
    yield
    sys.stdout, sys.stderr = out, err
    logger.remove()
    logger.add(sys.stderr)


_TRAINERS = []


def make_trainer(exp_file, output_dir, *opts, batch=8, flags=()):
    """An in-process trainer for ``exp_file`` on CPU, writing under ``output_dir/run``, with the
    command-line ``flags`` (e.g. ``--fp16``). Its loader workers are stopped after the test."""
    from yolox_fgd.cli.train import make_parser
    from yolox_fgd.exp.build import load_exp

    exp = load_exp(exp_file)
    exp.merge(["output_dir", str(output_dir), *map(str, opts)])
    args = make_parser().parse_args(["-b", str(batch), "--device", "cpu", "-expn", "run", *flags])
    trainer = exp.get_trainer(args)
    _TRAINERS.append(trainer)
    return trainer


@pytest.fixture(autouse=True)
def _stop_loader_workers():
    """Drop the training-loader iterator of every trainer the test built, while it is still
    referenced: its workers then get the stop signal at once. Left to the garbage collector (a
    trainer sits in reference cycles), the loader's queues are finalised before the iterator, the
    stop signal is lost, and each worker is joined only after torch's 5-second status timeout,
    in whatever later test the collector happens to run."""
    yield
    while _TRAINERS:
        trainer = _TRAINERS.pop()
        if getattr(trainer, "prefetcher", None) is not None:
            trainer.prefetcher = None


def load_ckpt_file(path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


# What users run, as far as the trainer is concerned: loader workers, multiscale inputs (a new
# size every 10 iterations), learning-rate warm-up and YOLOX's last no-mosaic epochs. Seed 1: the
# first multiscale draw (``random.randint(1, 3)`` right after ``random.seed(1)``) leaves 64, so the
# input size changes at iteration 10 (seed 0 draws 64 again).
USER_CONFIG = ("data_num_workers", "2", "multiscale_range", "1", "warmup_epochs", "1", "no_aug_epochs", "1",
               "seed", "1")


def logged_sizes(text):
    """The multiscale input sizes in a training log's progress lines."""
    return [int(line.split("size: ")[1].split(",")[0]) for line in text.splitlines() if "size: " in line]


def stop_and_resume(exp_file, out, *opts, epochs=3, stop=2, batch=4, flags=()):
    """Train ``epochs`` epochs uninterrupted (``out/full``) and stopped after ``stop`` then
    resumed (``out/part``), with the command-line ``flags`` (e.g. ``--fp16``, ``-d 2``); returns
    both final checkpoints. Asserts every run succeeded."""
    common = ["-f", exp_file, "-b", str(batch), "--device", "cpu", *flags]
    tail = ["output_dir", out, "max_epoch", epochs, *opts]
    full = run_tool("train", *common, "-expn", "full", *tail)
    assert full.returncode == 0, full.stderr[-3000:]
    stop_and_resume.sizes = logged_sizes(full.stdout + full.stderr)
    part = run_tool("train", *common, "-expn", "part", *tail, "train_until_epoch", stop)
    assert part.returncode == 0, part.stderr[-3000:]
    assert load_ckpt_file(os.path.join(out, "part", "latest_ckpt.pth"))["start_epoch"] == stop
    resumed = run_tool("train", *common, "-expn", "part", "--resume", *tail)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"(epoch {stop})" in resumed.stdout + resumed.stderr
    return (load_ckpt_file(os.path.join(out, "full", "latest_ckpt.pth")),
            load_ckpt_file(os.path.join(out, "part", "latest_ckpt.pth")))


def assert_same_tensors(a, b, what):
    """Every tensor of state dict ``a`` equals ``b``'s bit for bit."""
    import torch

    assert set(a) == set(b), f"{what}: different keys"
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), f"{what}.{name} differs"


def run_iters(trainer, n, after_iter=lambda i: None):
    """``n`` steps of epoch 1 through the trainer's real ``train_one_iter`` (after ``before_train``),
    calling ``after_iter(i)`` after each."""
    trainer.epoch = 0
    for trainer.iter in range(n):
        if trainer.iter % trainer.max_iter == 0:
            trainer.prefetcher = type(trainer.prefetcher)(trainer.train_loader)
        trainer.train_one_iter()
        after_iter(trainer.iter)

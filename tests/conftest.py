"""Shared fixtures: a tiny synthetic dataset and tiny experiments, all on CPU."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
TINY_EXP = os.path.join(REPO, "tests", "exps", "tiny_yolox.py")
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


def run_tool(tool, *args, cwd=None, timeout=600):
    """Run ``tools/<tool>.py`` with the test interpreter; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="2")
    env.pop("YOLOX_FGD_DEBUG", None)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", f"{tool}.py"), *map(str, args)],
        cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )

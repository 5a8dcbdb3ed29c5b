"""The machine line that every benchmark and results file carries."""
import os

import torch

from yolox_fgd.utils.machine import cpu_model, describe_device


def test_cpu_line_names_the_model_the_cores_and_torch():
    """On CPU the line says which CPU (its model name), how many cores and which torch build, and
    the threads of the measurement when given: runs agree bit for bit only on one machine."""
    line = describe_device("cpu")
    model = cpu_model()
    assert model and line.startswith(model)
    assert f"{os.cpu_count()} CPU cores" in line and f"torch {torch.__version__}" in line
    assert describe_device(torch.device("cpu"), threads=1) == line + ", 1 thread"
    assert describe_device("cpu", threads=4).endswith(", 4 threads")

"""The benchmark scripts run end to end at tiny sizes and the two FGD implementations agree."""
import importlib.util
import os

from tests.conftest import REPO


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_fgd_loop_reference_agrees_with_vectorised():
    """The per-image, per-box loop reference and FGDLoss give the same loss and student gradients."""
    rows = load_tool("bench_fgd").main(["--batch", "2", "--size", "64", "--reps", "1", "--boxes", "12",
                                        "--student-channels", "8", "16", "32", "--teacher-channels", "16", "16", "48"])
    assert rows[0]["loss_diff"] < 1e-5 and rows[0]["grad_diff"] < 1e-4
    assert rows[0]["loop_ms"] > 0 and rows[0]["vec_ms"] > 0
    assert rows[0]["align_ms"] > 0  # level 2 has no align conv (16 -> 16), levels 1 and 3 do


def test_bench_distill_prints_both_steps():
    exps = os.path.join(REPO, "tests", "exps")
    rows = load_tool("bench_distill").main(["--batch", "2", "--size", "64", "--reps", "1", "--warmup", "1",
                                            "--student", os.path.join(exps, "tiny_yolox.py"),
                                            "--teacher", os.path.join(exps, "tiny_teacher.py")])
    assert rows[0]["plain_ms"] > 0 and rows[0]["fgd_ms"] > 0

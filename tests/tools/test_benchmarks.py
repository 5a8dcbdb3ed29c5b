"""The benchmark scripts run end to end at tiny sizes and the two FGD implementations agree."""
import importlib.util
import os

from tests.conftest import REPO


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| batch")]


def test_bench_fgd_loop_reference_agrees_with_vectorised(capsys):
    """What the benchmark promises: for every batch size a printed row, and the per-image,
    per-box loop reference and FGDLoss agree on the loss and the student gradients."""
    rows = load_tool("bench_fgd").main(["--batch", "1", "2", "--size", "64", "--reps", "1", "--boxes", "12",
                                        "--student-channels", "8", "16", "32", "--teacher-channels", "16", "16", "48"])
    printed = table_rows(capsys.readouterr().out)
    assert [r["batch"] for r in rows] == [1, 2] and [p.split("|")[1].strip() for p in printed] == ["1", "2"]
    for row in rows:
        assert row["loss_diff"] < 1e-5 and row["grad_diff"] < 1e-4
        assert row["align_ms"] > 0  # level 2 has no align conv (16 -> 16), levels 1 and 3 do


def test_bench_distill_prints_every_combination_with_consistent_ratios(capsys):
    """One printed row per (batch, assignment, tap), each with its plain and FGD step and the
    ratios computed from them in the same run."""
    exps = os.path.join(REPO, "tests", "exps")
    rows = load_tool("bench_distill").main(["--batch", "2", "--size", "64", "--reps", "1", "--warmup", "1",
                                            "--student", os.path.join(exps, "tiny_yolox.py"),
                                            "--teacher", os.path.join(exps, "tiny_teacher.py")])
    printed = table_rows(capsys.readouterr().out)
    combos = [(r["batch"], r["assignment"], r["tap"]) for r in rows]
    assert combos == [(2, a, t) for a in ("yolox", "batched") for t in ("stems", "pafpn")]
    assert [tuple(c.strip() for c in p.split("|")[1:4]) for p in printed] == [(str(b), a, t) for b, a, t in combos]
    for row in rows:
        assert abs(row["time_ratio"] - row["fgd_ms"] / row["plain_ms"]) < 1e-9
        assert f"{row['time_ratio']:.2f}x" in printed[rows.index(row)]

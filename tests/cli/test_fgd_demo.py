"""The demo pipeline at a tiny size: teacher, baseline and FGD student, evaluation, table, pictures."""
import json
import os

from tests.conftest import TINY_EXP, TINY_FGD_EXP, TINY_TEACHER_EXP, refuse, run_tool


def test_pipeline_produces_table_and_pictures_from_the_evaluation(tmp_path, tiny_data):
    out = tmp_path / "demo"
    res = run_tool("fgd_demo", "--out", out, "--teacher-exp", TINY_TEACHER_EXP, "--student-exp", TINY_EXP,
                   "--fgd-exp", TINY_FGD_EXP, "--teacher-ckpt", tmp_path / "no_teacher.pth",
                   "--teacher-epochs", "1", "--epochs", "1", "-b", "4", "test_conf", "0.001")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    for stage in ("stage 1/5", "stage 2/5", "stages 3-4/5", "stage 5/5"):
        assert stage in res.stdout
    assert "side by side" in res.stdout  # on CPU the two students train at the same time
    assert "student_baseline: done" in res.stdout and "student_distilled: done" in res.stdout
    table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in table[1:]] == ["teacher", "student_baseline", "student_distilled"]
    # the distilled student's label says what it was taught with (the tiny experiment: the paper's FGD)
    assert "student, distilled with FGD (stems maps, alpha 0.002)" in table[3]
    for name in ("ap_curves.png", "fgd_maps.png", "results.md"):
        assert (out / name).stat().st_size > 1000 or name == "results.md"
    with open(out / "results.json") as f:
        rows = json.load(f)["rows"]
    # the table's AP column is what tools/eval.py gives for the same checkpoint
    for row, exp_file, line in zip(rows, (TINY_TEACHER_EXP, TINY_EXP, TINY_FGD_EXP), table[1:]):
        ev = run_tool("eval", "-f", exp_file, "-c", row["ckpt"], "--device", "cpu", "-b", "4", "test_conf", "0.001")
        assert ev.returncode == 0, ev.stderr[-2000:]
        eval_row = [ln for ln in ev.stdout.splitlines() if ln.startswith("| ")][1].split("|")[2:8]
        assert [c.strip() for c in line.split("|")[3:9]] == [c.strip() for c in eval_row]

    # the FGD student's projection fit, read from the same checkpoint (tools/fgd_fit.py)
    fit = run_tool("fgd_fit", "-f", TINY_FGD_EXP, "-c", rows[2]["ckpt"], "-b", "4", "--json", tmp_path / "fit.json",
                   "teacher_ckpt", os.path.join(out, "teacher", "latest_ckpt.pth"))
    assert fit.returncode == 0, fit.stderr[-2000:]
    with open(tmp_path / "fit.json") as f:
        levels = json.load(f)["levels"]
    assert sorted(levels) == ["p3", "p4", "p5"]
    assert all(-1 <= row["corr_min"] <= row["corr_mean"] <= 1 and row["channels"] > 0 for row in levels.values())
    assert [ln.split("|")[1].strip() for ln in fit.stdout.splitlines() if ln.startswith("| p")] == ["p3", "p4", "p5"]
    # a checkpoint without FGD modules (the baseline student's) is refused with what to give
    bad = refuse("fgd_fit", "-f", TINY_FGD_EXP, "-c", rows[1]["ckpt"], "-b", "4",
                 "teacher_ckpt", os.path.join(out, "teacher", "latest_ckpt.pth"))
    assert "the checkpoint has no 'fgd' entry" in bad
    # FGD modules trained with another projector than the options say: named, with what to give
    other = refuse("fgd_fit", "-f", TINY_FGD_EXP, "-c", rows[2]["ckpt"], "-b", "4", "fgd_projector", "mlp",
                   "teacher_ckpt", os.path.join(out, "teacher", "latest_ckpt.pth"))
    assert "the checkpoint's FGD modules at p3 do not fit the experiment" in other
    assert "fgd_projector must be given again" in other

    # a second run reuses the teacher and both students
    again = run_tool("fgd_demo", "--out", out, "--teacher-exp", TINY_TEACHER_EXP, "--student-exp", TINY_EXP,
                     "--fgd-exp", TINY_FGD_EXP, "--teacher-ckpt", os.path.join(out, "teacher", "latest_ckpt.pth"),
                     "--epochs", "1", "-b", "4", "test_conf", "0.001")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "teacher: reusing" in again.stdout and "student_baseline: reusing" in again.stdout

"""yolox_fgd/bench/arms.py: suites and --arm specs into checked arms, the teacher check."""
import os

import pytest

from tests.conftest import REPO, TINY_EXP, TINY_FGD_EXP, TINY_TEACHER_EXP
from yolox_fgd.bench.arms import Arm, load_arm_exp, resolve_arms, same_teacher_exp
from yolox_fgd.bench.suites import SCRATCH_OPTS


def test_scratch_gives_every_arm_the_old_benchmark_settings():
    """--scratch (the benchmark until 2026-11-28) puts its overrides before each arm's own:
    random weights, 7 epochs; without it the arms keep the experiment files' settings (the common
    initial weights)."""
    for scratch in (True, False):
        for arm in resolve_arms("demo", ["tuned"], scratch=scratch):
            assert (arm.opts[:len(SCRATCH_OPTS)] == SCRATCH_OPTS) == scratch
            exp = load_arm_exp(arm.exp, arm.opts)
            assert (exp.init_ckpt is None) == scratch and (exp.max_epoch == 7) == scratch


def test_arms_come_in_order_once_each_and_malformed_ones_are_refused():
    """Suites, then --arm specs, each name once (the same arm twice is kept once, with other
    settings refused); an --arm without an experiment or with a dangling key, no arms at all, a
    missing file and an unknown override are refused by name."""
    arms = resolve_arms("demo", ["main"], [["baseline", "exps/demo/demo_yolox_nano.py"], ["mine", TINY_EXP, "max_epoch", "1"]])
    assert [a.name for a in arms] == ["baseline", "fgd_paper", "fgd_tuned", "fgd_tuned_head_kd2_box7.5", "mine"]
    assert arms[-1] == Arm("mine", TINY_EXP, ["max_epoch", "1"], False) and arms[1].is_fgd
    with pytest.raises(ValueError, match="arm 'baseline' is defined twice"):
        resolve_arms("demo", ["main"], [["baseline", TINY_EXP]])
    for spec in (["x"], ["x", TINY_EXP, "max_epoch"]):
        with pytest.raises(ValueError, match="--arm takes a name, an experiment file"):
            resolve_arms("demo", [], [spec])
    with pytest.raises(ValueError, match="no arms"):
        resolve_arms("demo")
    with pytest.raises(FileNotFoundError, match="arm 'x': experiment file not found: exps/none.py"):
        resolve_arms("demo", [], [["x", "exps/none.py"]])
    with pytest.raises(ValueError, match="unknown option 'fgd_alphaa'"):
        resolve_arms("demo", [], [["x", TINY_FGD_EXP, "fgd_alphaa", "1"]])


def test_an_fgd_arm_taught_by_another_teacher_than_the_reports_is_refused():
    """--teacher-exp is the teacher the report evaluates; an FGD arm whose own teacher_exp (after
    its overrides) is another is refused, naming both; the same file spelled otherwise (relative
    to the repository, through '..') passes; arms without a teacher are not checked."""
    relative = os.path.relpath(TINY_TEACHER_EXP, REPO)
    spelled = os.path.join(REPO, "tests", "exps", "..", "exps", "tiny_teacher.py")
    for teacher in (TINY_TEACHER_EXP, relative, spelled):
        (arm,) = resolve_arms("demo", [], [["fgd", TINY_FGD_EXP]], teacher_exp=teacher)
        assert arm.is_fgd and arm.opts == []  # checked, not passed
    resolve_arms("demo", [], [["base", TINY_EXP]], teacher_exp="exps/demo/demo_yolox_s.py")
    with pytest.raises(ValueError, match=f"arm 'fgd' is taught by teacher_exp {TINY_TEACHER_EXP}, but "
                                         "--teacher-exp is exps/demo/demo_yolox_s.py"):
        resolve_arms("demo", [], [["fgd", TINY_FGD_EXP]], teacher_exp="exps/demo/demo_yolox_s.py")
    with pytest.raises(ValueError, match="is taught by teacher_exp exps/demo/demo_yolox_s.py, but --teacher-exp"):
        resolve_arms("demo", [], [["fgd", TINY_FGD_EXP, "teacher_exp", "exps/demo/demo_yolox_s.py"]],
                     teacher_exp=TINY_TEACHER_EXP)


def test_teacher_names_compare_as_strings_and_files_by_path():
    """A YOLOX name (yolox-s) equals only itself; files compare by their resolved absolute path."""
    assert same_teacher_exp("yolox-s", "yolox-s") and not same_teacher_exp("yolox-s", "yolox-m")
    assert not same_teacher_exp("yolox-s", "exps/default/yolox_s.py")
    assert same_teacher_exp("exps/demo/demo_yolox_s.py", os.path.join(REPO, "exps", "demo", "demo_yolox_s.py"))

"""The arms of a benchmark call: suites and ``--arm`` specs resolved into checked arms.

An arm is an experiment file plus ``key value`` overrides, trained once per seed. Everything that
can be checked without training is checked here, before any run starts: the experiment file
exists, the overrides are options of the experiment (a typo fails here, not after an hour), an
arm's name means one setting, and the FGD arms are taught by the teacher the report evaluates.
"""
import os
from collections import namedtuple

from ..cli.training_runs import REPO
from ..exp.build import load_exp
from .suites import SCRATCH_OPTS, suite_arms

__all__ = ["Arm", "load_arm_exp", "resolve_arms", "same_teacher_exp"]

# exp: the experiment file's absolute path; opts: the overrides, strings; is_fgd: it has a teacher
Arm = namedtuple("Arm", ["name", "exp", "opts", "is_fgd"])


def load_arm_exp(exp_path, opts):
    """The experiment of ``exp_path`` with the overrides ``opts`` merged (unknown keys raise)."""
    exp = load_exp(exp_path)
    exp.merge(list(opts))
    return exp


def _is_file_name(teacher_exp):
    """``teacher_exp`` names an experiment file (not a YOLOX name such as ``yolox-s``): the test
    :meth:`~yolox_fgd.exp.fgd_exp.FGDExp.get_teacher_exp` makes."""
    return teacher_exp.endswith(".py") or os.path.sep in teacher_exp


def same_teacher_exp(a, b):
    """Whether two ``teacher_exp`` values name the same teacher: files by their resolved absolute
    paths (a relative path is relative to the repository, where the trainer runs), YOLOX names
    as strings."""
    if _is_file_name(a) and _is_file_name(b):
        return os.path.realpath(os.path.join(REPO, a)) == os.path.realpath(os.path.join(REPO, b))
    return a == b


def resolve_arms(benchmark, suites=(), arm_specs=(), scratch=False, teacher_exp=None):
    """The arms of ``suites`` (names on ``benchmark``) then ``arm_specs``, in order, without repeats.

    Args:
        arm_specs: ``[name, exp_file, key, value, ...]`` lists (``--arm``); a relative
            experiment file is relative to the repository.
        scratch: put :data:`~yolox_fgd.bench.suites.SCRATCH_OPTS` before every arm's overrides.
        teacher_exp: the teacher the report evaluates (``--teacher-exp``); every FGD arm must be
            taught by it (:func:`same_teacher_exp`). ``None``: not checked.

    Returns:
        ``[Arm]``.

    Raises:
        ValueError: a malformed ``--arm``, no arms, a name defined twice with different
            settings, an unknown override, a suite of another benchmark, or an FGD arm whose
            ``teacher_exp`` is not ``teacher_exp`` (both named).
        FileNotFoundError: an experiment file is missing.
    """
    specs = [arm for suite in suites for arm in suite_arms(benchmark, suite)]
    for spec in arm_specs:
        if len(spec) < 2 or len(spec) % 2:
            raise ValueError(f"--arm takes a name, an experiment file and key value pairs, got {spec}")
        specs.append((spec[0], spec[1], spec[2:]))
    if not specs:
        raise ValueError("no arms: give --suite NAME or --arm NAME EXP [KEY VALUE ...]")
    out, seen = [], {}
    for name, exp_file, opts in specs:
        opts = (SCRATCH_OPTS if scratch else []) + [str(o) for o in opts]
        exp_path = exp_file if os.path.isabs(exp_file) else os.path.join(REPO, exp_file)
        if name in seen:
            if seen[name] != (exp_path, opts):
                raise ValueError(f"arm {name!r} is defined twice with different settings")
            continue
        if not os.path.isfile(exp_path):
            raise FileNotFoundError(f"arm {name!r}: experiment file not found: {exp_file}")
        exp = load_arm_exp(exp_path, opts)  # unknown or mistyped keys fail here, before any training
        is_fgd = hasattr(exp, "teacher_ckpt")
        if is_fgd and teacher_exp is not None and not same_teacher_exp(exp.teacher_exp, teacher_exp):
            raise ValueError(
                f"arm {name!r} is taught by teacher_exp {exp.teacher_exp}, but --teacher-exp is {teacher_exp}: "
                "the report's teacher must be the arms' teacher; give --teacher-exp "
                f"{exp.teacher_exp} (and its --teacher-ckpt) or override the arm's teacher_exp")
        seen[name] = (exp_path, opts)
        out.append(Arm(name, exp_path, opts, is_fgd))
    return out

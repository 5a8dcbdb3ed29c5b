"""yolox_fgd/bench/suites.py: the benchmarks, their defaults and suites."""
import hashlib
import json
import os

import pytest

from tests.conftest import REPO
from yolox_fgd.bench.arms import load_arm_exp
from yolox_fgd.bench.suites import BENCHMARKS, SUITES, benchmark_of_suite, suite_arms


def test_every_suite_arm_is_a_valid_experiment():
    """Each arm of every predefined suite names an experiment file that exists and whose
    overrides merge and pass the experiment's checks (a typo in a suite fails here, not after
    an hour of training)."""
    for suite, arms in SUITES.items():
        for name, exp_file, overrides in arms:
            exp = load_arm_exp(os.path.join(REPO, exp_file), overrides)
            for key, value in zip(overrides[::2], overrides[1::2]):
                attr = getattr(exp, key)
                number = isinstance(attr, (int, float)) and not isinstance(attr, bool)
                assert (float(attr) == float(value)) if number else str(attr) == value, (suite, name, key)
            exp.check_config()


def test_the_demo_suites_are_kept_as_they_were_measured():
    """The demo benchmark's suites (names, arms, experiment files, overrides, in order) are those
    the committed results were measured with: with the renamed schedule options written back
    under their old names, their JSON digest is the one of yolox_fgd/cli/distill_bench.py's
    SUITES before the split."""
    from yolox_fgd.exp.fgd_exp import RENAMED_OPTIONS

    old_name = {new: old for old, new in RENAMED_OPTIONS.items()}
    added_since = ("fgd_effect",)  # suites added after the split: not part of the committed results' digest
    suites = {suite: [(name, exp, [old_name.get(o, o) if i % 2 == 0 else o for i, o in enumerate(opts)])
                      for name, exp, opts in arms] for suite, arms in BENCHMARKS["demo"].suites.items()
              if suite not in added_since}
    text = json.dumps(suites, sort_keys=True)
    assert hashlib.sha256(text.encode()).hexdigest() == "1138bac22025aacb33d5ea7f6d59f9c70d9ace5706e143d66bbfb2ce589ffc64"
    assert list(BENCHMARKS["demo"].suites)[:3] == ["remedies", "weights", "tuned"]


def test_each_benchmark_has_its_defaults_and_suites():
    """demo: the demo teacher, outputs/distill_bench; coco_shaped: the COCO-shaped teacher,
    outputs/coco_shaped_bench; batch 32 for both; the coco suites
    compare the baseline, paper and recommended FGD, the head distillation with and without FGD,
    and FGD's variants, each on the COCO-shaped experiments."""
    demo, coco = BENCHMARKS["demo"], BENCHMARKS["coco_shaped"]
    assert (demo.teacher_exp, demo.teacher_ckpt, demo.out, demo.batch) == (
        "exps/demo/demo_yolox_s.py", "demo_assets/demo_yolox_s.pth", "outputs/distill_bench", 32)
    assert (coco.teacher_exp, coco.teacher_ckpt, coco.out, coco.batch) == (
        "exps/coco_shaped/coco_shaped_yolox_s.py", "demo_assets/coco_shaped_yolox_s.pth", "outputs/coco_shaped_bench", 32)
    assert [a[0] for a in coco.suites["coco_main"]] == ["baseline", "fgd_paper", "fgd", "head_kd",
                                                        "head_kd_fgd"]
    assert dict((a[0], a[2]) for a in coco.suites["coco_main"])["head_kd"] == [
        "fgd_alpha", "0", "fgd_beta", "0", "fgd_gamma", "0", "fgd_lambda", "0"]
    assert [a[0] for a in coco.suites["coco_variants"]] == ["baseline", "fgd_per_gt", "fgd_attention_none",
                                                            "fgd_attention_student", "fgd_attention_diff"]
    assert all(exp.startswith("exps/coco_shaped/") for suite in coco.suites.values() for _, exp, _ in suite)


def test_a_suite_belongs_to_one_benchmark():
    """suite_arms gives a suite on its benchmark; asked on another, it refuses naming the
    benchmark that has it; an unknown suite is refused with the list."""
    assert benchmark_of_suite("coco_main") == "coco_shaped" and benchmark_of_suite("tuned") == "demo"
    assert suite_arms("demo", "tuned") is BENCHMARKS["demo"].suites["tuned"]
    with pytest.raises(ValueError, match="suite 'coco_main' belongs to the coco_shaped benchmark, not demo: "
                                         "add --benchmark coco_shaped"):
        suite_arms("demo", "coco_main")
    with pytest.raises(ValueError, match="belongs to the demo benchmark"):
        suite_arms("coco_shaped", "main")
    with pytest.raises(ValueError, match="no suite 'nope'"):
        suite_arms("demo", "nope")

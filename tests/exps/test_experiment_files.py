"""Every experiment file in exps/ loads, passes its checks, and the ablations change only what they name."""
import glob
import os

import pytest

from tests.conftest import REPO
from yolox_fgd.exp.build import load_exp

TUNED = {"fgd_feature_norm": True, "fgd_alpha": 2e-5, "fgd_beta": 1e-5, "fgd_gamma": 1e-5, "fgd_lambda": 1e-7,
         "fgd_modules_lr_mult": 100.0}
EXPS = sorted(glob.glob(os.path.join(REPO, "exps", "**", "*.py"), recursive=True))


@pytest.mark.parametrize("path", EXPS, ids=[os.path.relpath(p, REPO) for p in EXPS])
def test_experiment_loads_and_checks(path):
    exp = load_exp(path)
    exp.check_config()


@pytest.mark.parametrize("base,name,changes", [
    ("fgd_yolox_m", "ablations/fgd_yolox_m_h1_per_gt", {"fgd_fg_norm": "per_gt"}),
    ("fgd_yolox_m", "ablations/fgd_yolox_m_h1_one_weight", {"fgd_fg_norm": "per_gt", "fgd_beta": 2e-3}),
    ("fgd_yolox_m", "ablations/fgd_yolox_m_h3_attention_none", {"fgd_attention": "none"}),
    ("fgd_yolox_m", "ablations/fgd_yolox_m_h3_attention_student", {"fgd_attention": "student"}),
    ("fgd_yolox_m", "ablations/fgd_yolox_m_h3_attention_diff", {"fgd_attention": "diff"}),
    ("fgd_yolox_m", "fgd_yolox_m_conv6", {"stem": "conv6"}),
    ("fgd_yolox_m", "fgd_yolox_m_conv3", {"stem": "conv3"}),
    ("yolox_m", "yolox_m_conv6", {"stem": "conv6"}),
    ("yolox_m", "yolox_m_conv3", {"stem": "conv3"}),
    ("yolox_m", "yolox_m_mmdet_recipe", {"ema_decay": 0.9999, "mixup_scale": (0.8, 1.6)}),
    # the recommended configuration (issue 11): the paper's file plus feature normalisation and
    # the four weights x 0.01, their ratios kept
    ("fgd_yolox_m", "fgd_yolox_m_tuned", TUNED),
    ("demo/fgd_demo_nano", "demo/fgd_demo_nano_tuned", TUNED),
    # the benchmark's best (docs/fgd_on_yolox.md, sections 10, 13 and 14): the recommendation plus head output
    # distillation, boxes included, three times as heavy without mosaic
    ("fgd_yolox_m_tuned", "fgd_yolox_m_tuned_kd", {"head_kd_weight": 2.5, "head_kd_box_weight": 7.5,
                                                          "distill_no_aug_factor": 3.0}),
    ("demo/fgd_demo_nano_tuned", "demo/fgd_demo_nano_tuned_kd", {"head_kd_weight": 2.5, "head_kd_box_weight": 7.5,
                                                                 "distill_no_aug_factor": 3.0}),
])
def test_variant_differs_from_its_base_only_where_named(base, name, changes):
    """Each experiment file changes only what its name says (exp_name aside)."""
    base = vars(load_exp(os.path.join(REPO, "exps", f"{base}.py")))
    abl = vars(load_exp(os.path.join(REPO, "exps", f"{name}.py")))
    diff = {k: v for k, v in abl.items() if base.get(k) != v and k != "exp_name"}
    assert diff == changes


def test_yolox_m_and_l_match_yolox_defaults():
    """exps/yolox_m.py and yolox_l.py have YOLOX's own recipe values for their sizes."""
    from yolox.exp import get_exp

    for ours, theirs in (("yolox_m", "yolox-m"), ("yolox_l", "yolox-l")):
        a, b = vars(load_exp(os.path.join(REPO, "exps", f"{ours}.py"))), vars(get_exp(None, theirs))
        assert {k: a[k] for k in b if k != "exp_name"} == {k: v for k, v in b.items() if k != "exp_name"}


def test_coco_experiments_look_for_datasets_coco(monkeypatch):
    """COCO experiments read $YOLOX_DATADIR/COCO, else datasets/COCO in the repository."""
    monkeypatch.delenv("YOLOX_DATADIR", raising=False)
    assert load_exp(os.path.join(REPO, "exps", "yolox_m.py")).resolve_data_dir() == os.path.join(REPO, "datasets", "COCO")
    monkeypatch.setenv("YOLOX_DATADIR", "/data")
    assert load_exp(os.path.join(REPO, "exps", "fgd_yolox_m.py")).resolve_data_dir() == "/data/COCO"


def test_benchmark_students_share_the_committed_initial_weights():
    """The benchmark's students, plain and FGD (paper's and recommended), start from the same
    committed file, which fits their model strictly; the teacher trains from random weights."""
    from yolox_fgd.utils.checkpoint import load_initial_weights

    demo = os.path.join(REPO, "exps", "demo")
    students = [load_exp(os.path.join(demo, f)) for f in ("demo_yolox_nano.py", "fgd_demo_nano.py",
                                                          "fgd_demo_nano_tuned.py", "fgd_demo_nano_tuned_kd.py")]
    init = students[0].init_ckpt
    assert os.path.isfile(init)
    assert all(os.path.samefile(s.init_ckpt, init) for s in students)
    load_initial_weights(students[0].get_model(), init)
    assert load_exp(os.path.join(demo, "demo_yolox_s.py")).init_ckpt is None

"""Every experiment file in exps/ loads, passes its checks, and the ablations change only what they name."""
import glob
import os

import pytest

from tests.conftest import REPO
from yolox_fgd.exp.build import load_exp

EXPS = sorted(glob.glob(os.path.join(REPO, "exps", "**", "*.py"), recursive=True))


@pytest.mark.parametrize("path", EXPS, ids=[os.path.relpath(p, REPO) for p in EXPS])
def test_experiment_loads_and_checks(path):
    exp = load_exp(path)
    exp.check_config()


@pytest.mark.parametrize("name,changes", [
    ("fgd_yolox_m_h1_per_gt", {"fgd_fg_norm": "per_gt"}),
    ("fgd_yolox_m_h1_one_weight", {"fgd_fg_norm": "per_gt", "fgd_beta": 2e-3}),
    ("fgd_yolox_m_h3_attention_none", {"fgd_attention": "none"}),
    ("fgd_yolox_m_h3_attention_student", {"fgd_attention": "student"}),
    ("fgd_yolox_m_h3_attention_diff", {"fgd_attention": "diff"}),
])
def test_ablation_differs_from_fgd_yolox_m_only_where_named(name, changes):
    base = vars(load_exp(os.path.join(REPO, "exps", "fgd_yolox_m.py")))
    abl = vars(load_exp(os.path.join(REPO, "exps", "ablations", f"{name}.py")))
    diff = {k: v for k, v in abl.items() if base.get(k) != v and k != "exp_name"}
    assert diff == changes

"""The experiment files in exps/: every one loads and passes its checks; the paper's files keep
the paper's FGD semantics and the tuned ones add exactly the recommended remedies (issue 11)."""
import glob
import os

import pytest

from tests.conftest import REPO
from yolox_fgd.exp.build import load_exp

FILES = sorted(glob.glob(os.path.join(REPO, "exps", "**", "*.py"), recursive=True))
PAPER = (2e-3, 1e-3, 1e-3, 1e-5)


@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(p, REPO) for p in FILES])
def test_every_experiment_file_loads_and_checks(path):
    exp = load_exp(path)
    exp.check_config()


@pytest.mark.parametrize("paper, tuned", [("exps/fgd_yolox_m.py", "exps/fgd_yolox_m_tuned.py"),
                                          ("exps/demo/fgd_demo_nano.py", "exps/demo/fgd_demo_nano_tuned.py")])
def test_tuned_files_are_the_paper_files_plus_the_remedies(paper, tuned):
    """The paper's file: paper weights, no remedy. The tuned file: the same experiment with feature
    normalisation and the four weights x 0.01 (their ratios kept), nothing else changed."""
    a, b = load_exp(os.path.join(REPO, paper)), load_exp(os.path.join(REPO, tuned))
    weights = lambda e: (e.fgd_alpha, e.fgd_beta, e.fgd_gamma, e.fgd_lambda)  # noqa: E731
    assert weights(a) == PAPER and a.fgd_feature_norm is False
    assert weights(b) == pytest.approx(tuple(w / 100 for w in PAPER)) and b.fgd_feature_norm is True
    same = {k for k in vars(a) if not k.startswith("_")} - {"fgd_feature_norm", "fgd_alpha", "fgd_beta", "fgd_gamma",
                                                             "fgd_lambda", "exp_name"}
    assert {k: getattr(a, k) for k in same} == {k: getattr(b, k) for k in same}

"""The options reference (docs/options.md) cannot drift: every option yolox-fgd adds has an entry
and every entry is an option, and the page is what the code renders."""
import os

from yolox.exp import Exp as YOLOXExp

from tests.conftest import REPO, run_tool
from yolox_fgd.exp.base_exp import Exp
from yolox_fgd.exp.fgd_exp import RENAMED_OPTIONS, FGDExp
from yolox_fgd.exp.options_reference import OPTIONS, SECTIONS, render_markdown


def test_every_added_option_has_an_entry_and_every_entry_is_an_option():
    """The attributes Exp and FGDExp add to YOLOX's Exp are exactly the reference's entries
    outside its first section, which lists YOLOX attributes only; no renamed (old) name is an entry."""
    yolox, base, fgd = vars(YOLOXExp()), vars(Exp()), vars(FGDExp())
    added = {k for k in fgd if k not in yolox}
    changed = {opt.name for opt in SECTIONS[0][2]}
    assert set(OPTIONS) - changed == added
    assert changed <= set(yolox) and base["exp_name"] != yolox["exp_name"]
    assert not set(OPTIONS) & set(RENAMED_OPTIONS)


def test_the_page_is_the_rendered_reference():
    """docs/options.md equals `tools/train.py --help-options`, with every option's default from the
    code (regenerate: python tools/train.py --help-options > docs/options.md)."""
    with open(os.path.join(REPO, "docs", "options.md")) as f:
        page = f.read()
    assert page == render_markdown()
    res = run_tool("train", "--help-options")
    assert res.returncode == 0 and res.stdout == page
    assert "| `distill_no_aug_factor` | float | `1.0` |" in page and "| `fgd_alpha` | float | `0.002` |" in page

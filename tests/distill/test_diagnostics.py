"""FGD diagnostics: per-term gradient norms relative to the detection loss, map statistics, plots."""
import json

import pytest
import torch

from tests.conftest import TINY_FGD_EXP, run_tool
from yolox_fgd.distill.diagnostics import FGDDiagnostics, gradient_norm


def test_gradient_norm_is_linear_and_keeps_the_graph():
    """|grad(2 L)| = 2 |grad L|, parameters a term does not touch count as zero, and the real
    backward still runs afterwards."""
    a, b = torch.nn.Parameter(torch.tensor([3.0, 4.0])), torch.nn.Parameter(torch.tensor([1.0]))
    loss = (a ** 2).sum() / 2  # gradient a = (3, 4), norm 5
    assert gradient_norm(loss, [a, b]) == 5.0
    assert gradient_norm(2 * loss, [a, b]) == 10.0
    assert gradient_norm(loss, [a, b], subset=[1]) == (5.0, 0.0)  # b alone: untouched
    loss.backward()
    assert torch.equal(a.grad, torch.tensor([3.0, 4.0]))


def test_record_gives_each_terms_cosine_with_the_detection_gradient_and_the_sums():
    """A term whose gradient opposes detection's has cosine -1, an orthogonal one 0; the sum of
    the FGD terms' gradients is compared as a whole (norm ratio and cosine)."""
    w = torch.nn.Parameter(torch.tensor([0.0, 0.0]))
    terms = {"detection": w[0] * 3.0, "fg_p3": -w[0], "bg_p3": 2.0 * w[1]}
    r = FGDDiagnostics(None).record(terms, {}, [w], epoch=1, iteration=1, distill_weight=1.0)
    assert r["grad_cos"] == {"fg_p3": -1.0, "bg_p3": 0.0}
    assert abs(r["grad_rel"]["bg_p3"] - 2 / 3) < 1e-12
    assert abs(r["fgd_grad_cos"] + 1 / 5 ** 0.5) < 1e-6 and abs(r["fgd_grad_rel"] - 5 ** 0.5 / 3) < 1e-6


@pytest.mark.parametrize("tap,head_kd,box", [("stems", 0, 0), ("cls_convs", 1, 1)])
def test_trainer_writes_diagnostics_and_the_tool_plots_them(tmp_path, tiny_data, tiny_teacher_ckpt, tap, head_kd, box):
    """A run with distill_diagnostics_interval 2 writes one record every 2 iterations with the ratio
    of every term and level, the map RMS and the attention entropies; plot_diagnostics draws them.
    The same with the head's classification branch as the tap (the teacher's head runs up to it)
    and head output distillation on, boxes included: it is logged, and diagnosed as its own term,
    outside FGD's sum."""
    res = run_tool("train", "-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-expn", "diag", "output_dir", tmp_path,
                   "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "2", "distill_diagnostics_interval", "2", "fgd_tap", tap,
                   "head_kd_weight", head_kd, "head_kd_box_weight", box)
    assert res.returncode == 0, res.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "diag" / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [2, 4]
    for r in records:
        fgd_terms = {f"{t}_{lvl}" for t in ("fg", "bg", "attention", "rela") for lvl in ("p3", "p4", "p5")}
        assert set(r["grad_rel"]) == fgd_terms | ({"head_kd"} if head_kd else set())
        if head_kd:
            assert r["grad_rel"]["head_kd"] > 0 and -1 <= r["grad_cos"]["head_kd"] <= 1
        assert all(v >= 0 for v in r["grad_rel"].values()) and r["detection_grad_norm"] > 0
        assert r["grad_rel"]["fg_p3"] > 0
        assert all(-1 <= c <= 1 for c in r["grad_cos"].values()) and -1 <= r["fgd_grad_cos"] <= 1
        # FGD's gradient is zero outside what it reaches: there the cosine is the whole one rescaled
        scaled = r["fgd_grad_cos"] * r["detection_grad_norm"] / r["detection_grad_norm_reached"]
        assert abs(r["fgd_grad_cos_reached"] - scaled) < 1e-4
        # where FGD reaches (backbone, PAFPN, the head up to the tap) the detection gradient is a part of the whole,
        # so the same FGD gradient weighs more there
        assert 0 < r["detection_grad_norm_reached"] < r["detection_grad_norm"]
        assert r["grad_rel_reached"]["fg_p3"] > r["grad_rel"]["fg_p3"]
        for stats in r["maps"].values():
            assert stats["rms_t"] > 0 and 0 <= stats["entropy_c_s"] <= 6
    assert "FGD diagnostics at iteration 4" in res.stdout + res.stderr
    assert ("head_kd_obj: " in res.stdout + res.stderr) == bool(head_kd)
    assert ("head_kd_box: " in res.stdout + res.stderr) == bool(box)
    plot = run_tool("plot_diagnostics", tmp_path / "diag")
    assert plot.returncode == 0, plot.stderr[-2000:]
    assert "| fg_p3 |" in plot.stdout and (tmp_path / "diag" / "diagnostics.png").stat().st_size > 5000
    assert "| all FGD terms |" in plot.stdout and "all FGD terms where FGD reaches:" in plot.stdout

"""FGDLoss reproduces the official FGD code on the golden cases in tests/losses/golden."""
import glob
import os

import pytest
import torch

from yolox_fgd.losses import FGDLoss

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
CASES = sorted(glob.glob(os.path.join(GOLDEN_DIR, "*.pt")))

TOL = {"float64": (1e-6, 1e-5), "float32": (2e-5, 1e-4)}


def test_golden_cases_present():
    """The golden folder (in the repository, so a clone has it) holds the cases."""
    assert len(CASES) >= 4, f"no golden cases under {GOLDEN_DIR}"


@pytest.mark.parametrize("path", CASES, ids=[os.path.basename(p) for p in CASES])
def test_matches_official(path):
    """Loss, each term and every gradient match the official FeatureLoss within the README tolerances."""
    case = torch.load(path, weights_only=False)
    dtype = getattr(torch, case["dtype"])
    hp = case["hparams"]
    loss_mod = FGDLoss(
        case["student_channels"], case["teacher_channels"], temp=hp["temp"], alpha=hp["alpha"],
        beta=hp["beta"], gamma=hp["gamma"], lambda_=hp["lambda"], ref_size=case["ref_size"],
    ).to(dtype)
    loss_mod.load_state_dict(case["state_dict"], strict=True)
    student = case["student_feat"].clone().to(dtype).requires_grad_(True)
    out = loss_mod(student, case["teacher_feat"].to(dtype), case["targets"], case["input_size"])

    rel_tol, grad_tol = TOL[case["dtype"]]
    for key, ours in (("loss", "loss"), ("fg", "fg"), ("bg", "bg"), ("mask", "attention"), ("rela", "rela")):
        exp = torch.as_tensor(case["expected"][key], dtype=torch.float64)
        got = out[ours].detach().to(torch.float64)
        rel = ((got - exp).abs() / exp.abs()).item()
        assert rel < rel_tol, f"{key}: got {got.item()} expected {exp.item()} (rel {rel:.2e})"

    out["loss"].backward()
    grads = {"student_feat": student.grad}
    grads.update({n: p.grad for n, p in loss_mod.named_parameters()})
    assert set(grads) == set(case["expected_grad"]), "parameter names differ from the official ones"
    for name, exp in case["expected_grad"].items():
        got = grads[name]
        assert got is not None, f"no gradient for {name}"
        exp = exp.to(torch.float64)
        got = got.to(torch.float64)
        if name.startswith("conv_mask_") and name.endswith(".bias"):
            # zero in theory (softmax is shift-invariant): absolute comparison
            assert (got - exp).abs().max().item() < 1e-6 * max(1.0, exp.abs().max().item()) + 1e-8, name
            continue
        rel = ((got - exp).norm() / exp.norm().clamp(min=1e-30)).item()
        assert rel < grad_tol, f"grad of {name}: relative norm error {rel:.2e}"

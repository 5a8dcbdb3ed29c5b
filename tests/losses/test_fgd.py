"""FGDLoss: variants, mixed precision, robustness and the errors it raises."""
import pytest
import torch

from yolox_fgd.losses import FGDLoss, spatial_channel_attention


def rand_case(n=2, cs=8, ct=8, h=8, w=8, boxes=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, cs, h, w, generator=g, dtype=dtype)
    t = torch.randn(n, ct, h, w, generator=g, dtype=dtype)
    tg = torch.zeros(n, 10, 5, dtype=dtype)
    in_h, in_w = h * 8, w * 8
    for i in range(n):
        for j in range(boxes):
            cx, cy = torch.rand(2, generator=g).tolist()
            tg[i, j] = torch.tensor([1.0, cx * in_w, cy * in_h, in_w / 4, in_h / 4])
    return s, t, tg, (in_h, in_w)


def test_terms_by_hand_with_uniform_attention():
    """Constant maps give uniform attention (all ones), so with S - T = 1 everywhere
    fg = sum(M_fg) * C / N and bg = sum(M_bg) * C / N; the attention loss is 0, and the global
    loss is sum(1^2)/N = C*H*W (GcBlocks start as the identity)."""
    C, H, W = 4, 4, 4
    S = torch.full((1, C, H, W), 2.0)
    T = torch.full((1, C, H, W), 1.0)
    tg = torch.zeros(1, 2, 5)
    tg[0, 0] = torch.tensor([0.0, 8.0, 8.0, 16.0, 16.0])  # corners 0..16 -> cells 0..2: value 1/9 on 9 cells
    out = FGDLoss(C, C, ref_size=None)(S, T, tg, (32, 32))
    assert out["fg"].item() == pytest.approx(1.0 * C)
    assert out["bg"].item() == pytest.approx(1.0 * C)
    assert out["attention"].item() == pytest.approx(0.0, abs=1e-6)
    assert out["rela"].item() == pytest.approx(C * H * W)
    expected = 2e-3 * C + 1e-3 * C + 1e-5 * C * H * W
    assert out["loss"].item() == pytest.approx(expected, rel=1e-6)


def test_ref_size_divides_total():
    """At input 320 with ref_size 640 the total is 4x the unnormalised one; terms are unchanged."""
    s, t, tg, size = rand_case(h=10, w=10)
    a = FGDLoss(8, 8, ref_size=None)
    b = FGDLoss(8, 8, ref_size=640)
    b.load_state_dict(a.state_dict())
    oa, ob = a(s, t, tg, (320, 320)), b(s, t, tg, (320, 320))
    assert ob["loss"].item() == pytest.approx(oa["loss"].item() * 4, rel=1e-6)
    assert ob["fg"].item() == pytest.approx(oa["fg"].item(), rel=1e-6)


def _pair(attention):
    ref = FGDLoss(8, 8, ref_size=None)
    mod = FGDLoss(8, 8, ref_size=None, attention=attention)
    mod.load_state_dict(ref.state_dict())
    return mod


def test_attention_none_is_plain_masked_mse():
    """attention='none': fg = sum(M_fg * (S-T)^2) / N exactly."""
    s, t, tg, size = rand_case()
    out = _pair("none")(s, t, tg, size)
    from yolox_fgd.losses import build_masks
    fg_mask, bg_mask = build_masks(tg, s.shape[-2:], size)
    sq = (s - t).pow(2).sum(1)
    assert out["fg"].item() == pytest.approx(((fg_mask * sq).sum() / 2).item(), rel=1e-5)
    assert out["bg"].item() == pytest.approx(((bg_mask * sq).sum() / 2).item(), rel=1e-5)


def test_attention_student_uses_student_weights_and_gradients_flow():
    """attention='student' weighs by A_S(S)*A_C(S): scaling the teacher's activity pattern does not
    change the weights; gradients reach the student through the weights too (differs from the
    gradient with detached weights)."""
    s, t, tg, size = rand_case()
    mod = _pair("student")
    A_S, A_C = spatial_channel_attention(s, 0.5)
    from yolox_fgd.losses import build_masks
    fg_mask, _ = build_masks(tg, s.shape[-2:], size)
    expected = (fg_mask * torch.einsum("nchw,nc->nhw", (s - t) ** 2, A_C) * A_S).sum() / 2
    sg = s.clone().requires_grad_(True)
    out = mod(sg, t, tg, size)
    assert out["fg"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["fg"].backward()
    sd = s.clone().requires_grad_(True)
    A_S, A_C = (x.detach() for x in spatial_channel_attention(sd, 0.5))
    ((fg_mask * torch.einsum("nchw,nc->nhw", (sd - t) ** 2, A_C) * A_S).sum() / 2).backward()
    assert not torch.allclose(sg.grad, sd.grad)


def test_attention_teacher_is_default_and_differs_from_student():
    s, t, tg, size = rand_case()
    assert FGDLoss(8, 8).attention == "teacher"
    assert _pair("teacher")(s, t, tg, size)["fg"].item() != pytest.approx(_pair("student")(s, t, tg, size)["fg"].item())


def test_attention_diff_vanishes_when_attention_matches():
    """attention='diff' weighs by |A_S(T)-A_S(S)|*|A_C(T)-A_C(S)|: S = -T has the same |x| and so
    the same attention as T, hence fg = bg = 0 although S != T; otherwise both are positive."""
    s, t, tg, size = rand_case()
    out = _pair("diff")(-t, t, tg, size)
    assert out["fg"].item() == 0.0 and out["bg"].item() == 0.0
    out2 = _pair("diff")(s, t, tg, size)
    assert out2["fg"].item() > 0 and out2["bg"].item() > 0


def test_per_gt_scales_foreground_by_box_count():
    """fg_norm='per_gt' divides each image's fg by its number of boxes: with one image of 3
    disjoint boxes fg_paper = 3 * fg_per_gt."""
    s, t, _, size = rand_case(n=1, h=16, w=16)
    tg = torch.zeros(1, 5, 5)
    tg[0, 0] = torch.tensor([0, 12, 12, 8, 8])
    tg[0, 1] = torch.tensor([0, 60, 60, 8, 8])
    tg[0, 2] = torch.tensor([0, 100, 20, 8, 8])
    a = FGDLoss(8, 8, ref_size=None)
    b = FGDLoss(8, 8, ref_size=None, fg_norm="per_gt")
    b.load_state_dict(a.state_dict())
    assert a(s, t, tg, size)["fg"].item() == pytest.approx(3 * b(s, t, tg, size)["fg"].item(), rel=1e-5)


def test_gradients_reach_student_and_all_loss_parameters():
    """Backward gives finite gradients to the student map, align conv and both GcBlocks once the
    last GcBlock conv is non-zero; the teacher map gets none."""
    s, t, tg, size = rand_case(cs=6, ct=8)
    mod = FGDLoss(6, 8)
    with torch.no_grad():
        for seq in (mod.channel_add_conv_s, mod.channel_add_conv_t):
            seq[3].weight.normal_()
    s.requires_grad_(True)
    mod(s, t, tg, size)["loss"].backward()
    assert t.grad is None
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    for name, p in mod.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if not name.endswith("conv_mask_s.bias") and not name.endswith("conv_mask_t.bias"):
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_maps_stay_finite(dtype):
    """fp16/bf16 maps of realistic magnitude (neck outputs up to ~30 after SiLU) give a finite
    float32 loss close to the float32 computation on the same rounded values."""
    s, t, tg, size = rand_case(cs=16, ct=16, h=20, w=20)
    s16, t16 = (s * 10).to(dtype), (t * 10).to(dtype)
    mod = FGDLoss(16, 16)
    out = mod(s16, t16, tg.to(dtype), size)
    ref = mod(s16.float(), t16.float(), tg.to(dtype).float(), size)
    assert out["loss"].dtype == torch.float32
    for k in ("loss", "fg", "bg", "attention", "rela"):
        assert torch.isfinite(out[k]), k
        assert out[k].item() == pytest.approx(ref[k].item(), rel=1e-5)


@pytest.mark.parametrize("name,rows", [
    ("no boxes", []),
    ("degenerate w=0 and h=0", [[1, 20, 20, 0, 10], [1, 40, 40, 10, 0], [1, 30, 30, 0, 0]]),
    ("partly outside", [[1, -5, 10, 30, 30], [1, 60, 62, 20, 20]]),
    ("whole image", [[1, 32, 32, 64, 64]]),
])
def test_robust_inputs_give_finite_loss(name, rows):
    s, t, _, _ = rand_case(n=1, h=8, w=8)
    tg = torch.zeros(1, 4, 5)
    for j, r in enumerate(rows):
        tg[0, j] = torch.tensor(r, dtype=torch.float32)
    out = FGDLoss(8, 8)(s.requires_grad_(True), t, tg, (64, 64))
    out["loss"].backward()
    assert all(torch.isfinite(v) for v in out.values()), name
    assert torch.isfinite(s.grad).all()


def test_one_by_one_map():
    s, t, tg, _ = rand_case(n=2, h=1, w=1)
    out = FGDLoss(8, 8)(s, t, tg, (32, 32))
    assert all(torch.isfinite(v) for v in out.values())


def test_shape_errors_name_both_shapes():
    mod = FGDLoss(8, 16)
    tg = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match=r"student \(2, 8, 4, 4\), teacher \(2, 16, 8, 8\)"):
        mod(torch.zeros(2, 8, 4, 4), torch.zeros(2, 16, 8, 8), tg, (64, 64))
    with pytest.raises(ValueError, match=r"8 student and 16 teacher channels.*\(2, 4, 4, 4\).*\(2, 16, 4, 4\)"):
        mod(torch.zeros(2, 4, 4, 4), torch.zeros(2, 16, 4, 4), tg, (64, 64))
    with pytest.raises(ValueError, match="attention"):
        FGDLoss(8, 8, attention="both")


@pytest.mark.parametrize("attention", ["teacher", "student", "diff", "none"])
@pytest.mark.parametrize("fg_norm,feature_norm,channel_ref", [("paper", False, None), ("per_gt", True, 16)])
def test_forward_and_backward_make_no_host_sync(attention, fg_norm, feature_norm, channel_ref):
    """Checked at run time (tests/sync_guard.py): building the masks, the attention, the global
    context and the four terms, and the backward call, make no host-synchronising call (item,
    tolist, bool(tensor), nonzero, boolean-mask indexing, ...), with align conv, padding rows,
    degenerate boxes and every variant. The guard itself is shown to fire on such calls."""
    from tests.sync_guard import HostSyncGuard

    s, t, tg, size = rand_case(n=3, cs=6, ct=8, h=7, w=9, boxes=4)
    tg[1, 5] = torch.tensor([2.0, 10.0, 10.0, 0.0, 5.0])  # degenerate box
    tg[2] = 0  # an image without boxes
    loss = FGDLoss(6, 8, ref_size=64, attention=attention, fg_norm=fg_norm, feature_norm=feature_norm,
                   channel_ref=channel_ref)
    s.requires_grad_(True)
    with HostSyncGuard() as guard:
        out = loss(s, t, tg, size)
        out["loss"].backward()
    assert guard.calls > 50 and s.grad is not None
    for bad in (lambda x: x.sum().item(), lambda x: bool(x.sum() > 0), lambda x: x[x > 0], lambda x: x.nonzero()):
        with pytest.raises(AssertionError, match="host synchronisation"), HostSyncGuard():
            bad(torch.randn(4))


def test_feature_norm_makes_the_loss_blind_to_per_channel_affine_changes():
    """feature_norm=True (PKD): each channel is standardised over (N, H, W) before every term,
    so scaling and shifting the teacher's channels (a_c * T + b_c, a_c > 0) changes no term;
    without it the terms change."""
    s, t, tg, size = rand_case(h=10, w=10)
    a = torch.linspace(0.2, 5.0, 8).reshape(1, 8, 1, 1)
    b = torch.linspace(-3.0, 3.0, 8).reshape(1, 8, 1, 1)
    norm = FGDLoss(8, 8, ref_size=None, feature_norm=True)
    plain = FGDLoss(8, 8, ref_size=None)
    plain.load_state_dict(norm.state_dict())
    x, y = norm(s, t, tg, size), norm(s, a * t + b, tg, size)
    for key in ("fg", "bg", "attention", "rela"):
        assert y[key].item() == pytest.approx(x[key].item(), rel=1e-4), key
    assert plain(s, a * t + b, tg, size)["fg"].item() != pytest.approx(plain(s, t, tg, size)["fg"].item(), rel=1e-2)


def test_standardize_channels_gives_zero_mean_unit_variance():
    from yolox_fgd.losses.fgd import standardize_channels

    x = torch.randn(3, 5, 4, 6) * torch.arange(1.0, 6.0).reshape(1, 5, 1, 1) + 7
    z = standardize_channels(x)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(5), atol=1e-5)
    assert torch.allclose(z.var(dim=(0, 2, 3), unbiased=False), torch.ones(5), atol=1e-4)


def test_channel_ref_weighs_channel_sums_as_ref_channels():
    """channel_ref=R multiplies the channel sums by R / C. The hand case of
    test_terms_by_hand_with_uniform_attention (fg = bg = C, rela = C*H*W) with C = 4 and R = 16
    gives fg = bg = 16 and rela = 16*H*W; the attention loss is 0 in both."""
    C, H, W = 4, 4, 4
    S = torch.full((1, C, H, W), 2.0)
    T = torch.full((1, C, H, W), 1.0)
    tg = torch.zeros(1, 2, 5)
    tg[0, 0] = torch.tensor([0.0, 8.0, 8.0, 16.0, 16.0])
    out = FGDLoss(C, C, ref_size=None, channel_ref=16)(S, T, tg, (32, 32))
    assert out["fg"].item() == pytest.approx(16.0)
    assert out["bg"].item() == pytest.approx(16.0)
    assert out["rela"].item() == pytest.approx(16.0 * H * W)
    s, t, tg, size = rand_case()
    ref = FGDLoss(8, 8, ref_size=None)
    mod = FGDLoss(8, 8, ref_size=None, channel_ref=8)
    mod.load_state_dict(ref.state_dict())
    assert mod(s, t, tg, size)["loss"].item() == pytest.approx(ref(s, t, tg, size)["loss"].item(), rel=1e-6)
    with pytest.raises(ValueError, match="channel_ref"):
        FGDLoss(8, 8, channel_ref=0)


def test_weighted_terms_sum_to_the_loss():
    """``weighted_<term>`` is each term as it enters ``loss``: weight and multiscale normalisation."""
    s, t, tg, _ = rand_case(h=10, w=10)
    out = FGDLoss(8, 8, ref_size=640)(s, t, tg, (320, 320))
    total = sum(out[f"weighted_{k}"] for k in ("fg", "bg", "attention", "rela"))
    assert total.item() == pytest.approx(out["loss"].item(), rel=1e-6)
    assert out["weighted_fg"].item() == pytest.approx(2e-3 * 4 * out["fg"].item(), rel=1e-6)


def test_map_statistics_entropy_bounds():
    """Channel-attention entropy is log C for a map with equal channel means and near 0 when one
    channel dominates; RMS is that of the compared maps."""
    import math

    loss = FGDLoss(8, 8, ref_size=None)
    flat = torch.ones(2, 8, 4, 4)
    peaked = torch.zeros(2, 8, 4, 4)
    peaked[:, 3] = 50.0
    stats = loss.map_statistics(peaked, flat)
    assert stats["entropy_c_t"].item() == pytest.approx(math.log(8), rel=1e-5)
    assert stats["entropy_c_s"].item() < 1e-3
    assert stats["rms_t"].item() == pytest.approx(1.0)

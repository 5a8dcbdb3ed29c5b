"""Cross-head distillation (CrossKD) on real YOLOX models: the teacher's head run on the
student's branch maps, the statistics alignment, and where the gradient goes."""
import re

import torch

from tests.distill.test_features import tiny_yolox
from yolox_fgd.distill.cross_head import BranchTap, CrossHead, align_to_statistics, branch_channels
from yolox_fgd.distill.features import head_logits
from yolox_fgd.losses.head_kd import HeadKDLoss


def test_align_to_statistics_gives_the_reference_channel_moments():
    """Each channel of the result has the reference's mean and (biased) standard deviation over
    (N, H, W), whatever the input's scale and offset."""
    x = torch.randn(3, 4, 5, 6) * 7 + 2
    ref = torch.randn(3, 4, 5, 6) * torch.tensor([0.5, 1, 2, 4]).view(1, 4, 1, 1) + torch.arange(4.0).view(1, 4, 1, 1)
    out = align_to_statistics(x, ref)
    dims = (0, 2, 3)
    assert torch.allclose(out.mean(dims), ref.mean(dims), atol=1e-5)
    assert torch.allclose(out.std(dims, unbiased=False), ref.std(dims, unbiased=False), rtol=1e-4)


def test_head_logits_branch_maps_are_the_first_branch_convs_outputs():
    """``head_logits(..., branch_maps)`` gives the same outputs as without, and the maps it keeps
    are what ``head.cls_convs[i][0]`` / ``head.reg_convs[i][0]`` return on the stem's output."""
    model = tiny_yolox().eval()
    with torch.no_grad():
        fpn = model.backbone(torch.rand(2, 3, 64, 64) * 255)
        maps = {}
        got, plain = head_logits(model, fpn, maps), head_logits(model, fpn)
        for i, lvl in enumerate(("p3", "p4", "p5")):
            assert all(torch.equal(a, b) for a, b in zip(got[lvl], plain[lvl]))
            x = model.head.stems[i](fpn[i])
            assert torch.equal(maps[lvl][0], model.head.cls_convs[i][0](x))
            assert torch.equal(maps[lvl][1], model.head.reg_convs[i][0](x))


def test_the_teacher_crossed_with_itself_gives_its_own_predictions():
    """With the teacher's own branch maps as the 'student' (same width: no projection), the
    cross-head predictions are the teacher's predictions: the alignment to its own statistics is
    the identity and the rest of the head is the teacher's."""
    teacher = tiny_yolox(0.25).eval()
    cross = CrossHead(branch_channels(teacher), branch_channels(teacher))
    assert len(cross.proj) == 0
    with torch.no_grad():
        maps = {}
        own = head_logits(teacher, teacher.backbone(torch.rand(2, 3, 64, 64) * 255), maps)
        crossed = cross(maps, maps, teacher.head)
    for lvl in own:
        for a, b in zip(crossed[lvl], own[lvl]):
            assert torch.allclose(a, b, atol=1e-3, rtol=1e-3)


def with_batch_statistics(model, x):
    """``model`` in eval mode with BatchNorm running statistics measured on ``x`` (a randomly
    initialised YOLOX in eval mode has maps that are nearly constant over the batch)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        head_logits(model, model.backbone(x))
    return model.eval()


def test_gradient_reaches_the_student_through_the_frozen_teacher_head():
    """A narrower student: one 1x1 projection per level and branch to the teacher's channels;
    the loss of the cross-head predictions against the teacher's trains the projections and the
    student up to its first branch convs (backbone, stems, cls_convs[i][0], reg_convs[i][0]), not
    the student's own predictions or second convs, and leaves the teacher without gradients."""
    x = torch.rand(2, 3, 64, 64) * 255
    student, teacher = with_batch_statistics(tiny_yolox(0.125), x), with_batch_statistics(tiny_yolox(0.25), x)
    for p in teacher.parameters():
        p.requires_grad_(False)
    s_ch, t_ch = branch_channels(student), branch_channels(teacher)
    assert s_ch == {"p3": 32, "p4": 32, "p5": 32} and t_ch == {"p3": 64, "p4": 64, "p5": 64}
    cross = CrossHead(s_ch, t_ch)
    assert sorted(cross.proj) == sorted(f"{b}_{lvl}" for b in ("cls", "reg") for lvl in ("p3", "p4", "p5"))
    tap = BranchTap(student)
    with torch.no_grad():
        t_maps = {}
        t_out = head_logits(teacher, teacher.backbone(x), t_maps)
    student(x)
    crossed = cross(tap.pop(), t_maps, teacher.head)
    for lvl in crossed:
        assert [tuple(a.shape) for a in crossed[lvl]] == [tuple(b.shape) for b in t_out[lvl]]
    loss = HeadKDLoss(box_weight=1.0)(crossed, t_out)["loss"]
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cross.parameters())
    grads = {n: p.grad for n, p in student.named_parameters()}
    first_convs, second_convs = re.compile(r"head\.(cls|reg)_convs\.\d\.0\."), re.compile(r"head\.(cls|reg)_convs\.\d\.1\.")
    reached = [n for n in grads if n.startswith(("backbone.", "head.stems.")) or first_convs.match(n)]
    untouched = [n for n in grads if n.startswith(("head.cls_preds", "head.reg_preds", "head.obj_preds"))
                 or second_convs.match(n)]
    assert len(reached) > 100 and len(untouched) == 2 * 3 * 3 + 3 * 3 * 2  # second convs (conv, bn weight, bias), preds (weight, bias)
    assert all(grads[n] is not None for n in reached) and all(grads[n] is None for n in untouched)
    assert all(p.grad is None for p in teacher.parameters())
    tap.remove()

"""Head output distillation: binary KL per output, classes and boxes (GIoU loss) weighted by the
teacher's objectness, normalised by the teacher's expected object count; zero for a student
equal to its teacher."""
import pytest
import torch
import torch.nn.functional as F

from yolox_fgd.losses.head_kd import HeadKDLoss, binary_kl, cell_giou


def test_binary_kl_is_zero_where_logits_agree_and_has_the_cross_entropys_gradient():
    t = torch.tensor([-3.0, 0.0, 2.0])
    assert torch.allclose(binary_kl(t.clone(), t), torch.zeros(3), atol=1e-6)
    s = torch.tensor([1.0, -1.0, 0.5], requires_grad=True)
    kl = binary_kl(s, t)
    assert (kl > 0).all()
    kl.sum().backward()
    ref = s.detach().clone().requires_grad_(True)
    F.binary_cross_entropy_with_logits(ref, torch.sigmoid(t), reduction="sum").backward()
    assert torch.allclose(s.grad, ref.grad)
    # with a temperature: T^2 times the KL of the softened probabilities, still 0 where they agree
    assert torch.allclose(binary_kl(s.detach(), t, 2.0), 4 * binary_kl(s.detach() / 2, t / 2))
    assert torch.allclose(binary_kl(t.clone(), t, 3.0), torch.zeros(3), atol=1e-6)


def test_classes_count_only_where_the_teacher_sees_an_object_and_the_sum_is_per_expected_object():
    """One level, two positions: the teacher is sure of an object at the first and of none at the
    second (objectness logits +20 / -20). A class disagreement at the second position costs
    nothing; at the first it costs its KL; both terms are divided by P = 1 (the expected count)."""
    t_obj = torch.tensor([20.0, -20.0]).view(1, 1, 1, 2)
    t_cls = torch.zeros(1, 3, 1, 2)
    s_obj = t_obj.clone()
    s_cls = t_cls.clone()
    s_cls[0, 1, 0, 1] = 5.0  # wrong where the teacher sees nothing
    loss = HeadKDLoss()({"p3": (s_obj, s_cls)}, {"p3": (t_obj, t_cls)})
    assert float(loss["cls"]) < 1e-6 and float(loss["obj"]) < 1e-6
    s_cls[0, 1, 0, 0] = 5.0  # wrong where the teacher sees an object
    loss = HeadKDLoss()({"p3": (s_obj, s_cls)}, {"p3": (t_obj, t_cls)})
    expected = float(binary_kl(torch.tensor(5.0), torch.tensor(0.0)))
    assert abs(float(loss["cls"]) - expected) < 1e-4
    # twice the objects (a second, identical level): twice the sum, twice P, the same loss
    both = HeadKDLoss()({"p3": (s_obj, s_cls), "p4": (s_obj, s_cls)}, {"p3": (t_obj, t_cls), "p4": (t_obj, t_cls)})
    assert abs(float(both["cls"]) - expected) < 1e-4


def test_shapes_that_do_not_pair_up_are_named():
    with pytest.raises(ValueError, match="head outputs at p4 do not pair up"):
        HeadKDLoss()({"p4": (torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 2, 2))},
                     {"p4": (torch.zeros(1, 1, 2, 2), torch.zeros(1, 4, 2, 2))})
    with pytest.raises(ValueError, match="box distillation needs \\(obj, cls, reg\\) from both models"):
        HeadKDLoss(box_weight=1)({"p4": (torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 2, 2))},
                                 {"p4": (torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2))})
    with pytest.raises(ValueError, match="box_weight must be >= 0"):
        HeadKDLoss(box_weight=-1)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        HeadKDLoss(temperature=0)


def to_reg(boxes):
    """(K, 4) boxes as (cx, cy, w, h) in cells -> (1, 4, 1, K) YOLOX regression outputs."""
    reg = torch.cat([boxes[:, :2], boxes[:, 2:].log()], 1)
    return reg.t().reshape(1, 4, 1, -1)


def test_cell_giou_is_torchvisions_giou_of_the_decoded_boxes():
    """The GIoU computed from raw regressions in cell units equals torchvision's GIoU of the boxes
    YOLOX decodes at any grid cell and stride (it is invariant to both); 1 for the same box."""
    from torchvision.ops import box_convert, generalized_box_iou

    gen = torch.Generator().manual_seed(0)
    a = torch.cat([torch.randn(6, 2, generator=gen), torch.rand(6, 2, generator=gen) * 3 + 0.2], 1)
    b = torch.cat([torch.randn(6, 2, generator=gen), torch.rand(6, 2, generator=gen) * 3 + 0.2], 1)
    got = cell_giou(to_reg(a), to_reg(b)).flatten()
    grid, stride = torch.tensor([7.0, 3.0]), 16.0
    decode = lambda x: box_convert(torch.cat([(x[:, :2] + grid) * stride, x[:, 2:] * stride], 1), "cxcywh", "xyxy")  # noqa: E731
    ref = generalized_box_iou(decode(a), decode(b)).diagonal()
    assert torch.allclose(got, ref, atol=1e-5)
    assert torch.allclose(cell_giou(to_reg(a), to_reg(a)).flatten(), torch.ones(6), atol=1e-6)
    assert torch.isfinite(cell_giou(torch.full((1, 4, 1, 1), 1e4), to_reg(a[:1]))).all()  # diverged output stays finite


def test_boxes_count_where_the_teacher_sees_an_object_and_the_gradient_reaches_the_regression():
    """Box distillation is off (not computed) at box_weight 0; on, a box disagreement costs
    1 - GIoU where the teacher sees an object and nothing where it does not; loss = obj + cls +
    box_weight * box."""
    t_obj = torch.tensor([20.0, -20.0]).view(1, 1, 1, 2)
    t_cls = torch.zeros(1, 3, 1, 2)
    t_reg = to_reg(torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]]))
    s_reg = to_reg(torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 4.0, 1.0]])).requires_grad_(True)
    student, teacher = {"p3": (t_obj.clone(), t_cls.clone(), s_reg)}, {"p3": (t_obj, t_cls, t_reg)}
    assert "box" not in HeadKDLoss()(student, teacher)
    loss = HeadKDLoss(box_weight=2)(student, teacher)
    assert float(loss["box"].detach()) < 1e-5  # wrong only where the teacher sees nothing
    s_reg2 = to_reg(torch.tensor([[0.5, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])).requires_grad_(True)
    loss = HeadKDLoss(box_weight=2)({"p3": (t_obj.clone(), t_cls.clone(), s_reg2)}, teacher)
    expected = 1 - float(cell_giou(s_reg2.detach()[..., :1], t_reg[..., :1]))
    assert expected > 0.1 and abs(float(loss["box"].detach()) - expected) < 1e-4
    assert abs(float((loss["loss"] - loss["obj"] - loss["cls"] - 2 * loss["box"]).detach())) < 1e-6
    loss["loss"].backward()
    assert s_reg2.grad[0, 0, 0, 0] > 0 and s_reg2.grad[..., 1].abs().max() < 1e-6  # pulled back to x = 0


def test_score_weighting_counts_a_box_by_the_teachers_score_and_divides_by_the_scores_sum():
    """box_weighting "score": two positions where the teacher is sure of an object (objectness
    +20), sure of its class at the first (logit +20) and unsure at the second (all class logits
    0: score 0.5). The same box error at either position costs 1 - GIoU under "objectness"; under
    "score" it counts by its share of the scores' sum: 1/1.5 at the first, 0.5/1.5 at the second.
    An unknown weighting is refused by name."""
    t_obj = torch.tensor([20.0, 20.0]).view(1, 1, 1, 2)
    t_cls = torch.zeros(1, 3, 1, 2)
    t_cls[0, 0, 0, 0] = 20.0
    box = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    teacher = {"p3": (t_obj, t_cls, to_reg(box))}
    for where, share in ((0, 1 / 1.5), (1, 0.5 / 1.5)):
        wrong = box.clone()
        wrong[where, 0] = 0.5
        student = {"p3": (t_obj.clone(), t_cls.clone(), to_reg(wrong))}
        err = 1 - float(cell_giou(to_reg(wrong[where:where + 1]), to_reg(box[:1])))
        by_obj = HeadKDLoss(box_weight=1)(student, teacher)["box"]
        by_score = HeadKDLoss(box_weight=1, box_weighting="score")(student, teacher)["box"]
        assert err > 0.1 and abs(float(by_obj) - err / 2) < 1e-4
        assert abs(float(by_score) - err * share) < 1e-4
    with pytest.raises(ValueError, match="box_weighting must be one of \\('objectness', 'score'\\), got 'iou'"):
        HeadKDLoss(box_weight=1, box_weighting="iou")


def test_a_student_equal_to_its_teacher_has_nothing_to_learn():
    """The student's logits captured by HeadOutputTap during its own forward equal head_logits
    computed from its backbone, and against themselves the loss is zero; another model's
    logits give a positive loss whose gradient reaches both branches' predictions."""
    from tests.distill.test_features import tiny_yolox
    from yolox_fgd.distill.features import HeadOutputTap, head_logits

    model = tiny_yolox().eval()
    tap = HeadOutputTap(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model(x)
        captured = tap.pop()
        ref = head_logits(model, model.backbone(x))
    for lvl in ("p3", "p4", "p5"):
        assert all(torch.equal(c, r) for c, r in zip(captured[lvl], ref[lvl])) and len(ref[lvl]) == 3
        assert captured[lvl][1].shape[1] == model.head.num_classes and captured[lvl][2].shape[1] == 4
    loss = HeadKDLoss(box_weight=1)(captured, ref)
    assert float(loss["obj"]) < 1e-5 and float(loss["cls"]) < 1e-5 and float(loss["box"]) < 1e-5
    other = tiny_yolox().eval()
    with torch.no_grad():
        for p in other.head.parameters():
            p.add_(0.1 * torch.randn_like(p))
        other_logits = head_logits(other, other.backbone(x))
    model.train()
    model(x, torch.zeros(2, 1, 5))
    loss = HeadKDLoss()(tap.pop(), other_logits)
    assert float(loss["obj"].detach()) > 0 and float(loss["cls"].detach()) > 0
    (loss["obj"] + loss["cls"]).backward()
    assert model.head.obj_preds[0].weight.grad.abs().sum() > 0 and model.head.cls_preds[2].weight.grad.abs().sum() > 0
    assert model.head.reg_preds[0].weight.grad is None  # boxes off: the regression is not distilled
    model(x, torch.zeros(2, 1, 5))
    HeadKDLoss(box_weight=1)(tap.pop(), other_logits)["box"].backward()
    assert model.head.reg_preds[0].weight.grad.abs().sum() > 0
    tap.remove()

"""Head output distillation: binary KL per output, classes weighted by the teacher's objectness,
normalised by the teacher's expected object count; zero for a student equal to its teacher."""
import pytest
import torch
import torch.nn.functional as F

from yolox_fgd.losses.head_kd import HeadKDLoss, binary_kl


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
        assert torch.equal(captured[lvl][0], ref[lvl][0]) and torch.equal(captured[lvl][1], ref[lvl][1])
        assert captured[lvl][1].shape[1] == model.head.num_classes
    loss = HeadKDLoss()(captured, ref)
    assert float(loss["obj"]) < 1e-5 and float(loss["cls"]) < 1e-5
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
    assert model.head.reg_preds[0].weight.grad is None
    tap.remove()

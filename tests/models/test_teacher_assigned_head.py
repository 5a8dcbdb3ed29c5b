"""Label assignment from the teacher's predictions (LAD): the teacher's outputs laid out as
YOLOX's loss reads them; with the student's own predictions as the 'teacher' the loss is YOLOX's;
with another model's, the positives are the ones that model's SimOTA picks."""
import pytest
import torch

from tests.distill.test_features import tiny_yolox
from yolox_fgd.distill.features import LEVEL_STRIDES as STRIDES, head_logits
from yolox_fgd.models.teacher_assigned_head import TeacherAssignedHead, flatten_head_outputs



def assigned_copy(model):
    """The same model built by the FGD experiment with teacher_assignment on (its head a
    TeacherAssignedHead), with the same weights."""
    from tests.conftest import TINY_FGD_EXP
    from yolox_fgd.exp.build import load_exp

    exp = load_exp(TINY_FGD_EXP)
    exp.width, exp.teacher_assignment = 0.125, True
    assigned = exp.get_model()
    assert type(assigned.head) is TeacherAssignedHead
    assigned.load_state_dict(model.state_dict())
    return assigned


def targets():
    t = torch.zeros(2, 4, 5)
    t[0, 0] = torch.tensor([1, 20.0, 24.0, 16.0, 20.0])
    t[0, 1] = torch.tensor([0, 44.0, 40.0, 24.0, 12.0])
    t[1, 0] = torch.tensor([2, 32.0, 32.0, 40.0, 40.0])
    return t


def test_flattened_outputs_are_yolox_decoded_predictions():
    """flatten_head_outputs of head_logits, with sigmoids on objectness and classes, equals the
    YOLOX model's own decoded inference output (same anchors, same order, same boxes)."""
    model = tiny_yolox().eval()
    x = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        flat = flatten_head_outputs(head_logits(model, model.backbone(x)), STRIDES)
        ref = model(x)
    assert flat.shape == ref.shape
    assert torch.allclose(flat[..., :4], ref[..., :4], atol=1e-4)
    assert torch.allclose(flat[..., 4:].sigmoid(), ref[..., 4:], atol=1e-6)


def test_own_predictions_as_the_teacher_give_yoloxs_loss_and_another_model_moves_the_positives():
    torch.manual_seed(0)
    student = tiny_yolox().train()
    assigned = assigned_copy(student).train()
    x, t = torch.rand(2, 3, 64, 64) * 255, targets()
    plain = student(x, t)
    with torch.no_grad():
        own = flatten_head_outputs(head_logits(student, student.backbone(x)), STRIDES)
    assigned.head.set_assignment_predictions(own)
    same = assigned(x, t)
    for key in ("total_loss", "iou_loss", "conf_loss", "cls_loss", "num_fg"):
        assert torch.allclose(torch.as_tensor(same[key]), torch.as_tensor(plain[key]), rtol=1e-5), key
    # the predictions are used once: the next forward assigns from the student's own again
    again = assigned(x, t)
    assert torch.allclose(again["total_loss"], plain["total_loss"], rtol=1e-5)
    # a teacher whose boxes sit at other anchors (the student's boxes, anchors shuffled) makes
    # SimOTA's IoU costs and dynamic k differ, and so the positives and the loss
    teacher = own.clone()
    teacher[..., :4] = own[:, torch.randperm(own.shape[1], generator=torch.Generator().manual_seed(0)), :4]
    other = assigned(x, t)  # no predictions set: YOLOX's own assignment
    assigned.head.set_assignment_predictions(teacher)
    moved = assigned(x, t)
    assert not torch.allclose(moved["total_loss"], other["total_loss"])
    moved["total_loss"].backward()  # the loss still trains the student
    assert assigned.head.cls_preds[0].weight.grad is not None


def test_predictions_of_another_size_are_refused_by_name():
    assigned = assigned_copy(tiny_yolox()).train()
    assigned.head.set_assignment_predictions(torch.zeros(2, 5, 8))
    with pytest.raises(ValueError, match="assignment predictions of shape \\(2, 5, 8\\) do not match"):
        assigned(torch.rand(2, 3, 64, 64), targets())

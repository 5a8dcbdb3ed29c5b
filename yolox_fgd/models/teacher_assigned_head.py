"""YOLOX head whose SimOTA label assignment reads a teacher's predictions (``exp.teacher_assignment``).

Label Assignment Distillation (LAD; Nguyen et al., "Improving Object Detection by Label
Assignment Distillation", WACV 2022): the student's detection loss stays as it is, but which
anchors are positives, and for which ground-truth box, is decided from the teacher's predictions
instead of the student's own. SimOTA's costs (classification and IoU of each candidate's
prediction with each box) and its dynamic k (the sum of the 10 best IoUs) are computed from the
teacher's objectness, classes and boxes; a young student's poor predictions otherwise decide its
own targets.

What stays the student's: every loss term, and the IoU in YOLOX's IoU-aware class target
(``one_hot * IoU``) is the IoU of the student's own predicted box with its assigned box, as
YOLOX's loss defines it. Same parameters and forward as ``YOLOXHead``: checkpoints are YOLOX's.
"""
import contextlib

import torch
from yolox.models import YOLOXHead
from yolox.utils import bboxes_iou

__all__ = ["TeacherAssignedHead", "flatten_head_outputs"]


def flatten_head_outputs(outputs, strides):
    """Per-level raw head outputs as YOLOX's training forward lays them out for its loss.

    Args:
        outputs: ``{level: (obj (N, 1, H, W), cls (N, C, H, W), reg (N, 4, H, W))}`` in the head's
            level order (``p3, p4, p5``); ``reg`` raw (centre offset and log size in cells).
        strides: ``{level: stride}`` in pixels.

    Returns:
        ``(N, A, 5 + C)``: boxes ``(cx, cy, w, h)`` decoded in input pixels, the objectness logit,
        the class logits; anchors level by level, row-major within a level (YOLOX's order).
    """
    flat = []
    for lvl, (obj, cls, reg) in outputs.items():
        s = strides[lvl]
        h, w = reg.shape[-2:]
        reg = reg.float()
        gy, gx = torch.meshgrid(torch.arange(h, device=reg.device, dtype=torch.float32),
                                torch.arange(w, device=reg.device, dtype=torch.float32), indexing="ij")
        boxes = torch.stack([(reg[:, 0] + gx) * s, (reg[:, 1] + gy) * s, reg[:, 2].exp() * s, reg[:, 3].exp() * s], 1)
        flat.append(torch.cat([boxes, obj.float(), cls.float()], 1).flatten(2).transpose(1, 2))
    return torch.cat(flat, 1)


class TeacherAssignedHead(YOLOXHead):
    """``YOLOXHead`` whose label assignment uses the predictions given by
    :meth:`set_assignment_predictions` for the next training forward (then forgotten); without
    them it is YOLOX's head."""

    _assignment_preds = None

    def set_assignment_predictions(self, preds):
        """``preds``: ``(N, A, 5 + C)`` from :func:`flatten_head_outputs` (the teacher's, for the
        batch of the next forward), or ``None``."""
        self._assignment_preds = preds

    @contextlib.contextmanager
    def assignment_from(self, preds):
        """The training forward inside this block assigns labels from ``preds``
        (:meth:`set_assignment_predictions`); nothing of them stays after it."""
        self.set_assignment_predictions(preds)
        try:
            yield self
        finally:
            self._assignment_preds = None

    def get_losses(self, imgs, x_shifts, y_shifts, expanded_strides, labels, outputs, origin_preds, dtype):
        preds = self._assignment_preds
        try:
            if preds is not None and preds.shape[:2] != outputs.shape[:2]:
                raise ValueError(f"assignment predictions of shape {tuple(preds.shape)} do not match the student's "
                                 f"outputs {tuple(outputs.shape)}: the teacher must see the same batch at the same size")
            return super().get_losses(imgs, x_shifts, y_shifts, expanded_strides, labels, outputs, origin_preds, dtype)
        finally:
            self._assignment_preds = None  # used by this loss only

    @torch.no_grad()
    def get_assignments(self, batch_idx, num_gt, total_num_anchors, gt_bboxes_per_image, gt_classes,
                        bboxes_preds_per_image, expanded_strides, x_shifts, y_shifts, cls_preds, bbox_preds,
                        obj_preds, labels, imgs, mode="gpu"):
        preds = self._assignment_preds
        if preds is None:
            return super().get_assignments(batch_idx, num_gt, total_num_anchors, gt_bboxes_per_image, gt_classes,
                                           bboxes_preds_per_image, expanded_strides, x_shifts, y_shifts, cls_preds,
                                           bbox_preds, obj_preds, labels, imgs, mode)
        t_boxes, t_obj, t_cls = preds[..., :4], preds[..., 4:5], preds[..., 5:]
        classes, fg_mask, _, matched_gt_inds, num_fg = super().get_assignments(
            batch_idx, num_gt, total_num_anchors, gt_bboxes_per_image, gt_classes, t_boxes[batch_idx],
            expanded_strides, x_shifts, y_shifts, t_cls, t_boxes, t_obj, labels, imgs, mode)
        own = bboxes_preds_per_image.to(fg_mask.device)[fg_mask]
        ious = bboxes_iou(gt_bboxes_per_image.to(own.device)[matched_gt_inds], own, False).diagonal()
        return classes, fg_mask, ious.to(classes.device), matched_gt_inds, num_fg

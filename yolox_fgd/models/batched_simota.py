"""YOLOX head whose SimOTA label assignment runs for the whole batch at once, without host syncs.

YOLOX 0.3.0's ``YOLOXHead.get_losses`` assigns labels image by image (``get_assignments``) with
several device-to-host synchronisations per image (``int(nlabel)``, ``.tolist()``, ``.item()``,
boolean indexing). ``BatchedSimOTAHead`` computes the same assignment (Ge et al., YOLOX 2021,
SimOTA) for ``N`` images and ``M`` target rows (padding rows masked) over all ``A`` anchors:

1. candidates: anchors whose centre lies in any box or within 2.5 strides of any box centre;
2. pairwise costs ``(N, M, A)``: class cost ``sum_c BCE(sqrt(sigmoid(cls) * sigmoid(obj)), onehot)``
   (computed as the all-negative sum plus the correction at the gt class, so no ``(N, M, A, C)``
   tensor is built), ``3 * -log(IoU + 1e-8)``, and ``1e5`` where the anchor is not in both the box
   and its centre region;
3. dynamic k: ``max(1, int(sum of the 10 largest IoUs))`` per gt, the k cheapest candidates;
4. conflicts: an anchor chosen by several gts goes to the gt of least cost (over all gts, as YOLOX).

Equal costs (ties) are broken by the lower anchor index in step 3 (a stable sort) and by the
lower gt index in step 4 (``argmin``); YOLOX leaves the first to ``torch.topk``, whose choice
among equal values is up to its kernel (on CPU we saw it take the higher index). Such ties are
not rare in real batches: mosaic cropping leaves boxes of zero width or height, no anchor is then
both inside the box and in its centre region, every candidate cost carries the ``1e5`` penalty,
and float32 resolves only steps of 0.0078 there. With YOLOX's ties broken by this rule the two
assignments are identical: the tests check random batches and seeded mosaic batches that contain
such ties (a one-off check of 300 seeded mosaic batches found no difference either).

Memory: a handful of ``(N, M, A)`` tensors (float32 and bool); with N=32, M=120 padded rows and
A=8400 anchors (640x640) that is 32 M elements each, about 130 MB per float tensor.
"""
import torch
import torch.nn.functional as F
from yolox.models import YOLOXHead

__all__ = ["BatchedSimOTAHead", "batched_simota"]


@torch.no_grad()
def batched_simota(gt_boxes, gt_classes, valid, bbox_preds, cls_logits, obj_logits, x_shifts, y_shifts,
                   strides, num_classes, center_radius=2.5, candidate_k=10):
    """SimOTA for a batch.

    Args:
        gt_boxes: ``(N, M, 4)`` ``(cx, cy, w, h)`` in input pixels; ``gt_classes``: ``(N, M)``.
        valid: ``(N, M)`` bool, real boxes (YOLOX counts rows with a positive sum).
        bbox_preds: ``(N, A, 4)`` decoded ``(cx, cy, w, h)``; ``cls_logits`` ``(N, A, C)``;
            ``obj_logits`` ``(N, A, 1)``.
        x_shifts, y_shifts, strides: ``(1, A)`` grid cell and stride of each anchor.

    Returns:
        ``fg`` ``(N, A)`` bool, ``matched_gt`` ``(N, A)`` long (valid where ``fg``),
        ``pred_ious`` ``(N, A)`` IoU with the matched gt, ``num_fg`` (0-d tensor).
    """
    N, M, _ = gt_boxes.shape
    A = bbox_preds.shape[1]
    s = strides[0]
    xc = (x_shifts[0] * s + 0.5 * s).view(1, 1, A)
    yc = (y_shifts[0] * s + 0.5 * s).view(1, 1, A)
    cx, cy, w, h = gt_boxes.unsqueeze(2).unbind(3)  # each (N, M, 1)
    in_box = torch.stack([xc - (cx - 0.5 * w), yc - (cy - 0.5 * h), (cx + 0.5 * w) - xc, (cy + 0.5 * h) - yc],
                         3).min(dim=3).values > 0.0
    r = center_radius * s.view(1, 1, A)
    in_ctr = torch.stack([xc - (cx - r), yc - (cy - r), (cx + r) - xc, (cy + r) - yc], 3).min(dim=3).values > 0.0
    vmask = valid.unsqueeze(2)  # (N, M, 1)
    in_box, in_ctr = in_box & vmask, in_ctr & vmask
    candidate = (in_box.any(1) | in_ctr.any(1)).unsqueeze(1)  # (N, 1, A)
    pair = candidate & vmask  # (N, M, A) pairs YOLOX evaluates

    # IoU of every (gt, prediction) pair: yolox.utils.bboxes_iou(xyxy=False), batched
    g = gt_boxes.unsqueeze(2)  # (N, M, 1, 4)
    p = bbox_preds.unsqueeze(1)  # (N, 1, A, 4)
    tl = torch.max(g[..., :2] - g[..., 2:] / 2, p[..., :2] - p[..., 2:] / 2)
    br = torch.min(g[..., :2] + g[..., 2:] / 2, p[..., :2] + p[..., 2:] / 2)
    area_g = torch.prod(g[..., 2:], 3)
    area_p = torch.prod(p[..., 2:], 3)
    en = (tl < br).type(tl.type()).prod(dim=3)
    area_i = torch.prod(br - tl, 3) * en
    ious = area_i / (area_g + area_p - area_i)
    ious = torch.where(pair, ious, torch.zeros((), dtype=ious.dtype, device=ious.device))
    iou_cost = -torch.log(ious + 1e-8)

    with torch.autocast(device_type=cls_logits.device.type, enabled=False):
        prob = (cls_logits.float().sigmoid() * obj_logits.float().sigmoid()).sqrt()  # (N, A, C)
        log_p = torch.log(prob).clamp(min=-100)  # F.binary_cross_entropy clamps logs at -100
        log_1mp = torch.log(1 - prob).clamp(min=-100)
        all_negative = -log_1mp.sum(2)  # (N, A): sum_c BCE(p_c, 0)
        cls_idx = gt_classes.long().clamp(0, num_classes - 1).unsqueeze(2).expand(N, M, A)
        cls_cost = (all_negative.unsqueeze(1) + log_1mp.transpose(1, 2).gather(1, cls_idx)
                    - log_p.transpose(1, 2).gather(1, cls_idx))
    cost = cls_cost + 3.0 * iou_cost + 100000.0 * (~(in_box & in_ctr))
    cost = torch.where(pair, cost, torch.full((), float("inf"), dtype=cost.dtype, device=cost.device))

    # dynamic k: top-10 IoUs over the candidates (non-candidates are 0 and never change the sum)
    k = min(candidate_k, A)
    dynamic_k = ious.topk(k, dim=2).values.sum(2).int().clamp(min=1)  # (N, M)
    order = torch.sort(cost, dim=2, stable=True).indices[..., :k]  # lowest cost first, ties: lower anchor
    rank_ok = torch.arange(k, device=cost.device).view(1, 1, k) < dynamic_k.unsqueeze(2)
    chosen_cost = cost.gather(2, order)
    take = rank_ok & torch.isfinite(chosen_cost)
    matching = torch.zeros_like(pair)
    matching.scatter_(2, order, take)  # scatter of bools: positions are distinct per row
    matching &= pair

    # an anchor chosen by several gts goes to the gt of least cost (over all gts)
    multi = matching.sum(1) > 1  # (N, A)
    best_gt = cost.argmin(1)  # (N, A), first minimum on ties
    resolved = F.one_hot(best_gt, M).transpose(1, 2).bool()  # (N, M, A)
    matching = torch.where(multi.unsqueeze(1), resolved, matching)
    fg = matching.any(1)
    matched_gt = matching.to(torch.uint8).argmax(1)
    pred_ious = (matching * ious).sum(1)
    return fg, matched_gt, pred_ious, fg.sum()


class BatchedSimOTAHead(YOLOXHead):
    """``YOLOXHead`` with :func:`batched_simota` in its training loss (same parameters, same
    forward, same loss definitions; the assignment and the loss sums run batched on the device)."""

    def get_losses(self, imgs, x_shifts, y_shifts, expanded_strides, labels, outputs, origin_preds, dtype):
        bbox_preds = outputs[:, :, :4]
        obj_preds = outputs[:, :, 4:5]
        cls_preds = outputs[:, :, 5:]
        N, A = outputs.shape[:2]
        valid = labels.sum(dim=2) > 0  # (N, M), as YOLOX's nlabel
        num_gts = valid.sum()
        x_shifts = torch.cat(x_shifts, 1)
        y_shifts = torch.cat(y_shifts, 1)
        expanded_strides = torch.cat(expanded_strides, 1)
        gt_boxes = labels[..., 1:5]
        gt_classes = labels[..., 0]

        fg, matched_gt, pred_ious, num_fg = batched_simota(
            gt_boxes, gt_classes, valid, bbox_preds, cls_preds, obj_preds, x_shifts, y_shifts,
            expanded_strides, self.num_classes)
        num_fg_f = num_fg.clamp(min=1).to(outputs.dtype if outputs.dtype.is_floating_point else torch.float32)

        idx = matched_gt.unsqueeze(2)
        reg_target = gt_boxes.gather(1, idx.expand(N, A, 4))  # (N, A, 4)
        matched_cls = gt_classes.gather(1, matched_gt).long()
        cls_target = F.one_hot(matched_cls, self.num_classes) * pred_ious.unsqueeze(2)
        zero = torch.zeros((), dtype=torch.float32, device=outputs.device)

        loss_iou = torch.where(fg.view(-1), self.iou_loss(bbox_preds.reshape(-1, 4), reg_target.reshape(-1, 4)),
                               zero).sum() / num_fg_f
        loss_obj = self.bcewithlog_loss(obj_preds.reshape(-1, 1), fg.reshape(-1, 1).to(dtype)).sum() / num_fg_f
        loss_cls = torch.where(fg.unsqueeze(2), self.bcewithlog_loss(cls_preds, cls_target.to(cls_preds.dtype)),
                               zero).sum() / num_fg_f
        if self.use_l1:
            origin = torch.cat(origin_preds, 1)
            stride = expanded_strides[0].view(1, A)
            l1_target = torch.stack([
                reg_target[..., 0] / stride - x_shifts[0].view(1, A),
                reg_target[..., 1] / stride - y_shifts[0].view(1, A),
                torch.log(reg_target[..., 2] / stride + 1e-8),
                torch.log(reg_target[..., 3] / stride + 1e-8),
            ], 2)
            loss_l1 = torch.where(fg.unsqueeze(2), self.l1_loss(origin, l1_target.to(origin.dtype)), zero).sum() / num_fg_f
        else:
            loss_l1 = 0.0
        reg_weight = 5.0
        loss = reg_weight * loss_iou + loss_obj + loss_cls + loss_l1
        # as YOLOX: the reported fg ratio uses the clamped count (1.0 for a batch without boxes)
        return loss, reg_weight * loss_iou, loss_obj, loss_cls, loss_l1, num_fg_f / num_gts.clamp(min=1)

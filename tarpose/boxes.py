"""Person boxes: checking them, their overlap, and non-maximum suppression.

Boxes are ``x, y, w, h`` in image pixel indices (COCO's convention), as float64 ``(N, 4)``
tensors; scores are float64 ``(N,)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

#: the smallest box side, in pixels, that a pose is estimated for (a smaller box holds no person,
#: and no tracker can follow it: its overlap with itself underflows)
MIN_BOX_SIDE = 1.0


def as_boxes(boxes: Any) -> Tensor:
    """Person boxes as a float64 ``(N, 4)`` tensor of ``x, y, w, h`` (N may be 0); checks them."""
    boxes = torch.as_tensor(boxes, dtype=torch.float64)
    if boxes.numel() == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) as x, y, w, h; got shape {tuple(boxes.shape)}")
    if not torch.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or infinite values")
    if (boxes[:, 2:] <= 0).any():
        bad = boxes[(boxes[:, 2:] <= 0).any(dim=1)][0].tolist()
        raise ValueError(f"boxes must have positive width and height, got x, y, w, h = {bad}")
    return boxes


def as_scores(scores: Any | None, n: int) -> Tensor:
    """Detection scores as a float64 ``(N,)`` tensor (all 1 when ``None``); checks them."""
    if scores is None:
        return torch.ones(n, dtype=torch.float64)
    scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    if scores.shape[0] != n:
        raise ValueError(f"got {n} boxes but {scores.shape[0]} scores")
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return scores


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of boxes ``(N, 4)`` and ``(M, 4)`` (``x, y, w, h``) -> ``(N, M)``."""
    a_lo, a_hi = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]  # (n, 1, 2)
    b_lo, b_hi = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]  # (1, m, 2)
    overlap = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp_min(0).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - overlap
    return overlap / union.clamp_min(1e-12)


def nms(boxes: Any, scores: Any, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: indices of the boxes kept, by decreasing score.

    A box is dropped when its IoU with a higher-scoring kept box exceeds ``iou_threshold``.

    Args:
        boxes: ``(N, 4)`` ``x, y, w, h``.
        scores: ``(N,)``.
        iou_threshold: in ``[0, 1]``.
    """
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"the NMS IoU threshold must be in [0, 1], got {iou_threshold}")
    boxes = as_boxes(boxes)
    scores = as_scores(scores, len(boxes))
    order = torch.argsort(scores, descending=True, stable=True)
    iou = box_iou(boxes[order], boxes[order])  # (n, n) in score order
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def overlaps_frame(boxes: Tensor, height: int, width: int) -> Tensor:
    """Which boxes ``(N, 4)`` (``x, y, w, h``) overlap a ``height x width`` frame: ``(N,)`` bool (a
    pose for a box the image does not show would be made up)."""
    x, y, w, h = boxes.unbind(-1)  # each (n,)
    return (x < width) & (y < height) & (x + w > 0) & (y + h > 0)


def large_enough(boxes: Tensor) -> Tensor:
    """Which boxes ``(N, 4)`` have both sides of at least `MIN_BOX_SIDE` pixels: ``(N,)`` bool."""
    return (boxes[:, 2:] >= MIN_BOX_SIDE).all(dim=-1)

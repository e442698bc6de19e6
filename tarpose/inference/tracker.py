"""A simple IoU tracker: links each frame's person boxes to the tracks of the frames before."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .topdown import as_boxes


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of boxes ``(N, 4)`` and ``(M, 4)`` (``x, y, w, h``) -> ``(N, M)``."""
    a_lo, a_hi = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]  # (n, 1, 2)
    b_lo, b_hi = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]  # (1, m, 2)
    overlap = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp_min(0).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - overlap
    return overlap / union.clamp_min(1e-12)


class IoUTracker:
    """Greedy IoU matching of each frame's boxes against the last box of every live track.

    Pairs are taken in order of decreasing IoU while the IoU is at least ``iou_threshold``; an
    unmatched box starts a new track (ids count up from 0); a track unmatched for more than
    ``max_age`` frames in a row ends (its id is never reused).

    Args:
        iou_threshold: smallest IoU that continues a track.
        max_age: frames a track may go unseen and still be continued.
    """

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 5) -> None:
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video starts)."""
        self._ids: list[int] = []
        self._boxes = torch.zeros(0, 4, dtype=torch.float64)
        self._unseen: list[int] = []
        self._next_id = 0

    def update(self, boxes: Any) -> list[int]:
        """Track ids of this frame's boxes ``(N, 4)`` (``x, y, w, h``), in the boxes' order."""
        boxes = as_boxes(boxes)
        ids: list[int | None] = [None] * len(boxes)
        matched_tracks: set[int] = set()
        if len(boxes) and len(self._ids):
            iou = box_iou(boxes, self._boxes)  # (n, tracks)
            while True:
                best = int(iou.argmax())
                box_i, track_i = divmod(best, iou.shape[1])
                if iou[box_i, track_i] < self.iou_threshold:
                    break
                ids[box_i] = self._ids[track_i]
                matched_tracks.add(track_i)
                iou[box_i, :] = -1
                iou[:, track_i] = -1
        # carry on the tracks that were matched or may still come back, then add the new ones
        keep = [
            i for i in range(len(self._ids))
            if i not in matched_tracks and self._unseen[i] + 1 <= self.max_age
        ]
        new_ids = [self._ids[i] for i in keep]
        new_boxes = [self._boxes[i] for i in keep]
        unseen = [self._unseen[i] + 1 for i in keep]
        for box_i, track_id in enumerate(ids):
            if track_id is None:
                track_id = ids[box_i] = self._next_id
                self._next_id += 1
            new_ids.append(track_id)
            new_boxes.append(boxes[box_i])
            unseen.append(0)
        self._ids = new_ids
        self._boxes = torch.stack(new_boxes) if new_boxes else torch.zeros(0, 4, dtype=torch.float64)
        self._unseen = unseen
        return [int(i) for i in ids]  # type: ignore[arg-type]

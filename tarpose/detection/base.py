"""The person detector interface: frames in, person boxes ``(N, 4)`` ``x, y, w, h`` and scores out.

A detector is anything with ``detect(frames, indices) -> [Detections, ...]`` (subclass
``PersonDetector``); a plain function ``frame -> boxes`` or ``frame -> (boxes, scores)`` is
wrapped by ``CallableDetector``. The predictor, the inferencer and ``tarpose predict`` all
take one (``make_detector`` builds them by name).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..boxes import as_boxes, as_scores


@dataclass
class Detections:
    """The people found in one frame.

    Attributes:
        boxes: ``(N, 4)`` float64 ``x, y, w, h`` in image pixels.
        scores: ``(N,)`` float64 confidences (1 where the source has none).
        track_ids: ``N`` ids when the source links boxes itself (a boxes file with ids, the full
            frame), else ``None`` (the tracker links them).
    """

    boxes: Tensor
    scores: Tensor
    track_ids: list[int] | None = None

    def __post_init__(self) -> None:
        self.boxes = as_boxes(self.boxes)
        self.scores = as_scores(self.scores, len(self.boxes))
        if self.track_ids is not None and len(self.track_ids) != len(self.boxes):
            raise ValueError(f"got {len(self.boxes)} boxes but {len(self.track_ids)} track ids")

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, keep: Tensor | Sequence[int]) -> Detections:
        """The detections at the indices ``keep``."""
        keep = torch.as_tensor(keep, dtype=torch.long)
        ids = None if self.track_ids is None else [self.track_ids[int(i)] for i in keep]
        return Detections(self.boxes[keep], self.scores[keep], ids)


class PersonDetector:
    """Base class of person detectors.

    Subclasses implement ``detect``; ``batch_size`` says how many frames it takes at once
    (the inferencer groups frames accordingly).
    """

    batch_size: int = 1

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        """The people of each frame.

        Args:
            frames: RGB ``(H, W, 3)`` uint8 arrays.
            indices: each frame's number in its stream (a boxes file looks its boxes up by it).
        """
        raise NotImplementedError

    def __call__(self, frame: np.ndarray, index: int = 0) -> Detections:
        """The people of one frame."""
        return self.detect([frame], [index])[0]


class CallableDetector(PersonDetector):
    """A function ``frame -> boxes (N, 4)`` or ``frame -> (boxes, scores)`` as a detector."""

    def __init__(self, fn: Callable[[np.ndarray], Any]) -> None:
        self.fn = fn

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        out = []
        for frame in frames:
            result = self.fn(frame)
            if isinstance(result, Detections):
                out.append(result)
            elif isinstance(result, tuple) and len(result) == 2:
                out.append(Detections(*result))
            else:
                boxes = as_boxes(result)
                out.append(Detections(boxes, None))
        return out


class FullFrame(PersonDetector):
    """One person filling the whole frame (track id 0)."""

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        return [
            Detections([[0.0, 0.0, float(f.shape[1]), float(f.shape[0])]], [1.0], [0]) for f in frames
        ]

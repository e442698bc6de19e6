"""Person detection for top-down pose estimation: a small interface and its implementations.

- ``PersonDetector`` / ``Detections``: ``detect(frames, indices)`` -> boxes ``(N, 4)``
  ``x, y, w, h`` and scores per frame; a function ``frame -> boxes`` works too
  (``CallableDetector``).
- ``RTDetrDetector`` (``"rtdetr"``, the default): transformers' RT-DETR, person class.
- ``HOGDetector`` (``"hog"``): OpenCV's pedestrian detector, offline.
- ``BoxesFile`` (a JSON path): boxes computed beforehand; ``FullFrame``
  (``"full-frame"``): one person filling the frame.

``make_detector`` builds any of them from what a user names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .base import CallableDetector, Detections, FullFrame, PersonDetector, nms
from .boxes import BoxesFile, read_boxes
from .hog import HOG_NMS_IOU, HOG_THRESHOLD, HOGDetector, score_to_margin
from .rtdetr import DEFAULT_RTDETR, RTDetrDetector

#: the detectors ``make_detector`` knows by name (besides a boxes file path)
DETECTORS: tuple[str, ...] = ("rtdetr", "hog", "full-frame")


def make_detector(
    detector: str | os.PathLike[str] | PersonDetector | Callable[..., Any] | None = "rtdetr",
    *,
    model: str | None = None,
    threshold: float | None = None,
    nms_iou: float | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> PersonDetector:
    """A person detector from a name, a file, an object or a function.

    Args:
        detector: ``"rtdetr"`` (default), ``"hog"``, ``"full-frame"``, the path of a boxes JSON
            file (``boxes``), a ``PersonDetector``, or a function ``frame -> boxes``
            / ``frame -> (boxes, scores)``.
        model: the RT-DETR checkpoint (Hub id or directory; default
            ``DEFAULT_RTDETR``).
        threshold: lowest detection score kept (RT-DETR: 0.3; HOG: ``HOG_THRESHOLD``, 0.7, chosen
            by precision and recall on real footage, ``benchmarks/bench_hog.py``).
        nms_iou: non-maximum suppression above this IoU (default: none; 1 also means none).
        batch_size: frames per RT-DETR forward pass (default 4).
        device: where RT-DETR runs (the pose model's device).
    """
    if detector is None:
        detector = "rtdetr"
    if isinstance(detector, PersonDetector):
        return detector
    if model is not None and detector != "rtdetr":
        raise ValueError(f"a detector model applies to the rtdetr detector, not {detector!r}")
    if detector == "rtdetr":
        return RTDetrDetector(
            model or DEFAULT_RTDETR, threshold=0.3 if threshold is None else threshold,
            nms_iou=nms_iou, batch_size=batch_size or 4, device=device,
        )
    if detector == "hog":
        t = HOG_THRESHOLD if threshold is None else threshold
        return HOGDetector(hit_threshold=score_to_margin(t), nms_iou=HOG_NMS_IOU if nms_iou is None else nms_iou)
    if detector == "full-frame":
        return FullFrame()
    if isinstance(detector, (str, os.PathLike)):
        if Path(detector).suffix.lower() == ".json" or Path(detector).is_file():
            return BoxesFile(detector)
        raise ValueError(
            f"unknown detector {str(detector)!r}: use one of {', '.join(DETECTORS)} or a boxes .json file"
        )
    if callable(detector):
        return CallableDetector(detector)
    raise TypeError(f"a detector must be a name, a boxes file, a PersonDetector or a function, got "
                    f"{type(detector).__name__}")


__all__ = [
    "DEFAULT_RTDETR",
    "DETECTORS",
    "HOG_NMS_IOU",
    "HOG_THRESHOLD",
    "BoxesFile",
    "CallableDetector",
    "Detections",
    "FullFrame",
    "HOGDetector",
    "PersonDetector",
    "RTDetrDetector",
    "make_detector",
    "nms",
    "read_boxes",
]

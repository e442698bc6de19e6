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

from ..boxes import nms
from ..registry import Registry
from .base import CallableDetector, Detections, FullFrame, PersonDetector
from .boxes import BoxesFile, read_boxes
from .hog import HOG_NMS_IOU, HOG_THRESHOLD, HOGDetector, score_to_margin
from .rtdetr import DEFAULT_RTDETR, RTDetrDetector

def _rtdetr(model: str | None, score_threshold: float | None, iou_threshold: float | None,
            batch_size: int | None, device: str | torch.device) -> PersonDetector:
    return RTDetrDetector(
        model or DEFAULT_RTDETR, score_threshold=0.3 if score_threshold is None else score_threshold,
        iou_threshold=iou_threshold, batch_size=batch_size or 4, device=device,
    )


def _hog(model: str | None, score_threshold: float | None, iou_threshold: float | None,
         batch_size: int | None, device: str | torch.device) -> PersonDetector:
    t = HOG_THRESHOLD if score_threshold is None else score_threshold
    return HOGDetector(hit_threshold=score_to_margin(t), iou_threshold=HOG_NMS_IOU if iou_threshold is None else iou_threshold)


def _full_frame(model: str | None, score_threshold: float | None, iou_threshold: float | None,
                batch_size: int | None, device: str | torch.device) -> PersonDetector:
    return FullFrame()


#: detector name -> factory ``(model, score_threshold, iou_threshold, batch_size, device)``;
#: ``make_detector`` also takes a boxes file, a detector object or a function
DETECTORS: Registry[Callable[..., PersonDetector]] = Registry("detector", "or a boxes .json file")
DETECTORS.register("rtdetr", _rtdetr)
DETECTORS.register("hog", _hog)
DETECTORS.register("full-frame", _full_frame)


def make_detector(
    detector: str | os.PathLike[str] | PersonDetector | Callable[..., Any] | None = "rtdetr",
    *,
    model: str | None = None,
    score_threshold: float | None = None,
    iou_threshold: float | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> PersonDetector:
    """A person detector from a name, a file, an object or a function.

    Args:
        detector: a name of `DETECTORS` (``"rtdetr"``, the default, ``"hog"``,
            ``"full-frame"``), the path of a boxes JSON file (``boxes``), a ``PersonDetector``,
            or a function ``frame -> boxes`` / ``frame -> (boxes, scores)``.
        model: the RT-DETR checkpoint (Hub id or directory; default ``DEFAULT_RTDETR``).
        score_threshold: lowest detection score kept (RT-DETR: 0.3; HOG: ``HOG_THRESHOLD``, 0.7,
            chosen by precision and recall on real footage, ``benchmarks/bench_hog.py``).
        iou_threshold: non-maximum suppression of detections overlapping above this IoU
            (default: none).
        batch_size: frames per RT-DETR forward pass (default 4).
        device: where RT-DETR runs (the pose model's device).
    """
    if detector is None:
        detector = "rtdetr"
    if isinstance(detector, PersonDetector):
        return detector
    if model is not None and detector != "rtdetr":
        raise ValueError(f"a detector model applies to the rtdetr detector, not {str(detector)!r}")
    if isinstance(detector, str) and detector in DETECTORS:
        return DETECTORS.get(detector)(model, score_threshold, iou_threshold, batch_size, device)
    if isinstance(detector, (str, os.PathLike)):
        if Path(detector).suffix.lower() == ".json" or Path(detector).is_file():
            return BoxesFile(detector)
        raise ValueError(f"unknown detector {str(detector)!r}; {DETECTORS.hint(str(detector))}")
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

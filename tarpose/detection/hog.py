"""OpenCV's built-in HOG + linear SVM pedestrian detector (Dalal and Triggs): offline, CPU only.

It ships inside ``opencv-python-headless`` 4.x (``pip install "tarpose[detect]"``; OpenCV 5 wheels
no longer have it, hence the bound), needs no download, and finds upright, walking people seen
from the side or the front; it misses sitting, crouching or partly hidden ones. For anything else
use the RT-DETR detector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..boxes import nms
from .base import Detections, PersonDetector

_INSTALL = (
    'the HOG person detector needs OpenCV 4 (opencv-python-headless < 5): pip install "tarpose[detect]"'
)

#: the detector window is 64 x 128 pixels, and a person in it is about 96 pixels tall
_WINDOW_PERSON_HEIGHT = 96.0
#: OpenCV's default people detector window, ``(width, height)``: ``detectMultiScale`` corrupts the
#: heap (abort, segfault) on an image smaller than it, so such a frame is never handed to it (no
#: person that size can be found in it anyway: the pyramid only shrinks the image)
HOG_WINDOW = (64, 128)
#: the lowest score threshold accepted: below it nearly every window of a frame is a detection and
#: OpenCV's grouping of them takes tens of seconds a frame
MIN_HOG_THRESHOLD = 0.01
#: the default lowest score kept: the best F1 at IoU 0.5 against the pedestrians of
#: tests/data/vtest_boxes.json among scores 0.3..0.9 (benchmarks/bench_hog.py, which wrote
#: benchmarks/results/hog_threshold.json; tests/test_detection.py checks the two agree). OpenCV's
#: own threshold is a score of 0.5
HOG_THRESHOLD = 0.7
#: the default NMS IoU (None: none), chosen in the same run: OpenCV groups overlapping windows itself
HOG_NMS_IOU: float | None = None


def score_to_margin(score: float) -> float:
    """The SVM margin of a HOG score (its inverse logistic): OpenCV's ``hitThreshold``."""
    if not MIN_HOG_THRESHOLD <= score < 1:
        raise ValueError(
            f"the HOG detector's score threshold must be in [{MIN_HOG_THRESHOLD}, 1), got {score} (below "
            f"{MIN_HOG_THRESHOLD} nearly every window is a person)"
        )
    return math.log(score / (1 - score))


def import_cv2() -> Any:
    """OpenCV with its HOG people detector, or an ``ImportError`` naming the extra."""
    try:
        import cv2
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    if not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
        raise ImportError(f"OpenCV {cv2.__version__} has no HOG people detector; {_INSTALL}")
    return cv2


class HOGDetector(PersonDetector):
    """Pedestrians by OpenCV's default HOG people detector.

    Boxes are OpenCV's detection windows shrunk to the person inside them (as OpenCV's
    ``peopledetect`` sample does: 15% off each side, 5% off the top and the bottom); scores are
    the SVM margins through a logistic, ``1 / (1 + exp(-margin))`` (0.5 at OpenCV's default
    threshold, a margin of 0).

    Args:
        min_height: the smallest person, in frame pixels, to find; frames are enlarged so that such
            a person fills the detector's window (the default, 64, enlarges by 1.5; larger values
            are faster).
        hit_threshold: SVM margin a window needs (OpenCV's ``hitThreshold``; default: that of a
            score of ``HOG_THRESHOLD``, 0.7, chosen on real footage: ``benchmarks/bench_hog.py``).
        stride: window step in pixels (OpenCV's ``winStride``; 4 finds more, slower).
        scale: step between pyramid levels (OpenCV's ``scale``).
        iou_threshold: also suppress overlapping boxes above this IoU (``None``: OpenCV's own grouping
            only).
    """

    def __init__(
        self,
        min_height: float = 64.0,
        hit_threshold: float | None = None,
        stride: int = 8,
        scale: float = 1.05,
        iou_threshold: float | None = HOG_NMS_IOU,
    ) -> None:
        cv2 = import_cv2()
        if min_height <= 0:
            raise ValueError(f"min_height must be > 0, got {min_height}")
        if stride < 1 or scale <= 1:
            raise ValueError(f"need stride >= 1 and scale > 1, got {stride}, {scale}")
        self._cv2 = cv2
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.upscale = max(1.0, _WINDOW_PERSON_HEIGHT / min_height)
        self.hit_threshold = score_to_margin(HOG_THRESHOLD) if hit_threshold is None else hit_threshold
        self.stride = stride
        self.scale = scale
        self.iou_threshold = iou_threshold

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        cv2 = self._cv2
        out = []
        for frame in frames:
            gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
            if self.upscale != 1:
                gray = cv2.resize(gray, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_LINEAR)
            if gray.shape[1] < HOG_WINDOW[0] or gray.shape[0] < HOG_WINDOW[1]:  # smaller than one window
                out.append(Detections(torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)))
                continue
            rects, margins = self._hog.detectMultiScale(
                gray, hitThreshold=self.hit_threshold, winStride=(self.stride, self.stride),
                padding=(8, 8), scale=self.scale,
            )
            windows = torch.as_tensor(np.asarray(rects, dtype=np.float64).reshape(-1, 4)) / self.upscale
            boxes = windows.clone()  # (n, 4) x, y, w, h: the person inside the window
            boxes[:, 0] += 0.15 * windows[:, 2]
            boxes[:, 1] += 0.05 * windows[:, 3]
            boxes[:, 2] *= 0.7
            boxes[:, 3] *= 0.9
            margin = np.asarray(margins, dtype=np.float64).reshape(-1)
            scores = torch.as_tensor([1 / (1 + math.exp(-m)) for m in margin], dtype=torch.float64)
            found = Detections(boxes, scores)
            if self.iou_threshold is not None and len(found):
                found = found.select(nms(found.boxes, found.scores, self.iou_threshold))
            out.append(found)
        return out

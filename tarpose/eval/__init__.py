"""Evaluation: keypoint metrics (PCK, OKS, COCO OKS AP, jitter) and the PoseTrack mAP (poseval rules).

Import-light: only torch and NumPy; pycocotools is imported only by [oks_ap_cocoeval][tarpose.eval.oks_ap_cocoeval].
"""

from .metrics import (
    AREA_RANGES,
    OKS_THRESHOLDS,
    OKSAP,
    bbox_size,
    head_size,
    jitter,
    oks,
    oks_ap,
    oks_ap_cocoeval,
    pck,
    pck_per_joint,
)
from .posetrack import PoseTrackAP, evaluate_posetrack, write_posetrack_predictions

__all__ = [
    "AREA_RANGES",
    "OKSAP",
    "OKS_THRESHOLDS",
    "PoseTrackAP",
    "bbox_size",
    "evaluate_posetrack",
    "head_size",
    "jitter",
    "oks",
    "oks_ap",
    "oks_ap_cocoeval",
    "pck",
    "pck_per_joint",
    "write_posetrack_predictions",
]

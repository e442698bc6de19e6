"""Keypoint metrics: PCK, OKS, COCO keypoint AP (OKS AP) and temporal jitter.

All functions take ``torch.Tensor`` or NumPy arrays (any float dtype, any device), compute in
float64 on the CPU, and return Python floats (summaries) or float64 tensors (per-element values).
Coordinates are in pixels of whatever image the points live in; fractions are in ``[0, 1]``.

``oks_ap`` is the COCO keypoint evaluation (``pycocotools.cocoeval.COCOeval(iouType="keypoints")``)
written out in NumPy, so it runs without pycocotools; ``oks_ap_cocoeval`` runs pycocotools itself on
the same inputs (``pip install "tarpose[eval]"``) and the tests prove the two equal.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..keypoints import COCO_KEYPOINTS, COCO_SIGMAS

#: what the metrics take for coordinates, flags and sizes: a tensor, an array or nested numbers
ArrayLike = Any

#: the OKS thresholds of the COCO keypoint AP: 0.50, 0.55, ..., 0.95
OKS_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10).tolist())
#: the recall points of COCO's interpolated precision: 0.00, 0.01, ..., 1.00
RECALL_POINTS: tuple[float, ...] = tuple(np.linspace(0.0, 1.0, 101).tolist())
#: COCO's area ranges for keypoints (``area_range`` of [oks_ap][tarpose.eval.metrics.oks_ap])
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}


def _array(name: str, value: Any, ndim: int | None = None, last: int | None = None) -> np.ndarray:
    """``value`` as a float64 NumPy array, with its dims checked."""
    if isinstance(value, Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a tensor or array of numbers: {error}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dims, got shape {array.shape}")
    if last is not None and (array.ndim == 0 or array.shape[-1] != last):
        raise ValueError(f"{name} must end in a dim of size {last}, got shape {array.shape}")
    return array


def _same_leading(names: Sequence[str], arrays: Sequence[np.ndarray], dims: int) -> None:
    shapes = [a.shape[:dims] for a in arrays]
    if len(set(shapes)) > 1:
        listed = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"shapes do not agree: {listed}")


# --------------------------------------------------------------------------------------- PCK


def bbox_size(boxes: Tensor | np.ndarray) -> Tensor:
    """PCK normaliser of each person: the longer side ``max(w, h)`` of boxes ``(N, 4)`` as
    ``x, y, w, h`` -> ``(N,)`` (mmpose's bbox-normalised PCK)."""
    b = _array("boxes", boxes, ndim=2, last=4)
    return torch.from_numpy(np.maximum(b[:, 2], b[:, 3]))


def head_size(head_boxes: Tensor | np.ndarray) -> Tensor:
    """PCKh normaliser of each person: ``0.6 x`` the diagonal of head boxes ``(N, 4)`` as
    ``x, y, w, h`` -> ``(N,)`` (the PoseTrack / MPII head size)."""
    b = _array("head_boxes", head_boxes, ndim=2, last=4)
    return torch.from_numpy(0.6 * np.hypot(b[:, 2], b[:, 3]))


def _correct(pred: ArrayLike, gt: ArrayLike, visible: ArrayLike, norm: ArrayLike, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    p = _array("pred", pred, ndim=3, last=2)
    g = _array("gt", gt, ndim=3, last=2)
    v = _array("visible", visible, ndim=2) > 0
    _same_leading(("pred", "gt"), (p, g), 2)
    if v.shape != p.shape[:2]:
        raise ValueError(f"visible must be (N, K) = {p.shape[:2]}, got {v.shape}")
    n = _array("norm", norm)
    if n.ndim == 0:
        n = np.full(p.shape[0], float(n))
    if n.shape != (p.shape[0],):
        raise ValueError(f"norm must be a scalar or (N,) = ({p.shape[0]},), got shape {n.shape}")
    if not np.all(np.isfinite(n) & (n > 0)):
        raise ValueError("norm must be finite and > 0 for every sample (e.g. bbox_size(boxes))")
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    distance = np.linalg.norm(p - g, axis=-1) / n[:, None]  # (N, K), in units of norm
    return (distance <= threshold) & v, v


def pck(pred: ArrayLike, gt: ArrayLike, visible: ArrayLike, norm: ArrayLike, threshold: float = 0.05) -> float:
    """Percentage of Correct Keypoints, as a fraction.

    A labelled joint is correct when ``|pred - gt| <= threshold * norm`` of its sample: the
    Euclidean error in pixels is normalised by one length per sample (``norm``), e.g.
    [bbox_size][tarpose.eval.metrics.bbox_size] (PCK@0.05 of the box's longer side) or [head_size][tarpose.eval.metrics.head_size] (PCKh@0.5).

    Args:
        pred: ``(N, K, 2)`` predicted keypoints (x, y), in the same pixels as ``norm``.
        gt: ``(N, K, 2)`` ground-truth keypoints (x, y).
        visible: ``(N, K)`` bool or 0/1: which ground-truth joints count.
        norm: ``(N,)`` (or a scalar) positive lengths.
        threshold: fraction of ``norm``.

    Returns:
        correct / labelled joints over the whole set (NaN when nothing is labelled).
    """
    correct, counted = _correct(pred, gt, visible, norm, threshold)
    total = counted.sum()
    return float(correct.sum() / total) if total else float("nan")


def pck_per_joint(
    pred: ArrayLike, gt: ArrayLike, visible: ArrayLike, norm: ArrayLike, threshold: float = 0.05
) -> Tensor:
    """[pck][tarpose.eval.metrics.pck] of each joint: ``(K,)`` float64, NaN for joints never labelled."""
    correct, counted = _correct(pred, gt, visible, norm, threshold)
    with np.errstate(invalid="ignore", divide="ignore"):
        return torch.from_numpy(correct.sum(0) / counted.sum(0))


# --------------------------------------------------------------------------------------- OKS


def _sigmas(sigmas, k: int) -> np.ndarray:
    s = _array("sigmas", COCO_SIGMAS if sigmas is None else sigmas, ndim=1)
    if s.shape[0] != k:
        raise ValueError(
            f"{s.shape[0]} sigmas for {k} keypoints; pass sigmas= for this keypoint set"
        )
    return s


def oks(
    pred: ArrayLike, gt: ArrayLike, visible: ArrayLike, area: ArrayLike, sigmas: Sequence[float] | None = None
) -> Tensor:
    """Object Keypoint Similarity, COCO's formula, broadcasting over leading dims.

    ``OKS = mean over labelled joints of exp(-d^2 / (2 * area * (2 * sigma)^2))`` with ``d`` the
    pixel distance and ``area`` the person's area (COCO: the segment area; for synthetic data the
    box area is the usual stand-in).

    Args:
        pred: ``(..., K, 2)`` predicted keypoints (broadcastable with ``gt``: ``pred[:, None]``
            against ``gt[None]`` gives the ``(D, G)`` matrix).
        gt: ``(..., K, 2)`` ground-truth keypoints.
        visible: ``(..., K)`` labelled ground-truth joints (broadcast with ``gt``).
        area: ``(...)`` ground-truth areas in pixels^2.
        sigmas: ``(K,)`` per-joint constants; ``tarpose.keypoints.COCO_SIGMAS`` by default.

    Returns:
        ``(...)`` float64 OKS in ``[0, 1]``; NaN where a person has no labelled joint (COCO then
        compares to the box instead, which [oks_ap][tarpose.eval.metrics.oks_ap] does).
    """
    p = _array("pred", pred, last=2)
    g = _array("gt", gt, last=2)
    v = _array("visible", visible) > 0
    a = _array("area", area)
    s = _sigmas(sigmas, g.shape[-2])
    try:
        d2 = ((p - g) ** 2).sum(-1)  # (..., K)
        e = d2 / ((2 * s) ** 2) / (a[..., None] + np.spacing(1)) / 2
        num = np.where(v, np.exp(-e), 0.0).sum(-1)
        den = np.broadcast_to(v, e.shape).sum(-1)
    except ValueError as error:
        raise ValueError(
            f"cannot broadcast pred {p.shape}, gt {g.shape}, visible {v.shape}, area {a.shape}: {error}"
        ) from None
    with np.errstate(invalid="ignore", divide="ignore"):
        return torch.from_numpy(np.asarray(num / den, dtype=np.float64))


@dataclass(frozen=True)
class OKSAP:
    """COCO keypoint AP of one evaluation (fractions in ``[0, 1]``; NaN when no ground truth
    person counts)."""

    ap: float  #: mean AP over the OKS thresholds (COCO's "AP")
    ap_per_threshold: tuple[float, ...]  #: AP at each threshold
    recall_per_threshold: tuple[float, ...]  #: recall at each threshold (at max_dets)
    thresholds: tuple[float, ...]

    @property
    def ar(self) -> float:
        """Mean recall over the thresholds (COCO's "AR")."""
        return float(np.mean(self.recall_per_threshold))

    def at(self, threshold: float) -> float:
        """AP at one of the thresholds, e.g. ``at(0.5)`` (COCO's AP50) or ``at(0.75)``."""
        for t, value in zip(self.thresholds, self.ap_per_threshold):
            if abs(t - threshold) < 1e-9:
                return value
        raise ValueError(f"threshold {threshold} was not evaluated; have {self.thresholds}")


@dataclass
class _Inputs:
    """Validated [oks_ap][tarpose.eval.metrics.oks_ap] inputs: ``n`` predictions, ``g`` ground-truth people."""

    pred: np.ndarray  # (n, K, 2)
    scores: np.ndarray  # (n,)
    pred_images: np.ndarray  # (n,) int64
    gt: np.ndarray  # (g, K, 2)
    visible: np.ndarray  # (g, K) bool
    areas: np.ndarray  # (g,)
    boxes: np.ndarray | None  # (g, 4) x, y, w, h
    gt_images: np.ndarray  # (g,) int64
    crowd: np.ndarray  # (g,) bool
    sigmas: np.ndarray  # (K,)
    images: np.ndarray  # sorted image ids


def _inputs(
    pred_keypoints,
    pred_scores,
    gt_keypoints,
    gt_visible,
    gt_areas,
    gt_boxes,
    pred_image_ids,
    gt_image_ids,
    gt_crowd,
    sigmas,
) -> _Inputs:
    pred = _array("pred_keypoints", pred_keypoints, ndim=3, last=2)
    gt = _array("gt_keypoints", gt_keypoints, ndim=3, last=2)
    n, k, _ = pred.shape
    g = gt.shape[0]
    if gt.shape[1] != k:
        raise ValueError(f"pred_keypoints has {k} keypoints but gt_keypoints has {gt.shape[1]}")
    scores = _array("pred_scores", pred_scores, ndim=1)
    if scores.shape != (n,):
        raise ValueError(f"pred_scores must be ({n},), got {scores.shape}")
    visible = _array("gt_visible", gt_visible, ndim=2) > 0
    if visible.shape != (g, k):
        raise ValueError(f"gt_visible must be (G, K) = {(g, k)}, got {visible.shape}")
    boxes = None if gt_boxes is None else _array("gt_boxes", gt_boxes, ndim=2, last=4)
    if boxes is not None and boxes.shape[0] != g:
        raise ValueError(f"gt_boxes must be (G, 4) = ({g}, 4), got {boxes.shape}")
    if gt_areas is None:
        if boxes is None:
            raise ValueError("give gt_areas (COCO: segment areas) or gt_boxes (areas = w * h)")
        areas = boxes[:, 2] * boxes[:, 3]
    else:
        areas = _array("gt_areas", gt_areas, ndim=1)
        if areas.shape != (g,):
            raise ValueError(f"gt_areas must be ({g},), got {areas.shape}")
    if (pred_image_ids is None) != (gt_image_ids is None):
        raise ValueError("give both pred_image_ids and gt_image_ids, or neither")
    if pred_image_ids is None:
        if n != g:
            raise ValueError(
                f"without image ids each prediction is its ground-truth person's own image, so "
                f"the counts must agree; got {n} predictions and {g} people"
            )
        pred_images = gt_images = np.arange(n)
    else:
        pred_images = np.asarray(pred_image_ids).astype(np.int64).reshape(-1)
        gt_images = np.asarray(gt_image_ids).astype(np.int64).reshape(-1)
        if pred_images.shape != (n,) or gt_images.shape != (g,):
            raise ValueError(
                f"pred_image_ids must be ({n},) and gt_image_ids ({g},); got "
                f"{pred_images.shape} and {gt_images.shape}"
            )
    crowd = np.zeros(g, bool) if gt_crowd is None else np.asarray(gt_crowd, bool).reshape(-1)
    if crowd.shape != (g,):
        raise ValueError(f"gt_crowd must be ({g},), got {crowd.shape}")
    if boxes is None and not visible.any(-1).all():
        missing = np.flatnonzero(~visible.any(-1))[:5].tolist()
        raise ValueError(
            f"ground-truth people {missing} have no visible keypoint: COCO matches predictions to "
            f"them by distance to their box, so pass gt_boxes (or drop them)"
        )
    if not (np.isfinite(pred).all() and np.isfinite(scores).all()):
        raise ValueError("pred_keypoints and pred_scores must be finite")
    return _Inputs(
        pred,
        scores,
        pred_images,
        gt,
        visible,
        areas,
        boxes,
        gt_images,
        crowd,
        _sigmas(sigmas, k),
        np.unique(np.concatenate([gt_images, pred_images])),
    )


def _image_oks(x: _Inputs, dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """COCO's OKS matrix ``(len(dets), len(gts))`` of one image."""
    p, g = x.pred[dets][:, None], x.gt[gts][None]  # (d, 1, K, 2), (1, g, K, 2)
    variances = (2 * x.sigmas) ** 2
    vis = x.visible[gts][None]  # (1, g, K)
    labelled = vis.any(-1)  # (1, g)
    dx = p[..., 0] - g[..., 0]
    dy = p[..., 1] - g[..., 1]
    if x.boxes is not None:  # people without labelled joints: distance to the box x3 around them
        b = x.boxes[gts][None, :, None]  # (1, g, 1, 4)
        x0, x1 = b[..., 0] - b[..., 2], b[..., 0] + 2 * b[..., 2]
        y0, y1 = b[..., 1] - b[..., 3], b[..., 1] + 2 * b[..., 3]
        px, py = p[..., 0], p[..., 1]
        bx = np.maximum(0, x0 - px) + np.maximum(0, px - x1)
        by = np.maximum(0, y0 - py) + np.maximum(0, py - y1)
        dx = np.where(labelled[..., None], dx, bx)
        dy = np.where(labelled[..., None], dy, by)
    area = x.areas[gts][None, :, None]
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2  # (d, g, K)
    counted = np.where(labelled[..., None], vis, True)
    return (np.exp(-e) * counted).sum(-1) / counted.sum(-1)


def _evaluate_image(x: _Inputs, image: int, thresholds: np.ndarray, max_dets: int, area_range):
    """COCO's per-image matching: returns (scores, matched (T, d), ignored (T, d), n_gt counted)."""
    gts = np.flatnonzero(x.gt_images == image)
    dets = np.flatnonzero(x.pred_images == image)
    dets = dets[np.argsort(-x.scores[dets], kind="mergesort")][:max_dets]
    lo, hi = area_range
    area = x.areas[gts]
    ignore = x.crowd[gts] | ~x.visible[gts].any(-1) | (area < lo) | (area > hi)
    order = np.argsort(ignore, kind="mergesort")  # counted people first
    gts, ignore, crowd = gts[order], ignore[order], x.crowd[gts][order]
    t_count, d_count = len(thresholds), len(dets)
    matched = np.zeros((t_count, d_count), bool)
    det_ignored = np.zeros((t_count, d_count), bool)
    if len(gts) and d_count:
        similarity = _image_oks(x, dets, gts)
        for ti, threshold in enumerate(thresholds):
            taken = np.zeros(len(gts), bool)
            for di in range(d_count):
                best, m = min(threshold, 1 - 1e-10), -1
                for gi in range(len(gts)):
                    if taken[gi] and not crowd[gi]:
                        continue
                    if m > -1 and not ignore[m] and ignore[gi]:
                        break  # counted people come first: stop at the ignored ones
                    if similarity[di, gi] < best:
                        continue
                    best, m = similarity[di, gi], gi
                if m == -1:
                    continue
                matched[ti, di] = True
                det_ignored[ti, di] = ignore[m]
                taken[m] = True
    pts = x.pred[dets]  # (d, K, 2): COCO's result area = the keypoints' extent
    extent = (pts[..., 0].max(-1) - pts[..., 0].min(-1)) * (
        pts[..., 1].max(-1) - pts[..., 1].min(-1)
    )
    outside = (extent < lo) | (extent > hi)
    det_ignored |= ~matched & outside[None]
    return x.scores[dets], matched, det_ignored, int((~ignore).sum())


def oks_ap(
    pred_keypoints: ArrayLike,
    pred_scores: ArrayLike,
    gt_keypoints: ArrayLike,
    gt_visible: ArrayLike,
    gt_areas: ArrayLike | None = None,
    *,
    gt_boxes: ArrayLike | None = None,
    pred_image_ids: ArrayLike | None = None,
    gt_image_ids: ArrayLike | None = None,
    gt_crowd: ArrayLike | None = None,
    sigmas: Sequence[float] | None = None,
    thresholds: Sequence[float] = OKS_THRESHOLDS,
    max_dets: int = 20,
    area_range: tuple[float, float] | str = "all",
) -> OKSAP:
    """COCO keypoint AP, exactly as ``pycocotools`` ``COCOeval(iouType="keypoints")`` computes it.

    Per image, predictions are taken in descending score order (at most ``max_dets``) and each is
    matched greedily to the unmatched ground-truth person with the highest OKS >= threshold
    (people that do not count -- crowd, no labelled joint, area outside ``area_range`` -- only
    absorb predictions). Over all images, precision/recall by score give AP with COCO's 101-point
    interpolated precision, averaged over ``thresholds`` (0.50:0.05:0.95).

    Args:
        pred_keypoints: ``(D, K, 2)`` predicted keypoints (x, y) in image pixels.
        pred_scores: ``(D,)`` person scores (rank predictions).
        gt_keypoints: ``(G, K, 2)`` ground-truth keypoints.
        gt_visible: ``(G, K)`` labelled joints (COCO ``v > 0``).
        gt_areas: ``(G,)`` person areas (COCO: segment area); default ``w * h`` of ``gt_boxes``.
        gt_boxes: ``(G, 4)`` x, y, w, h; needed only for people with no labelled joint.
        pred_image_ids: ``(D,)`` image of each prediction. Omit both image id lists when each
            prediction is made for one ground-truth person (top-down on ground-truth boxes): row
            ``i`` of both is then an image of its own.
        gt_image_ids: ``(G,)`` image of each ground-truth person.
        gt_crowd: ``(G,)`` COCO ``iscrowd`` flags.
        sigmas: ``(K,)`` OKS constants (COCO's 17 by default).
        thresholds: OKS thresholds.
        max_dets: predictions kept per image (COCO keypoints: 20).
        area_range: ``"all"``, ``"medium"``, ``"large"`` or ``(min, max)`` area in pixels^2.

    Returns:
        [OKSAP][tarpose.eval.metrics.OKSAP] (``.ap``, ``.at(0.5)``, ``.ar``, ...).
    """
    x = _inputs(
        pred_keypoints,
        pred_scores,
        gt_keypoints,
        gt_visible,
        gt_areas,
        gt_boxes,
        pred_image_ids,
        gt_image_ids,
        gt_crowd,
        sigmas,
    )
    area_range = AREA_RANGES[area_range] if isinstance(area_range, str) else tuple(area_range)
    t = np.asarray(thresholds, dtype=np.float64)
    if max_dets < 1:
        raise ValueError(f"max_dets must be >= 1, got {max_dets}")
    per_image = [_evaluate_image(x, int(i), t, max_dets, area_range) for i in x.images]
    n_gt = sum(r[3] for r in per_image)
    nan = tuple(float("nan") for _ in t)
    if n_gt == 0:
        return OKSAP(float("nan"), nan, nan, tuple(t.tolist()))
    scores = np.concatenate([r[0] for r in per_image]) if per_image else np.zeros(0)
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([r[1] for r in per_image], axis=1)[:, order]
    ignored = np.concatenate([r[2] for r in per_image], axis=1)[:, order]
    tp = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
    fp = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
    recall_points = np.asarray(RECALL_POINTS)
    aps, recalls = [], []
    for tp_t, fp_t in zip(tp, fp):
        if tp_t.size == 0:
            aps.append(0.0)
            recalls.append(0.0)
            continue
        recall = tp_t / n_gt
        precision = tp_t / (fp_t + tp_t + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
        index = np.searchsorted(recall, recall_points, side="left")
        q = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0.0)
        aps.append(float(q.mean()))
        recalls.append(float(recall[-1]))
    return OKSAP(float(np.mean(aps)), tuple(aps), tuple(recalls), tuple(t.tolist()))


def oks_ap_cocoeval(
    pred_keypoints: ArrayLike,
    pred_scores: ArrayLike,
    gt_keypoints: ArrayLike,
    gt_visible: ArrayLike,
    gt_areas: ArrayLike | None = None,
    *,
    gt_boxes: ArrayLike | None = None,
    pred_image_ids: ArrayLike | None = None,
    gt_image_ids: ArrayLike | None = None,
    gt_crowd: ArrayLike | None = None,
    sigmas: Sequence[float] | None = None,
    thresholds: Sequence[float] = OKS_THRESHOLDS,
    max_dets: int = 20,
    area_range: tuple[float, float] | str = "all",
) -> OKSAP:
    """[oks_ap][tarpose.eval.metrics.oks_ap] computed by pycocotools' ``COCOeval`` itself (same arguments and result).

    Needs ``pip install "tarpose[eval]"``. COCO's own printout is suppressed.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as error:
        raise ImportError(
            'oks_ap_cocoeval needs pycocotools: pip install "tarpose[eval]" '
            "(or use oks_ap, which computes the same without it)"
        ) from error
    x = _inputs(
        pred_keypoints,
        pred_scores,
        gt_keypoints,
        gt_visible,
        gt_areas,
        gt_boxes,
        pred_image_ids,
        gt_image_ids,
        gt_crowd,
        sigmas,
    )
    area_range = AREA_RANGES[area_range] if isinstance(area_range, str) else tuple(area_range)
    t = np.asarray(thresholds, dtype=np.float64)
    k = x.gt.shape[1]
    image_index = {int(i): n + 1 for n, i in enumerate(x.images)}  # COCO ids start at 1
    names = list(COCO_KEYPOINTS) if k == len(COCO_KEYPOINTS) else [f"k{j}" for j in range(k)]
    annotations = []
    for gi in range(x.gt.shape[0]):
        vis = x.visible[gi]
        flat = np.concatenate([np.where(vis[:, None], x.gt[gi], 0.0), 2.0 * vis[:, None]], axis=1)
        if x.boxes is not None:
            box = x.boxes[gi].tolist()
        else:  # only read by COCO for people without labelled joints, which need gt_boxes
            pts = x.gt[gi][vis]
            box = [*pts.min(0).tolist(), *(pts.max(0) - pts.min(0)).tolist()]
        annotations.append(
            {
                "id": gi + 1,
                "image_id": image_index[int(x.gt_images[gi])],
                "category_id": 1,
                "keypoints": flat.reshape(-1).tolist(),
                "num_keypoints": int(vis.sum()),
                "area": float(x.areas[gi]),
                "bbox": box,
                "iscrowd": int(x.crowd[gi]),
            }
        )
    dataset = {
        "images": [{"id": i} for i in image_index.values()],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
    }
    results = [
        {
            "image_id": image_index[int(x.pred_images[d])],
            "category_id": 1,
            "keypoints": np.concatenate([x.pred[d], np.ones((k, 1))], axis=1).reshape(-1).tolist(),
            "score": float(x.scores[d]),
        }
        for d in range(x.pred.shape[0])
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        if not results:  # COCO.loadRes cannot load an empty list
            n_gt = sum(
                1
                for a in annotations
                if not a["iscrowd"]
                and a["num_keypoints"] > 0
                and area_range[0] <= a["area"] <= area_range[1]
            )
            value = 0.0 if n_gt else float("nan")
            return OKSAP(value, (value,) * len(t), (value,) * len(t), tuple(t.tolist()))
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
        evaluator.params.kpt_oks_sigmas = x.sigmas
        evaluator.params.iouThrs = t
        evaluator.params.maxDets = [max_dets]
        evaluator.params.areaRng = [list(area_range)]
        evaluator.params.areaRngLbl = ["range"]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, 0]  # (T, R)
    recall = evaluator.eval["recall"][:, 0, 0, 0]  # (T,)
    if (precision < 0).all():
        nan = tuple(float("nan") for _ in t)
        return OKSAP(float("nan"), nan, nan, tuple(t.tolist()))
    aps = tuple(float(p.mean()) for p in precision)
    return OKSAP(float(precision.mean()), aps, tuple(float(r) for r in recall), tuple(t.tolist()))


# ------------------------------------------------------------------------------------ jitter


def jitter(keypoints: ArrayLike, valid: ArrayLike | None = None, reference: ArrayLike | None = None) -> float:
    """Mean acceleration magnitude of keypoint tracks, in pixels / frame^2.

    For each joint and each frame ``t`` with frames ``t-1, t, t+1`` all valid, the acceleration is
    the second difference ``a_t = x_{t+1} - 2 x_t + x_{t-1}``; the result is the mean of ``|a_t|``
    over all such triples. Gaps are not bridged: a triple that touches an invalid frame (missing
    detection, unlabelled joint, dropped frame) is left out, so a track split by a gap contributes
    only its runs of >= 3 consecutive valid frames. A steady track scores 0; a track following a
    smooth motion scores its true acceleration, so compare models on the same clips, or pass the
    ground truth as ``reference`` to measure ``|a_pred - a_ref|`` (excess acceleration) instead.

    Args:
        keypoints: ``(..., T, K, 2)`` tracks (x, y) over ``T`` consecutive frames.
        valid: ``(..., T, K)`` or ``(..., T)`` bool/0-1, all valid by default.
        reference: optional ``(..., T, K, 2)`` ground-truth tracks.

    Returns:
        The mean, or NaN when no valid triple exists.
    """
    x = _array("keypoints", keypoints, last=2)
    if x.ndim < 3:
        raise ValueError(f"keypoints must be (..., T, K, 2), got shape {x.shape}")
    if valid is None:
        ok = np.ones(x.shape[:-1], bool)
    else:
        ok = _array("valid", valid) > 0
        if ok.shape != x.shape[:-1] and ok.shape == x.shape[:-2]:  # one flag per frame
            ok = np.broadcast_to(ok[..., None], x.shape[:-1])
        if ok.shape != x.shape[:-1]:
            raise ValueError(f"valid must be {x.shape[:-1]} or {x.shape[:-2]}, got {ok.shape}")
    if reference is not None:
        r = _array("reference", reference, last=2)
        if r.shape != x.shape:
            raise ValueError(f"reference must have the shape of keypoints {x.shape}, got {r.shape}")
        x = x - r  # the second difference is linear: a(pred) - a(ref) = a(pred - ref)
    accel = x[..., 2:, :, :] - 2 * x[..., 1:-1, :, :] + x[..., :-2, :, :]  # (..., T-2, K, 2)
    counted = ok[..., 2:, :] & ok[..., 1:-1, :] & ok[..., :-2, :]  # (..., T-2, K)
    if not counted.any():
        return float("nan")
    return float(np.linalg.norm(accel, axis=-1)[counted].mean())

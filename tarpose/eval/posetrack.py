"""PoseTrack mAP, computed as the official poseval tool (``evaluate.py -e``) computes it.

The rules, learned from poseval (github leonid-pishchulin/poseval, ``eval_helpers.py``,
``evaluateAP.py``, ``convert.py``) and written anew:

- Files: one JSON per video; predictions in a file of the same name. Frames without any ground
  truth person are dropped, with their predictions. The 17 slots map to poseval's 15 joints (the
  ears are not evaluated). A joint is present unless it is ``(0, 0, 0)``; a predicted joint's
  score is its entry in the person's ``scores`` list, or -9999 when the list is empty.
- Ignore regions: in frames that have them, ground-truth and predicted joints strictly inside
  a region are removed, then people left without joints are removed.
- Matching, per frame: ``d = |pred - gt| / head_size`` with ``head_size = 0.6 x`` the diagonal of
  the person's ``bbox_head``; a joint matches when ``d <= 0.5``. ``PCKh(p, g)`` = matched joints /
  joints annotated in ``g``. Each prediction keeps only its best person (first on ties), then
  each person takes the prediction with the highest remaining PCKh (none if 0).
- Per joint: every predicted joint is a detection with its score, true when its pose is assigned
  to a person whose joint it matches, false otherwise (also when unassigned). Ranking all
  detections by score gives precision/recall; AP is the VOC area under the monotone precision
  envelope, x100. ``Total`` is the mean over the 15 joints; Head = mean(head_top, head_bottom,
  nose), Shoulder, Elbow, Wrist, Hip, Knee, Ankle = mean of left and right.

Differences, all where poseval itself fails or is undefined: files holding several videos are
evaluated whole (poseval keeps only the first video), predictions are aligned to frames by
``image_id`` (poseval by position in ``images``; the same when both list the same frames),
ignore regions with fewer than 3 points are skipped (poseval raises), and files are taken in name
order (poseval in directory order, which only matters for tied scores).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.posetrack_format import (
    POSETRACK_EVAL_JOINTS,
    eval_joint_slots,
    load_posetrack,
    posetrack_files,
)

#: score of a predicted joint without one (poseval's MIN_SCORE)
MISSING_SCORE = -9999.0
#: PCKh threshold (fraction of the head size)
PCKH_THRESHOLD = 0.5
#: table rows -> poseval joints averaged
ROWS: dict[str, tuple[str, ...]] = {
    "Head": ("head_top", "head_bottom", "nose"),
    "Shoulder": ("right_shoulder", "left_shoulder"),
    "Elbow": ("right_elbow", "left_elbow"),
    "Wrist": ("right_wrist", "left_wrist"),
    "Hip": ("right_hip", "left_hip"),
    "Knee": ("right_knee", "left_knee"),
    "Ankle": ("right_ankle", "left_ankle"),
}
_J = len(POSETRACK_EVAL_JOINTS)


@dataclass
class _People:
    points: np.ndarray  # (N, 15, 2)
    present: np.ndarray  # (N, 15) bool
    scores: np.ndarray  # (N, 15)
    head: np.ndarray  # (N,) head size, NaN when the person has no bbox_head

    def keep(self, rows: np.ndarray) -> _People:
        return _People(self.points[rows], self.present[rows], self.scores[rows], self.head[rows])


@dataclass
class _Frame:
    gt: _People
    pred: _People
    regions: list[np.ndarray] = field(default_factory=list)  # polygons (n, 2)


def _people(annotations: list[dict], slots: list[int | None], where: str, gt: bool) -> _People:
    n = len(annotations)
    points = np.zeros((n, _J, 2))
    present = np.zeros((n, _J), bool)
    scores = np.full((n, _J), np.nan)
    head = np.full(n, np.nan)
    for i, ann in enumerate(annotations):
        flat = ann.get("keypoints")
        if flat is None or len(flat) != 3 * len(slots):
            got = "none" if flat is None else f"{len(flat)} numbers"
            raise ValueError(
                f"{where}: annotation {ann.get('id')} needs {3 * len(slots)} keypoint numbers, has {got}"
            )
        person_scores = ann.get("scores") or []  # poseval: an empty list means no scores
        if person_scores and len(person_scores) != len(slots):
            raise ValueError(
                f"{where}: annotation {ann.get('id')} has {len(person_scores)} scores for {len(slots)} keypoints"
            )
        try:
            finite = bool(np.isfinite(np.asarray([*flat, *person_scores], np.float64)).all())
        except (TypeError, ValueError):
            finite = False
        if not finite:  # a NaN score would rank as the most confident detection
            raise ValueError(
                f"{where}: annotation {ann.get('id')} has keypoints or scores that are not finite "
                "numbers (NaN, Infinity or text)"
            )
        for s, joint in enumerate(slots):
            if joint is None:
                continue
            x, y, v = flat[3 * s : 3 * s + 3]
            if x == 0 and y == 0 and v == 0:  # unannotated / not predicted
                continue
            points[i, joint] = (x, y)
            present[i, joint] = True
            scores[i, joint] = person_scores[s] if person_scores else MISSING_SCORE
        box = ann.get("bbox_head")
        if box is not None:
            head[i] = 0.6 * math.hypot(box[2], box[3])
        elif gt and present[i].any():
            raise ValueError(
                f"{where}: ground-truth annotation {ann.get('id')} has joints but no bbox_head"
            )
    return _People(points, present, scores, head)


def _regions(image: dict) -> list[np.ndarray]:
    xs, ys = image.get("ignore_regions_x"), image.get("ignore_regions_y")
    if not xs or not ys:
        return []
    polygons = [np.asarray(list(zip(x, y)), float).reshape(-1, 2) for x, y in zip(xs, ys)]
    return [p for p in polygons if len(p) >= 3]


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Points ``(N, 2)`` strictly inside a polygon ``(M, 2)`` (even-odd rule; the boundary is
    outside, as shapely's ``contains``) -> ``(N,)`` bool."""
    a = polygon[None]  # (1, M, 2)
    b = np.roll(polygon, -1, axis=0)[None]
    p = points[:, None]  # (N, 1, 2)
    ay, by, px, py = a[..., 1], b[..., 1], p[..., 0], p[..., 1]
    crosses = (ay > py) != (by > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = a[..., 0] + (py - ay) * (b[..., 0] - a[..., 0]) / (by - ay)
    inside = (crosses & (px < x_at)).sum(-1) % 2 == 1
    cross = (b[..., 0] - a[..., 0]) * (py - ay) - (by - ay) * (px - a[..., 0])
    on_edge = (
        (cross == 0)
        & (px >= np.minimum(a[..., 0], b[..., 0]))
        & (px <= np.maximum(a[..., 0], b[..., 0]))
        & (py >= np.minimum(ay, by))
        & (py <= np.maximum(ay, by))
    ).any(-1)
    return inside & ~on_edge


def _drop_ignored(people: _People, regions: list[np.ndarray]) -> _People:
    """Remove joints inside the regions, then people without joints (frames with regions only)."""
    if not regions or len(people.points) == 0:
        return people
    flat = people.points.reshape(-1, 2)
    ignored = np.zeros(len(flat), bool)
    for polygon in regions:
        ignored |= inside_polygon(flat, polygon)
    present = people.present & ~ignored.reshape(people.present.shape)
    people = _People(people.points, present, people.scores, people.head)
    return people.keep(present.any(1))


def _frames(gt: dict, pred: dict, where: str) -> list[_Frame]:
    gt_slots, pred_slots = eval_joint_slots(gt), eval_joint_slots(pred)
    images = gt["images"]
    ids = {im["id"] for im in images}
    gt_by_image: dict[Any, list[dict]] = {i: [] for i in ids}
    for ann in gt["annotations"]:
        if ann.get("image_id") in gt_by_image:
            gt_by_image[ann["image_id"]].append(ann)
    pred_by_image: dict[Any, list[dict]] = {i: [] for i in ids}
    for ann in pred["annotations"]:
        if ann.get("image_id") not in pred_by_image:
            raise ValueError(
                f"{where}: prediction {ann.get('id')} is for image_id {ann.get('image_id')}, which "
                f"is not a frame of the ground truth"
            )
        pred_by_image[ann["image_id"]].append(ann)
    videos: dict[str, list[dict]] = {}  # poseval groups frames by video folder, in file order
    for image in images:
        videos.setdefault(str(Path(image["file_name"]).parent), []).append(image)
    frames = []
    for video in videos.values():
        for image in video:
            people = gt_by_image[image["id"]]
            if not people:  # frames without ground truth people are not evaluated
                continue
            name = f"{where} ({image['file_name']})"
            regions = _regions(image)
            frames.append(
                _Frame(
                    _drop_ignored(_people(people, gt_slots, name, gt=True), regions),
                    _drop_ignored(
                        _people(pred_by_image[image["id"]], pred_slots, name, gt=False), regions
                    ),
                    regions,
                )
            )
    return frames


def _assign(frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Per-prediction labels ``(P, 15)``: the joint matches the person its pose is assigned to."""
    gt, pred = frame.gt, frame.pred
    p_count, g_count = len(pred.points), len(gt.points)
    labels = np.zeros((p_count, _J), bool)
    if p_count == 0 or g_count == 0:
        return labels, pred.present
    both = pred.present[:, None] & gt.present[None]  # (P, G, 15)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = (
            np.linalg.norm(pred.points[:, None] - gt.points[None], axis=-1) / gt.head[None, :, None]
        )
    distance = np.where(both, distance, np.inf)
    match = distance <= PCKH_THRESHOLD  # NaN (no head box) never matches
    annotated = gt.present.sum(1)  # (G,)
    pckh = match.sum(-1).astype(np.float64)
    pckh = np.where(annotated[None] > 0, pckh / np.maximum(annotated[None], 1), pckh)
    best = pckh.argmax(1)  # each prediction keeps its best person only
    kept = np.zeros_like(pckh)
    kept[np.arange(p_count), best] = pckh[np.arange(p_count), best]
    chosen = kept.argmax(0)  # each person takes the prediction with the highest PCKh
    chosen[kept.max(0) == 0] = -1
    for g, p in enumerate(chosen):
        if p >= 0:
            labels[p] = match[p, g]
    return labels, pred.present


def _average_precision(
    scores: np.ndarray, labels: np.ndarray, positives: int
) -> tuple[float, float, float]:
    """poseval's per-joint AP, final precision and final recall (x100)."""
    if len(scores) == 0:
        return 0.0, 0.0, 0.0
    order = np.asarray(scores, np.float64).argsort()[::-1]  # NumPy's default sort, as poseval
    true = np.cumsum(labels[order])
    precision = true / np.arange(1, len(true) + 1)
    if positives == 0:
        return float("nan"), float(precision[-1] * 100), float("nan")
    recall = true / positives
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    ap = float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))
    return ap * 100, float(precision[-1] * 100), float(recall[-1] * 100)


@dataclass(frozen=True)
class PoseTrackAP:
    """Per-joint results (percent) in poseval's joint order ``POSETRACK_EVAL_JOINTS``."""

    ap: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    num_gt: tuple[int, ...]  #: annotated ground-truth joints evaluated, per joint
    num_frames: int

    def summary(self, values: str = "ap") -> dict[str, float]:
        """``{"Head": .., "Shoulder": .., ..., "Ankle": .., "Total": ..}`` of ``ap``,
        ``precision`` or ``recall`` (Total: mean over the 15 joints, NaN joints left out)."""
        per_joint = np.asarray(getattr(self, values), np.float64)
        index = {name: i for i, name in enumerate(POSETRACK_EVAL_JOINTS)}
        rows = {
            row: float(per_joint[[index[j] for j in joints]].mean()) for row, joints in ROWS.items()
        }
        finite = per_joint[~np.isnan(per_joint)]
        rows["Total"] = float(finite.mean()) if finite.size else float("nan")
        return rows

    def table(self) -> str:
        """The AP / precision / recall table as poseval prints it (one decimal)."""
        names = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")
        lines = [f"{'':<10}" + "".join(f"{n:>7}" for n in names)]
        for label, key in (("AP", "ap"), ("Precision", "precision"), ("Recall", "recall")):
            lines.append(f"{label:<10}" + "".join(f"{v:7.1f}" for v in self.summary(key).values()))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary rows and the per-joint values."""
        return {
            "ap": self.summary("ap"),
            "precision": self.summary("precision"),
            "recall": self.summary("recall"),
            "num_frames": self.num_frames,
            "per_joint": {
                name: {"ap": a, "precision": p, "recall": r, "num_gt": n}
                for name, a, p, r, n in zip(
                    POSETRACK_EVAL_JOINTS, self.ap, self.precision, self.recall, self.num_gt
                )
            },
        }


Source = str | Path | Mapping[str, Any]


def _pairs(
    gt: Source | Sequence[Mapping[str, Any]], predictions: Source | Sequence[Mapping[str, Any]]
):
    """(where, gt dict, prediction dict) for each video file."""
    if isinstance(gt, Mapping) or isinstance(predictions, Mapping):
        if not (isinstance(gt, Mapping) and isinstance(predictions, Mapping)):
            raise TypeError(
                "give gt and predictions both as dicts, both as lists of dicts, or both as paths"
            )
        return [("the given dicts", load_posetrack(dict(gt)), load_posetrack(dict(predictions)))]
    if isinstance(gt, (list, tuple)):
        if not isinstance(predictions, (list, tuple)) or len(gt) != len(predictions):
            raise ValueError("lists of gt and prediction dicts must have the same length")
        return [
            (f"video {i}", load_posetrack(dict(g)), load_posetrack(dict(p)))
            for i, (g, p) in enumerate(zip(gt, predictions))
        ]
    gt_path, pred_path = Path(gt), Path(predictions)
    pairs = []
    for file in posetrack_files(gt_path):
        pred_file = pred_path / file.name if gt_path.is_dir() else pred_path
        if gt_path.is_dir() and not pred_path.is_dir():
            raise NotADirectoryError(
                f"ground truth {gt_path} is a directory, so predictions must be one too: {pred_path}"
            )
        if not pred_file.is_file():
            raise FileNotFoundError(f"no prediction file {pred_file} for ground truth {file}")
        pairs.append((str(pred_file), load_posetrack(file), load_posetrack(pred_file)))
    return pairs


def evaluate_posetrack(
    gt: Source | Sequence[Mapping[str, Any]], predictions: Source | Sequence[Mapping[str, Any]]
) -> PoseTrackAP:
    """PoseTrack multi-person pose AP (poseval ``-e``).

    Args:
        gt: a directory of per-video ground-truth JSON files, one file, a loaded dict, or a list of
            them (PoseTrack18/21 layout, or PoseTrack17 ``annolist`` files).
        predictions: the same form: a directory with a file of the same name per ground-truth
            file, a file, a dict or a list. Each predicted person is an annotation with
            ``image_id``, 17 ``keypoints`` (x, y, v) and 17 per-joint ``scores``.

    Returns:
        [PoseTrackAP][tarpose.eval.posetrack.PoseTrackAP]; ``.summary()["Total"]`` is the PoseTrack mAP.
    """
    scores: list[list[np.ndarray]] = [[] for _ in range(_J)]
    labels: list[list[np.ndarray]] = [[] for _ in range(_J)]
    positives = np.zeros(_J, np.int64)
    num_frames = 0
    for where, gt_data, pred_data in _pairs(gt, predictions):
        for frame in _frames(gt_data, pred_data, where):
            num_frames += 1
            frame_labels, present = _assign(frame)
            for j in range(_J):
                scores[j].append(frame.pred.scores[present[:, j], j])
                labels[j].append(frame_labels[present[:, j], j])
            positives += frame.gt.present.sum(0)
    results = [
        _average_precision(
            np.concatenate(scores[j]) if scores[j] else np.zeros(0),
            np.concatenate(labels[j]) if labels[j] else np.zeros(0, bool),
            int(positives[j]),
        )
        for j in range(_J)
    ]
    ap, precision, recall = (tuple(r[i] for r in results) for i in range(3))
    return PoseTrackAP(ap, precision, recall, tuple(int(p) for p in positives), num_frames)


def write_posetrack_predictions(
    gt: str | Path, predictions: Iterable[Mapping[str, Any]], out_dir: str | Path
) -> list[Path]:
    """Write predictions as PoseTrack18 files next to the ground truth's layout.

    Args:
        gt: the ground-truth directory (or one file); each output file copies its ``images`` and
            ``categories``.
        predictions: one dict per predicted person: ``image_id``, ``keypoints`` (17 x 2 or
            17 x 3, image pixels, slot order of ``POSETRACK_KEYPOINTS``),
            ``scores`` (17 per-joint scores), optional ``track_id`` and ``score``.
        out_dir: where to write one file per ground-truth file, of the same name.

    Returns:
        The written paths.
    """
    files = posetrack_files(gt)
    loaded = [(f, load_posetrack(f)) for f in files]
    owner = {im["id"]: n for n, (_, d) in enumerate(loaded) for im in d["images"]}
    per_file: list[list[dict]] = [[] for _ in loaded]
    for person in predictions:
        image_id = person["image_id"]
        if image_id not in owner:
            raise ValueError(
                f"prediction for image_id {image_id}, which no ground-truth file in {gt} lists"
            )
        kp = np.asarray(person["keypoints"], np.float64)
        sc = np.asarray(person["scores"], np.float64).reshape(-1)
        if kp.ndim != 2 or kp.shape[1] not in (2, 3) or sc.shape != (kp.shape[0],):
            raise ValueError(
                f"keypoints must be (K, 2|3) and scores (K,); got {kp.shape} and {sc.shape}"
            )
        flat = np.concatenate([kp[:, :2], np.ones((len(kp), 1))], 1).reshape(-1)
        n = owner[image_id]
        entry = {
            "image_id": image_id,
            "category_id": 1,
            "keypoints": flat.tolist(),
            "scores": sc.tolist(),
            "track_id": int(person.get("track_id", len(per_file[n]))),
            "id": len(per_file[n]),
        }
        if "score" in person:
            entry["score"] = float(person["score"])
        per_file[n].append(entry)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (file, data), people in zip(loaded, per_file):
        path = out_dir / file.name
        with open(path, "w") as f:
            json.dump(
                {
                    "images": data["images"],
                    "annotations": people,
                    "categories": data.get("categories", []),
                },
                f,
            )
        written.append(path)
    return written

"""The bundled demo models and the comparison that shows what temporal aggregation buys.

Two models ship inside tarpose, both trained on the procedural videos of
`tarpose.data.synthetic` with ``tarpose train`` (``examples/train_demo.py`` reproduces them):

- ``vitpose-demo``: a small single-frame ViTPose, and
- ``tar-vitpose-demo``: the same ViTPose wrapped in JTA/GRA, trained for as many extra steps as
  the single-frame model got after their shared first stage.

``tarpose.load_model(name)`` loads either; [predict_video][tarpose.demo.predict_video] runs them over every frame of a video
(windows ``t-2 .. t+2`` cropped with frame ``t``'s box); [compare][tarpose.demo.compare] scores them on clean and
corrupted frames (PCK@0.05 of the box's longer side, COCO OKS AP, jitter), by corruption kind and
by motion speed (`SPEED_EDGES`).

The obvious alternative to a temporal model is a filter over the single-frame model's keypoint
tracks (`tarpose.filters`), so every comparison also shows each model after its best filter:
`select_filter` picks it among `FILTER_CANDIDATES` on validation videos (the ``val``
split, never the test split) and `apply_filters` adds the filtered tracks as
``"<model>+filter"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch
from einops import rearrange
from torch import Tensor, nn

from ..data.synthetic.corruptions import KINDS
from ..eval import bbox_size, jitter, oks_ap, pck
from ..filters import KeypointFilter, build_filter
from ..geometry import normalize_images
from ..models.demo import ASSETS as ASSETS, DEMO_MODELS as DEMO_MODELS  # re-exported
from ..preprocess import resolve_data_config
from ..topdown import box_matrices, heatmaps_to_keypoints
from ..window import window_of

if TYPE_CHECKING:
    from ..data.synthetic import SyntheticVideo

#: names of the models in results, as in ``tarpose demo --json``: the single-frame model, the
#: centred TAR, the causal TAR
SINGLE, TEMPORAL, CAUSAL = "single_frame", "temporal", "causal"
#: a model's name plus this: its keypoint tracks after its filter (``"single_frame+filter"``), or
#: after its best causal filter (``"single_frame+causal_filter"``: no latency, for live video)
FILTERED, CAUSAL_FILTERED = "+filter", "+causal_filter"

#: the filters `select_filter` tries: centred median, score-weighted mean and Savitzky-Golay
#: windows, and the causal One-Euro filter over a grid (tracks taken as 30 frames per second)
FILTER_CANDIDATES: tuple[str, ...] = (
    *(f"median:window={w}" for w in (3, 5, 7, 9, 11, 13)),
    *(f"mean:window={w}" for w in (3, 5, 7, 9, 11, 13)),
    *(f"savgol:window={w},order={p}" for w in (5, 7, 9, 11, 13, 15) for p in (1, 2, 3)),
    *(f"one-euro:min_cutoff={c},beta={b},fps=30" for c in (0.3, 1, 3, 6, 10) for b in (0, 0.01, 0.1, 0.3)),
)
#: the causal filters (no latency) a live model's tracks may take: trailing median, score-weighted
#: mean and Savitzky-Golay windows, One-Euro and the constant-velocity Kalman filter over grids
CAUSAL_FILTER_CANDIDATES: tuple[str, ...] = (
    *(f"median:window={w},causal=true" for w in (2, 3, 4, 5, 7)),
    *(f"mean:window={w},causal=true" for w in (2, 3, 4, 5, 7)),
    *(f"savgol:window={w},order={p},causal=true" for w in (4, 5, 7, 9) for p in (1, 2) if p < w - 1),
    *(f"one-euro:min_cutoff={c},beta={b},fps=30" for c in (0.3, 1, 3, 6, 10) for b in (0, 0.01, 0.1, 0.3)),
    *(f"kalman:process={q},measurement={r}" for q in (0.3, 1, 3, 10) for r in (1, 4, 16, 64)),
)

#: motion-speed buckets, in % of the box's longer side per frame (`frame_speed`): slow
#: below 0.6, medium 0.6 to 1.1, fast above; the terciles (0.59, 1.09) of 256 validation videos x
#: 32 frames, rounded
SPEED_EDGES: tuple[float, float] = (0.6, 1.1)
SPEEDS: tuple[str, str, str] = ("slow", "medium", "fast")


@dataclass
class VideoPredictions:
    """Keypoints ``(F, J, 2)`` (image pixels) and scores ``(F, J)`` of both models on a video
    (and of filtered tracks, ``"<model>+filter"``), with the video's labels: ``keypoints``
    ``(F, J, 2)``, ``visible`` ``(F, J)`` bool (labelled), ``boxes`` ``(F, 4)``, ``areas``
    ``(F,)``, ``corrupted`` ``(F,)`` bool, ``corruption`` ``(F,)`` bit masks; ``filters``: the
    filter behind each ``"<model>+filter"``."""

    predictions: dict[str, Tensor]
    scores: dict[str, Tensor]
    keypoints: Tensor
    visible: Tensor
    boxes: Tensor
    areas: Tensor
    corrupted: Tensor
    corruption: Tensor
    filters: dict[str, KeypointFilter] = field(default_factory=dict)


@torch.no_grad()
def predict_video(
    video: SyntheticVideo,
    single: nn.Module,
    temporal: nn.Module,
    input_size: tuple[int, int] | None = None,
    padding: float = 1.25,
    batch_size: int = 16,
    filters: Mapping[str, KeypointFilter | str] | None = None,
    causal: nn.Module | None = None,
) -> VideoPredictions:
    """Run the models over every frame of a [SyntheticVideo][tarpose.data.synthetic.SyntheticVideo].

    Frame ``t``'s person box (the ground-truth silhouette box: the comparison is about the pose
    model, not a detector) crops the frames of a temporal model's window around ``t``
    (``t-2 .. t+2`` centred, ``t-4 .. t`` causal, clamped at the ends and marked invalid); the
    single-frame model sees frame ``t`` of the same crops. Crops are made as the temporal model's
    ``data_config`` says, in its geometry ([tarpose.geometry][tarpose.geometry]), which the other
    models must share.

    Args:
        video: the video.
        single: the single-frame model, ``(N, 3, H, W) -> (N, J, h, w)``.
        temporal: the temporal model, ``(B, T, 3, H, W) -> (B, J, h, w)`` (`TEMPORAL`).
        input_size: crop ``(H, W)`` (default: the temporal model's).
        padding: box enlargement.
        batch_size: target frames per forward pass.
        filters: model name (`SINGLE`, `TEMPORAL`, `CAUSAL`) -> filter; each model's filtered
            tracks are added as ``"<model>+filter"`` (`apply_filters`). ``None``: no filtered tracks.
        causal: a second temporal model, predictions added as `CAUSAL` (the causal TAR, whose
            window ends at the target frame).
    """
    data = resolve_data_config(temporal, input_size=input_size)
    input_size, geometry = data.input_size, data.geometry
    models = {TEMPORAL: temporal, **({CAUSAL: causal} if causal is not None else {})}
    for other in (single, *models.values()):
        theirs = getattr(getattr(other, "data_config", None), "geometry", geometry)
        if theirs != geometry:
            raise ValueError(
                f"the models were trained in different geometries ({theirs!r} and {geometry!r}): "
                "they cannot share crops"
            )
    f = video.num_frames
    preds: dict[str, list[Tensor]] = {SINGLE: [], **{name: [] for name in models}}
    scores: dict[str, list[Tensor]] = {name: [] for name in preds}
    areas = torch.zeros(f)
    for start in range(0, f, batch_size):
        ts = torch.arange(start, min(start + batch_size, f))
        matrix = box_matrices(video.boxes[ts], input_size, padding, geometry)  # (b, 2, 3)
        for name, model in models.items():
            window = window_of(model)
            num_frames, target = window.length, window.target_index
            index, valid = window.indices(ts, f)  # (b, T) clamped, (b, T)
            crops, area = video.render(
                index.flatten(), matrix=matrix.repeat_interleave(num_frames, 0), size=input_size
            )
            clip = rearrange(normalize_images(crops, data.mean, data.std), "(b t) c h w -> b t c h w", t=num_frames)
            outputs = [(name, model(clip, frame_valid=valid))]
            if name == TEMPORAL:  # the single-frame model sees the same crop of frame t
                areas[ts] = area.view(len(ts), num_frames)[:, target]
                outputs.append((SINGLE, single(clip[:, target])))
            for key, heatmaps in outputs:
                points, score = heatmaps_to_keypoints(heatmaps, matrix, input_size, geometry=geometry)
                preds[key].append(points.float())
                scores[key].append(score)
    result = VideoPredictions(
        predictions={k: torch.cat(v) for k, v in preds.items()},
        scores={k: torch.cat(v) for k, v in scores.items()},
        keypoints=video.keypoints,
        visible=video.visibility > 0,
        boxes=video.boxes,
        areas=areas,
        corrupted=video.corruption != 0,
        corruption=video.corruption,
    )
    return apply_filters(result, filters) if filters else result


def apply_filters(
    result: VideoPredictions, filters: Mapping[str, KeypointFilter | str], suffix: str = FILTERED
) -> VideoPredictions:
    """A copy of ``result`` with ``"<model><suffix>"`` tracks (``"single_frame+filter"``): each
    named model's keypoints ``(F, J, 2)`` through its filter (the whole video offline, the scores
    as weights for ``mean`` and ``kalman``; scores unchanged), listed right after the model. Tracks
    filtered before with another suffix (`CAUSAL_FILTERED`) are kept."""
    built = {model: build_filter(f) for model, f in filters.items()}
    unknown = set(built) - set(result.predictions)
    if unknown:
        raise ValueError(f"no predictions of {sorted(unknown)} to filter; models: {list(result.predictions)}")
    preds, scores = {}, {}
    for model, pred in result.predictions.items():
        if model.endswith(suffix):
            continue
        preds[model], scores[model] = pred, result.scores[model]
        if model in built:
            preds[model + suffix] = built[model](pred, result.scores[model].to(pred.dtype))
            scores[model + suffix] = result.scores[model]
    kept = {k: f for k, f in result.filters.items() if not k.endswith(suffix)}
    return replace(result, predictions=preds, scores=scores,
                   filters={**kept, **{f"{m}{suffix}": f for m, f in built.items()}})


def frame_speed(keypoints: Tensor, boxes: Tensor) -> Tensor:
    """Ground-truth motion speed of each frame: the mean over joints of the keypoint displacement
    per frame (central differences, one-sided at the ends), in % of the box's longer side.

    Args:
        keypoints: ``(F, J, 2)`` ground-truth keypoints of one video (``F >= 2``).
        boxes: ``(F, 4)`` the person's boxes ``x, y, w, h``.

    Returns:
        ``(F,)`` float64 speeds.
    """
    if keypoints.ndim != 3 or keypoints.shape[0] < 2 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (F, J, 2) with F >= 2, got {tuple(keypoints.shape)}")
    k = keypoints.double()
    step = torch.cat([k[1:2] - k[:1], (k[2:] - k[:-2]) / 2, k[-1:] - k[-2:-1]])  # (F, J, 2)
    return 100 * step.norm(dim=-1).mean(-1) / bbox_size(boxes).double()


def speed_buckets(speed: Tensor) -> dict[str, Tensor]:
    """``{"slow", "medium", "fast"}`` -> ``(F,)`` bool masks of `frame_speed` values split at
    `SPEED_EDGES`."""
    lo, hi = SPEED_EDGES
    return {"slow": speed < lo, "medium": (speed >= lo) & (speed < hi), "fast": speed >= hi}


@dataclass
class FilterChoice:
    """What `select_filter` picked.

    Attributes:
        model: the model whose tracks were filtered.
        filter: the best candidate.
        metric: what was maximised (a `compare` key such as ``"pck_all"``).
        score: the best candidate's ``metric`` on the validation videos.
        unfiltered: the model's own ``metric`` there.
        scores: every candidate's ``metric`` (spec -> value).
    """

    model: str
    filter: KeypointFilter
    metric: str
    score: float
    unfiltered: float
    scores: dict[str, float]


def select_filter(
    results: Sequence[VideoPredictions],
    model: str,
    candidates: Sequence[KeypointFilter | str] = FILTER_CANDIDATES,
    metric: str = "pck_all",
) -> FilterChoice:
    """The filter that maximises ``metric`` of ``model``'s tracks over ``results``.

    Pass predictions on validation videos (``split_seeds("val", ...)``), never the videos the
    choice is then measured on. The first of equally good candidates wins.

    Args:
        results: predictions on validation videos (`predict_video`).
        model: which model's tracks to filter (``"single_frame"`` or ``"temporal"``).
        candidates: filters or their names (default `FILTER_CANDIDATES`).
        metric: a `compare` key: ``pck_<subset>`` or ``ap_<subset>`` with subset ``all``,
            ``clean`` or ``corrupted``.
    """
    kind, _, subset = metric.partition("_")
    if kind not in ("pck", "ap") or subset not in ("all", "clean", "corrupted"):
        raise ValueError(f"metric must be pck_/ap_ + all/clean/corrupted, got {metric!r}")
    if not results:
        raise ValueError("select_filter needs at least one video's predictions")
    if not candidates:
        raise ValueError("select_filter needs at least one candidate filter")
    filters = [build_filter(c) for c in candidates]

    def score(name: str, videos: Sequence[VideoPredictions]) -> float:
        return _metric(videos, name, kind, subset)

    unfiltered = score(model, results)
    scores: dict[str, float] = {}
    for f in filters:
        scores[f.spec()] = score(model + FILTERED, [apply_filters(r, {model: f}) for r in results])
    best = max(range(len(filters)), key=lambda i: (scores[filters[i].spec()], -i))
    return FilterChoice(model, filters[best], metric, scores[filters[best].spec()], unfiltered, scores)


def _metric(results: Sequence[VideoPredictions], name: str, kind: str, subset: str) -> float:
    """One metric of one prediction set (``kind`` ``"pck"`` or ``"ap"``) over a subset of frames."""
    cat = lambda key: torch.cat([getattr(r, key) for r in results])  # noqa: E731
    corrupted = cat("corrupted")
    sel = {"all": torch.ones_like(corrupted), "clean": ~corrupted, "corrupted": corrupted}[subset]
    if not bool(sel.any()):
        return float("nan")
    pred = torch.cat([r.predictions[name] for r in results])[sel]
    gt, visible = cat("keypoints")[sel], cat("visible")[sel]
    if kind == "pck":
        return 100 * pck(pred, gt, visible, bbox_size(cat("boxes"))[sel], 0.05)
    score = torch.cat([r.scores[name] for r in results]).mean(-1)[sel]
    return 100 * oks_ap(pred, score, gt, visible, cat("areas")[sel].double()).ap


def compare(
    results: Sequence[VideoPredictions], kinds: bool = False, speeds: bool = False
) -> dict[str, dict[str, float]]:
    """Scores of every prediction set over some videos: ``{"single_frame": {...}, "temporal":
    {...}}``, and ``"<model>+filter"`` where `apply_filters` added filtered tracks.

    Each holds ``pck_clean``, ``pck_corrupted``, ``pck_all`` (PCK@0.05 of the box's longer
    side, in %), ``ap_clean``, ``ap_corrupted``, ``ap_all`` (COCO OKS AP with the silhouette areas,
    in %), ``jitter`` (mean keypoint acceleration, px/frame^2, over every frame); with ``kinds``,
    ``pck_<kind>`` for each corruption kind present; with ``speeds``, ``pck_<speed>``,
    ``pck_<speed>_clean`` and ``pck_<speed>_corrupted`` for the motion-speed buckets ``slow``,
    ``medium``, ``fast`` (`frame_speed`, `SPEED_EDGES`). NaN where a subset is empty.
    """
    if not results:
        raise ValueError("compare needs at least one video's predictions")
    cat = lambda name: torch.cat([getattr(r, name) for r in results])  # noqa: E731
    gt, visible, boxes, areas = cat("keypoints"), cat("visible"), cat("boxes"), cat("areas")
    corrupted, code = cat("corrupted"), cat("corruption")
    norm = bbox_size(boxes)
    subsets = {"clean": ~corrupted, "corrupted": corrupted, "all": torch.ones_like(corrupted)}
    if kinds:
        subsets.update({kind: (code & bit) != 0 for kind, bit in KINDS.items()})
    if speeds:
        buckets = speed_buckets(torch.cat([frame_speed(r.keypoints, r.boxes) for r in results]))
        for name, sel in buckets.items():
            subsets.update({name: sel, f"{name}_clean": sel & ~corrupted, f"{name}_corrupted": sel & corrupted})
    out: dict[str, dict[str, float]] = {}
    for model in results[0].predictions:
        pred = torch.cat([r.predictions[model] for r in results])
        score = torch.cat([r.scores[model] for r in results]).mean(-1)
        row: dict[str, float] = {}
        for subset, sel in subsets.items():
            with_ap = subset in ("clean", "corrupted", "all")
            if not bool(sel.any()):
                row[f"pck_{subset}"] = float("nan")
                if with_ap:
                    row[f"ap_{subset}"] = float("nan")
                continue
            row[f"pck_{subset}"] = 100 * pck(pred[sel], gt[sel], visible[sel], norm[sel], 0.05)
            if with_ap:
                ap = oks_ap(pred[sel], score[sel], gt[sel], visible[sel], areas[sel].double())
                row[f"ap_{subset}"] = 100 * ap.ap
        row["jitter"] = mean_jitter([r.predictions[model] for r in results], [r.visible for r in results])
        out[model] = row
    return out


def mean_jitter(tracks: Sequence[Tensor], visible: Sequence[Tensor]) -> float:
    """Mean acceleration over all videos' labelled joint triples (px / frame^2).

    Args:
        tracks: keypoint tracks ``(F, J, 2)``, one per video.
        visible: labelled joints ``(F, J)`` bool, one per video.
    """
    total, count = 0.0, 0
    for x, v in zip(tracks, visible):
        n = int((v[2:] & v[1:-1] & v[:-2]).sum())
        if n:
            total += jitter(x, v) * n
            count += n
    return total / count if count else float("nan")

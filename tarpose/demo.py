"""The bundled demo models and the comparison that shows what temporal aggregation buys.

Two models ship inside tarpose, both trained on the procedural videos of
:mod:`tarpose.data.synthetic` with ``tarpose train`` (``examples/train_demo.py`` reproduces them):

- ``vitpose-demo``: a small single-frame ViTPose, and
- ``tar-vitpose-demo``: the same ViTPose wrapped in JTA/GRA, trained for as many extra steps as
  the single-frame model got after their shared first stage.

:func:`load_demo_models` loads both; :func:`predict_video` runs them over every frame of a video
(windows ``t-2 .. t+2`` cropped with frame ``t``'s box); :func:`compare` scores them on clean and
corrupted frames (PCK@0.05 of the box's longer side, COCO OKS AP, jitter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from einops import rearrange
from torch import Tensor, nn

from .codec import decode_heatmaps, heatmap_to_image
from .data.synthetic.corruptions import KINDS
from .eval import bbox_size, jitter, oks_ap, pck
from .factory import load_model
from .geometry import box_to_center_scale, crop_matrices, normalize_images
from .models.demo import ASSETS
from .preprocess import resolve_data_config
from .window import window_of

if TYPE_CHECKING:
    from .data.synthetic import SyntheticVideo

#: model name -> its bundled directory in ``ASSETS`` (config.json, model.safetensors, model card)
DEMO_WEIGHTS: dict[str, str] = {
    "vitpose-demo": "vitpose-demo",
    "tar-vitpose-demo": "tar-vitpose-demo",
}
#: names of the two models in results, as in ``tarpose demo --json``
SINGLE, TEMPORAL = "single_frame", "temporal"


def load_demo_model(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """One bundled demo model (``"vitpose-demo"`` or ``"tar-vitpose-demo"``), loaded strictly by
    ``tarpose.load_model``, in eval mode. Needs no network.

    Args:
        name: the model's name.
        device: where to put it.
    """
    if name not in DEMO_WEIGHTS:
        raise ValueError(f"unknown demo model {name!r}; bundled: {', '.join(DEMO_WEIGHTS)}")
    path = ASSETS / DEMO_WEIGHTS[name]
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"the bundled weights {path} are missing (a broken install?)")
    return load_model(path).to(device).eval()  # float16 on disk, float32 in the model


def load_demo_models(device: str | torch.device = "cpu") -> tuple[nn.Module, nn.Module]:
    """``(single_frame, temporal)``: the bundled ``vitpose-demo`` and ``tar-vitpose-demo``.

    Args:
        device: where to put them.
    """
    return load_demo_model("vitpose-demo", device), load_demo_model("tar-vitpose-demo", device)


@dataclass
class VideoPredictions:
    """Keypoints ``(F, J, 2)`` (image pixels) and scores ``(F, J)`` of both models on a video,
    with the video's labels: ``keypoints`` ``(F, J, 2)``, ``visible`` ``(F, J)`` bool (labelled),
    ``boxes`` ``(F, 4)``, ``areas`` ``(F,)``, ``corrupted`` ``(F,)`` bool, ``corruption`` ``(F,)``
    bit masks."""

    predictions: dict[str, Tensor]
    scores: dict[str, Tensor]
    keypoints: Tensor
    visible: Tensor
    boxes: Tensor
    areas: Tensor
    corrupted: Tensor
    corruption: Tensor


@torch.no_grad()
def predict_video(
    video: SyntheticVideo,
    single: nn.Module,
    temporal: nn.Module,
    input_size: tuple[int, int] | None = None,
    padding: float = 1.25,
    batch_size: int = 16,
) -> VideoPredictions:
    """Run both models over every frame of a :class:`~tarpose.data.synthetic.SyntheticVideo`.

    Frame ``t``'s person box (the ground-truth silhouette box: the comparison is about the pose
    model, not a detector) crops the frames of the temporal model's window around ``t``
    (``t-T .. t+T``, clamped at the ends and marked invalid); the single-frame model sees frame
    ``t`` of the same crops. Crops are made as the temporal model's ``data_config`` says.

    Args:
        video: the video.
        single: the single-frame model, ``(N, 3, H, W) -> (N, J, h, w)``.
        temporal: the temporal model, ``(B, T, 3, H, W) -> (B, J, h, w)``.
        input_size: crop ``(H, W)`` (default: the temporal model's).
        padding: box enlargement.
        batch_size: target frames per forward pass.
    """
    window = window_of(temporal)
    num_frames, centre = window.length, window.target_index
    data = resolve_data_config(temporal, input_size=input_size)
    input_size = data.input_size
    f = video.num_frames
    h, w = input_size
    preds: dict[str, list[Tensor]] = {SINGLE: [], TEMPORAL: []}
    scores: dict[str, list[Tensor]] = {SINGLE: [], TEMPORAL: []}
    areas = torch.zeros(f)
    for start in range(0, f, batch_size):
        ts = torch.arange(start, min(start + batch_size, f))
        index, valid = window.indices(ts, f)  # (b, T) clamped, (b, T)
        c, s = box_to_center_scale(video.boxes[ts].double(), aspect_ratio=w / h, padding=padding)
        matrix = crop_matrices(c, s, input_size)  # (b, 2, 3)
        crops, area = video.render(
            index.flatten(), matrix=matrix.repeat_interleave(num_frames, 0), size=input_size
        )
        areas[ts] = area.view(len(ts), num_frames)[:, centre]
        clip = rearrange(normalize_images(crops, data.mean, data.std), "(b t) c h w -> b t c h w", t=num_frames)
        for name, heatmaps in (
            (SINGLE, single(clip[:, centre])),
            (TEMPORAL, temporal(clip, frame_valid=valid)),
        ):
            coords, score = decode_heatmaps(heatmaps)
            preds[name].append(heatmap_to_image(coords, matrix, input_size, heatmaps.shape[-2:]).float())
            scores[name].append(score)
    return VideoPredictions(
        predictions={k: torch.cat(v) for k, v in preds.items()},
        scores={k: torch.cat(v) for k, v in scores.items()},
        keypoints=video.keypoints,
        visible=video.visibility > 0,
        boxes=video.boxes,
        areas=areas,
        corrupted=video.corruption != 0,
        corruption=video.corruption,
    )


def compare(results: Sequence[VideoPredictions], kinds: bool = False) -> dict[str, dict[str, float]]:
    """Scores of both models over some videos: ``{"single_frame": {...}, "temporal": {...}}``.

    Each holds ``pck_clean``, ``pck_corrupted``, ``pck_all`` (PCK@0.05 of the box's longer
    side, in %), ``ap_clean``, ``ap_corrupted``, ``ap_all`` (COCO OKS AP with the silhouette areas,
    in %), ``jitter`` (mean keypoint acceleration, px/frame^2, over every frame) and, with
    ``kinds``, ``pck_<kind>`` for each corruption kind present.
    """
    if not results:
        raise ValueError("compare needs at least one video's predictions")
    cat = lambda name: torch.cat([getattr(r, name) for r in results])
    gt, visible, boxes, areas = cat("keypoints"), cat("visible"), cat("boxes"), cat("areas")
    corrupted, code = cat("corrupted"), cat("corruption")
    norm = bbox_size(boxes)
    subsets = {"clean": ~corrupted, "corrupted": corrupted, "all": torch.ones_like(corrupted)}
    if kinds:
        subsets.update({kind: (code & bit) != 0 for kind, bit in KINDS.items()})
    out: dict[str, dict[str, float]] = {}
    for model in (SINGLE, TEMPORAL):
        pred = torch.cat([r.predictions[model] for r in results])
        score = torch.cat([r.scores[model] for r in results]).mean(-1)
        row: dict[str, float] = {}
        for subset, sel in subsets.items():
            if not bool(sel.any()):
                row[f"pck_{subset}"] = float("nan")
                if subset in ("clean", "corrupted", "all"):
                    row[f"ap_{subset}"] = float("nan")
                continue
            row[f"pck_{subset}"] = 100 * pck(pred[sel], gt[sel], visible[sel], norm[sel], 0.05)
            if subset in ("clean", "corrupted", "all"):
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

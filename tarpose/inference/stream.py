"""StreamingPredictor: frames and tracked person boxes in, keypoints out, each crop encoded once.

It owns no detector and no tracker: each frame comes with its people's boxes and the ids that
link them across frames ([PoseInferencer][tarpose.PoseInferencer] finds and tracks them;
[tarpose.detection][tarpose.detection] and [tarpose.tracking][tarpose.tracking] are the parts).

A temporal model has two halves ([TemporalWrapper][tarpose.TemporalWrapper]): ``encode`` (per frame: crop
-> feature map + initial heatmaps) and ``aggregate_restore`` (per window of ``T`` frames -> final
heatmaps of the target frame). The reference code recomputes all ``T`` frames of a window for
every output frame; here every person crop goes through ``encode`` exactly once (all persons of a
frame in one batch) and its outputs wait in a per-track cache until the windows that need them are
complete. Windows are assembled from the cache and run through ``aggregate_restore`` batched over
the persons of the frame. A model with ``frame_masks`` ([TemporalWrapper][tarpose.TemporalWrapper]) gets
each frame's JTA mask computed once, when the frame is encoded, and cached beside its features
and heatmaps; each window passes the cached masks, so JTA does not recompute them from the
heatmaps for every window a frame is part of.

Modes:

``"centred"`` (target in the middle of the window, the paper): frame ``t``'s output is ready once
    frame ``t + T//2`` has been pushed. [StreamingPredictor.flush][tarpose.inference.stream.StreamingPredictor.flush] emits the last frames
    with the window's missing future frames excluded through ``frame_valid``, so every frame gets
    an output. Latency: ``T//2`` frames.
``"causal"``: a model with ``target="last"`` (trained that way): output at once from frames
    ``t-T+1 .. t``. Latency: none.
``"exact"``: the training protocol, for evaluation: every frame of the window is cropped with the
    *target* frame's box and encoded afresh (``T`` encoder passes per output).

With ``keypoint_filter=`` each track's keypoints also go through a keypoint filter online
(`tarpose.filters`): a centred filter of window ``W`` delays every output by ``W//2`` more
frames; a causal one adds nothing.

Cached streaming crops each neighbour frame with that frame's OWN box (the box the person had
then), while training and ``"exact"`` crop the whole window with the target frame's box. The two
agree exactly when a person's box does not change across the window (tested), and differ slightly
when it moves.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from einops import rearrange
from torch import Tensor, nn

from ..boxes import as_boxes, as_scores
from ..codec import flip_shift
from ..filters import KeypointFilter, TrackFilter, build_filter
from ..keypoints import COCO_FLIP_PAIRS, flip_permutation
from ..preprocess import resolve_data_config
from ..topdown import (
    as_image_tensor,
    box_matrices,
    crop_images,
    flip_crops,
    heatmaps_to_keypoints,
    merge_flipped,
)
from ..window import window_of

#: the largest box enlargement (``padding``): a crop ten times the box already shows mostly
#: background, and far larger values overflow the crop geometry
MAX_PADDING = 10.0

Mode = Literal["centred", "causal", "exact"]
MODES: tuple[str, ...] = ("centred", "causal", "exact")
Precision = Literal["auto", "float32", "bfloat16"]


class TemporalModel(Protocol):
    """What the predictor needs of a model ([TemporalWrapper][tarpose.TemporalWrapper], or
    [OnnxTemporalModel][tarpose.inference.OnnxTemporalModel])."""

    num_frames: int
    target_index: int
    num_joints: int

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]: ...

    def aggregate_restore(
        self, features: Tensor, heatmaps: Tensor, frame_valid: Tensor | None = None
    ) -> Tensor: ...

    # optional: ``frame_masks(heatmaps (N, J, Hh, Wh), (h, w)) -> (N, J, h, w)`` bool, and then
    # ``aggregate_restore(features, heatmaps, frame_valid, mask=(B, T, J, h, w))``: JTA reads
    # ``mask`` in place of the mask of ``heatmaps``


@dataclass
class FramePoses:
    """The poses of one frame.

    Attributes:
        index: the frame's number in the stream (0 = the first frame pushed).
        track_ids: one id per person.
        boxes: ``(N, 4)`` float64 person boxes ``x, y, w, h`` as given.
        keypoints: ``(N, J, 2)`` float64 ``(x, y)`` in image pixel indices (pixel ``(i, j)`` is
            centred at ``(i, j)``, as COCO and transformers; [tarpose.geometry][tarpose.geometry]).
        scores: ``(N, J)`` float32 heatmap maxima.
        heatmaps: ``(N, J, h, w)`` final heatmaps, kept only with ``keep_heatmaps=True``.
        box_scores: ``(N,)`` the detector's scores of the boxes, when it gave some.
        image: the frame itself (RGB ``(H, W, 3)`` uint8), set by
            ``PoseInferencer`` (for drawing: ``draw_poses(poses.image, poses)``).
        name: the frame's image file name when it came from an image or a folder of images (set
            by ``PoseInferencer``; written as ``"image"`` in the records).
    """

    index: int
    track_ids: list[int]
    boxes: Tensor
    keypoints: Tensor
    scores: Tensor
    heatmaps: Tensor | None = field(default=None, repr=False)
    box_scores: Tensor | None = field(default=None, repr=False)
    image: Any = field(default=None, repr=False)
    name: str | None = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def records(self, decimals: int = 3) -> list[dict[str, Any]]:
        """JSON-ready records, one per person: ``frame`` (and ``image``, the file's name, for a
        folder of images), ``track_id``, ``bbox`` ``[x, y, w, h]``,
        ``keypoints`` ``[[x, y, score], ...]`` (COCO order), ``score`` (mean keypoint score) and,
        when the detector scored the box, ``bbox_score``; coordinates rounded to ``decimals``
        places, scores to one more. A keypoint whose position or score is not finite (a model
        that gives NaN) is written as missing, ``[0, 0, 0]`` as in COCO: the records are always
        strict JSON."""
        out = []
        for i, track_id in enumerate(self.track_ids):
            keypoints = []
            for (x, y), s in zip(self.keypoints[i].tolist(), self.scores[i].tolist()):
                finite = math.isfinite(x) and math.isfinite(y) and math.isfinite(s)
                keypoints.append([round(x, decimals), round(y, decimals), round(s, decimals + 1)] if finite else [0.0, 0.0, 0.0])
            record: dict[str, Any] = {"frame": self.index}
            if self.name is not None:
                record["image"] = self.name
            record.update({
                "track_id": track_id,
                "bbox": [round(v, decimals) for v in self.boxes[i].tolist()],
                "keypoints": keypoints,
                "score": round(sum(k[2] for k in keypoints) / max(len(keypoints), 1), decimals + 1),
            })
            if self.box_scores is not None:
                record["bbox_score"] = round(float(self.box_scores[i]), decimals + 1)
            out.append(record)
        return out

    def to_json(self, decimals: int = 3) -> str:
        """``records`` as a JSON array: the frame's entries of ``tarpose predict``'s
        ``"predictions"``."""
        return json.dumps(self.records(decimals), separators=(",", ":"))


@dataclass
class _Pending:
    """A pushed frame waiting for its window to complete."""

    index: int
    track_ids: list[int]
    boxes: Tensor  # (n, 4) float64
    matrices: Tensor  # (n, 2, 3) float64 image -> crop
    box_scores: Tensor | None = None  # (n,) float64


@dataclass
class _Entry:
    """One track's encoder outputs at one frame, ``v`` views (2 with the flip test)."""

    features: Tensor  # (v, c, h, w)
    heatmaps: Tensor  # (v, j, hh, wh)
    mask: Tensor | None  # JTA's mask (v, j, h, w) bool, of a model with ``frame_masks``


def _compiled(fn: Any, mode: str | None) -> Any:
    """``torch.compile(fn)`` returning copies: CUDA graphs reuse their output buffers, and the
    feature cache keeps encoder outputs across calls."""
    inner = torch.compile(fn, mode=mode, dynamic=True)  # persons per frame vary: compile once

    def call(*args: Any, **kwargs: Any) -> Any:
        out = inner(*args, **kwargs)
        return tuple(t.clone() for t in out) if isinstance(out, tuple) else out.clone()

    return call


def model_device(model: Any) -> torch.device:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device(getattr(model, "device", "cpu"))


class StreamingPredictor:
    """Top-down temporal pose estimation on a stream of frames.

    Example:
        ```python
        predictor = StreamingPredictor(model)                  # a TemporalWrapper
        for frame, boxes, ids in video:                        # RGB (H, W, 3) uint8, (N, 4) xywh, N ids
            for poses in predictor.push(frame, boxes, ids):    # frames whose windows are complete
                ...
        for poses in predictor.flush():                        # the last frames
            ...
        ```

    Args:
        model: a [TemporalWrapper][tarpose.TemporalWrapper] (put in eval mode here) or anything with its
            ``encode`` / ``aggregate_restore`` / ``num_frames`` / ``target_index`` /
            ``num_joints`` (e.g. [OnnxTemporalModel][tarpose.inference.OnnxTemporalModel]).
        mode: ``"centred"``, ``"causal"`` or ``"exact"`` (see the module docs). ``None``: causal
            for a model whose target is the last frame of its window, centred otherwise.
        flip: flip test: each crop is also encoded mirrored, both windows go through the temporal
            part, and the mirrored result is mapped back and averaged.
        flip_pairs: left/right joint pairs (COCO's by default).
        input_size: crop ``(H, W)``; the model's (``model.data_config``, see
            ``tarpose.resolve_data_config``) when it is ``None``. The normalisation is the
            model's too.
        padding: box enlargement (1.25 as ViTPose).
        refine: heatmap decoding, ``"dark"`` (sub-pixel) or ``"none"``.
        geometry: how crops and heatmaps lie over the boxes ([tarpose.geometry][tarpose.geometry]); ``None``:
            the geometry the model was trained in (its ``data_config``).
        precision: ``"auto"`` (bfloat16 autocast on CUDA, float32 elsewhere), ``"float32"`` or
            ``"bfloat16"``.
        keep_heatmaps: also return the final heatmaps (memory!).
        compile: run the model's ``encode`` and ``aggregate_restore`` through ``torch.compile``
            (CUDA graphs on a GPU, where small batches are otherwise bound by kernel launches:
            streaming costs 1.06x single-frame compiled against 1.94x eager on an H100 with 4
            persons). Compiling takes minutes at the first frame (about 2.5 for ViT-B on an H100;
            shapes are dynamic, so a changing number of persons does not recompile): it pays off
            on long videos, not on short clips.
        keypoint_filter: a keypoint filter (`tarpose.filters.build_filter` name such as
            ``"median:window=5"``, or a filter) run online over each track's keypoints; a centred
            filter adds its half-window to the latency (`latency`), and causal mode accepts
            only causal filters. ``None``: no filtering.
        max_batch: the most persons (crops, windows) in one call of the model: a frame with more
            people is run in several calls, so memory is bounded by this, not by the crowd
            (with the flip test a call holds twice as many crops).
    """

    def __init__(
        self,
        model: TemporalModel,
        *,
        mode: Mode | None = None,
        flip: bool = False,
        flip_pairs: Sequence[tuple[int, int]] = COCO_FLIP_PAIRS,
        input_size: tuple[int, int] | None = None,
        padding: float = 1.25,
        refine: str = "dark",
        geometry: str | None = None,
        precision: Precision = "auto",
        keep_heatmaps: bool = False,
        compile: bool = False,
        keypoint_filter: KeypointFilter | str | None = None,
        max_batch: int = 32,
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch (persons per model call) must be an integer >= 1, got {max_batch!r}")
        if not (isinstance(padding, (int, float)) and not isinstance(padding, bool)
                and math.isfinite(padding) and 0 < padding <= MAX_PADDING):
            raise ValueError(f"padding (the box enlargement) must be a number in (0, {MAX_PADDING:g}], got {padding!r}")
        for name in ("encode", "aggregate_restore", "num_frames", "target_index", "num_joints"):
            if not hasattr(model, name):
                raise TypeError(
                    f"{type(model).__name__} has no {name!r}: the predictor needs a temporal model; "
                    "wrap a single-frame ViTPose as tarpose.inference.SingleFrameModel(model)"
                )
        window = window_of(model)
        if mode is None:
            mode = "causal" if window.lookahead == 0 else "centred"
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "causal" and window.lookahead:
            raise ValueError(
                f"causal mode needs a model whose target frame is the last of its window "
                f"(TemporalWrapper(..., target='last'), trained that way); this model's target is "
                f"frame {window.target_index} of {window.length}"
            )
        if mode == "centred" and window.target_index != window.length // 2:
            raise ValueError(
                f"centred mode needs a model whose target frame is the centre of its window; this "
                f"model's target is frame {window.target_index} of {window.length} (use mode='causal')"
            )
        if refine not in ("dark", "none"):
            raise ValueError(f"refine must be 'dark' or 'none', got {refine!r}")
        if precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}")
        self.keypoint_filter = None if keypoint_filter is None else build_filter(keypoint_filter)
        if self.keypoint_filter is not None and mode == "causal" and not self.keypoint_filter.causal:
            raise ValueError(
                f"causal mode allows only causal filters; {self.keypoint_filter.spec()} looks "
                f"{self.keypoint_filter.latency} "
                f"frames ahead (use one-euro or causal=true)"
            )
        self._tracks = None if self.keypoint_filter is None else TrackFilter(self.keypoint_filter)
        data = resolve_data_config(model, input_size=input_size, geometry=geometry)
        if isinstance(model, nn.Module):
            model.eval()
        self.model = model
        self.mode: Mode = mode
        self.window = window
        self.flip = flip
        self.flip_perm = None
        if flip:
            try:
                self.flip_perm = flip_permutation(int(model.num_joints), flip_pairs)
            except ValueError as error:
                raise ValueError(
                    f"flip test: {error}; pass the model's left/right joint pairs as flip_pairs="
                ) from None
        self.data_config = data
        self.input_size = data.input_size
        self.padding = padding
        self.refine = refine
        self.device = model_device(model)
        self.autocast_dtype = (
            torch.bfloat16
            if precision == "bfloat16" or (precision == "auto" and self.device.type == "cuda")
            else None
        )
        self.keep_heatmaps = keep_heatmaps
        self.max_batch = max_batch
        self._model_encode = model.encode
        self._model_aggregate = model.aggregate_restore
        self._frame_masks = getattr(model, "frame_masks", None)  # None: windows of heatmaps
        if compile:
            if not isinstance(model, nn.Module):
                raise ValueError(f"compile=True needs a PyTorch model, not {type(model).__name__}")
            cuda_graphs = "reduce-overhead" if self.device.type == "cuda" else None
            self._model_encode = _compiled(model.encode, cuda_graphs)
            self._model_aggregate = _compiled(model.aggregate_restore, cuda_graphs)
        self.reset()

    @property
    def latency(self) -> int:
        """Frames an output trails its input: the model's look-ahead plus the filter's."""
        return self.window.lookahead + (self.keypoint_filter.latency if self.keypoint_filter is not None else 0)

    @property
    def views(self) -> int:
        return 2 if self.flip else 1

    def reset(self) -> None:
        """Drop everything pending and cached (a new video starts at frame 0)."""
        self._next_index = 0
        self._pending: deque[_Pending] = deque()
        self._cache: dict[int, dict[int, _Entry]] = {}
        self._frames: dict[int, Tensor] = {}  # "exact" mode: the raw frames a window still needs
        if self._tracks is not None:
            self._tracks.reset()

    # -- the public loop -------------------------------------------------------------------------

    def push(
        self,
        frame: Any,
        boxes: Any,
        track_ids: Sequence[int],
        scores: Any | None = None,
    ) -> list[FramePoses]:
        """Add the next frame; return the frames whose windows are now complete (oldest first).

        Args:
            frame: RGB, numpy ``(H, W, 3)`` uint8 or tensor ``(3, H, W)`` (uint8 or 0..1 float).
            boxes: ``(N, 4)`` person boxes ``x, y, w, h`` in this frame (N may be 0).
            track_ids: ``N`` distinct ids linking the boxes across frames (a
                [tracker][tarpose.tracking]'s, a boxes file's, or ``range(N)`` for people who
                keep their order).
            scores: ``(N,)`` detection scores, passed through to the poses (``box_scores``).
        """
        image = as_image_tensor(frame)
        boxes = as_boxes(boxes)
        box_scores = None if scores is None else as_scores(scores, len(boxes))
        if track_ids is None:
            raise TypeError(
                "push() needs the track id of each box: link boxes across frames with a tracker "
                "(tarpose.tracking.ByteTracker), or let tarpose.PoseInferencer detect and track"
            )
        track_ids = [int(i) for i in track_ids]
        if len(track_ids) != len(boxes):
            raise ValueError(f"got {len(boxes)} boxes but {len(track_ids)} track ids")
        if len(set(track_ids)) != len(track_ids):
            raise ValueError(f"track ids of one frame must be distinct, got {track_ids}")
        index = self._next_index
        self._next_index += 1
        matrices = box_matrices(boxes, self.input_size, self.padding, self.data_config.geometry)
        pending = _Pending(index, track_ids, boxes, matrices, box_scores)
        with torch.inference_mode():
            if self.mode == "exact":
                self._frames[index] = image.to(self.device)
            elif len(boxes):
                self._encode_and_cache(image, pending)
            self._pending.append(pending)
            out = []
            while self._pending and self._pending[0].index + self.window.lookahead <= index:
                out.append(self._emit(self._pending.popleft()))
            self._prune()
        return self._filtered(out)

    def flush(self) -> list[FramePoses]:
        """End of the stream: emit every frame still waiting (its window's missing future frames
        are excluded through ``frame_valid``) and reset for a new stream."""
        with torch.inference_mode():
            out = self._filtered([self._emit(p) for p in self._pending], end=True)
        self.reset()
        return out

    def run(self, items: Iterable[tuple[Any, ...]]) -> Iterator[FramePoses]:
        """Poses of every frame of ``items`` (``(frame, boxes, track_ids)`` or ``(frame, boxes,
        track_ids, scores)`` tuples), in order, the stream flushed at its end."""
        self.reset()
        for item in items:
            yield from self.push(*item)
        yield from self.flush()

    # -- internals -------------------------------------------------------------------------------

    def _filtered(self, poses: list[FramePoses], end: bool = False) -> list[FramePoses]:
        """The frames whose tracks' filtered keypoints are ready (all of them at the ``end``)."""
        if self._tracks is None:
            return poses
        ready = [r for p in poses for r in self._tracks.push(p.track_ids, p.keypoints, p.scores, item=p)]
        ready += self._tracks.flush() if end else []
        for frame, keypoints in ready:
            frame.keypoints = keypoints
        return [frame for frame, _ in ready]

    def _autocast(self) -> Any:
        return torch.autocast(
            self.device.type, dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )

    def _crop(self, image: Tensor, matrices: Tensor) -> Tensor:
        """Normalised crops ``(n, 3, H, W)`` of one frame, as the model's data config says."""
        data = self.data_config
        return crop_images(image, matrices, data.input_size, mean=data.mean, std=data.std)

    def _encode(self, crops: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Crops ``(n, 3, H, W)`` -> features ``(n, v, C, h, w)``, heatmaps ``(n, v, J, hh, wh)``
        and, for a model with ``frame_masks``, JTA's masks ``(n, v, J, h, w)`` (else None); one
        encoder call for all crops (and their mirrored copies with the flip test)."""
        if self.flip:
            crops = torch.cat([crops, flip_crops(crops)])  # (v n, 3, h, w)
        with self._autocast():
            features, heatmaps = self._model_encode(crops)
        masks = None
        if self._frame_masks is not None:
            masks = self._frame_masks(heatmaps, tuple(features.shape[-2:]))  # (v n, j, h, w)
            masks = rearrange(masks, "(v n) j h w -> n v j h w", v=self.views)
        features = rearrange(features, "(v n) c h w -> n v c h w", v=self.views)
        heatmaps = rearrange(heatmaps, "(v n) j h w -> n v j h w", v=self.views)
        return features, heatmaps, masks

    def _encode_and_cache(self, image: Tensor, pending: _Pending) -> None:
        image, matrices = image.to(self.device), pending.matrices.to(self.device)
        for start in range(0, len(pending.track_ids), self.max_batch):  # max_batch persons a call
            people = slice(start, start + self.max_batch)
            features, heatmaps, masks = self._encode(self._crop(image, matrices[people]))
            for i, track_id in enumerate(pending.track_ids[people]):
                entry = _Entry(features[i], heatmaps[i], None if masks is None else masks[i])
                self._cache.setdefault(track_id, {})[pending.index] = entry

    def _window_cached(self, pending: _Pending) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """Windows of every person of ``pending`` from the cache: features ``(b, t, v, C, h, w)``,
        heatmaps ``(b, t, v, J, hh, wh)``, masks ``(b, t, v, J, h, w)`` or None, valid ``(b, t)``."""
        rows: list[_Entry] = []
        valid = []
        for track_id in pending.track_ids:
            entries = self._cache[track_id]
            target = entries[pending.index]
            for slot in self.window.frames(pending.index):
                entry = entries.get(slot)
                valid.append(entry is not None)
                rows.append(entry if entry else _Entry(
                    torch.zeros_like(target.features), torch.zeros_like(target.heatmaps),
                    None if target.mask is None else torch.zeros_like(target.mask),
                ))
        b, t = len(pending.track_ids), self.window.length

        def stack(parts: list[Tensor]) -> Tensor:  # (b*t) x (v, ...) -> (b, t, v, ...)
            return rearrange(torch.stack(parts), "(b t) v ... -> b t v ...", b=b, t=t)

        # feature maps stacked with their channels innermost, as the encoder gives them: the
        # temporal modules read them as tokens, which is then a view rather than a transposed copy
        tokens = torch.stack([rearrange(r.features, "v c h w -> v h w c") for r in rows])  # (b*t, v, h, w, c)
        features = rearrange(tokens, "(b t) v h w c -> b t v c h w", b=b, t=t)
        masks = None if rows[0].mask is None else stack([r.mask for r in rows])
        return (
            features, stack([r.heatmaps for r in rows]), masks,
            torch.tensor(valid, device=self.device).view(b, t),
        )

    def _window_exact(self, pending: _Pending) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """Windows cropped from the raw frames with the target frame's boxes (the training
        protocol); every available frame is encoded afresh."""
        b, t = len(pending.track_ids), self.window.length
        slots = [s for s in self.window.frames(pending.index) if s in self._frames]
        matrices = pending.matrices.to(self.device)
        crops = torch.cat([self._crop(self._frames[s], matrices) for s in slots])
        encoded = self._encode(crops)  # (s b, v, ...) each
        valid = torch.tensor([s in self._frames for s in self.window.frames(pending.index)], device=self.device)
        windows = []
        for part in encoded:
            if part is None:
                windows.append(None)
                continue
            part = rearrange(part, "(s b) v ... -> b s v ...", b=b)
            window = part.new_zeros(b, t, *part.shape[2:])  # (b, t, v, ...)
            window[:, valid] = part
            windows.append(window)
        return (*windows, valid.expand(b, t))

    def _emit(self, pending: _Pending) -> FramePoses:
        """Final heatmaps and keypoints of every person of a frame whose window is complete, at
        most ``max_batch`` persons a model call."""
        b = len(pending.track_ids)
        if b == 0:
            return FramePoses(
                pending.index, [], pending.boxes, torch.zeros(0, self._num_joints, 2, dtype=torch.float64),
                torch.zeros(0, self._num_joints), None, pending.box_scores,
            )
        parts = [self._emit_people(_Pending(
            pending.index, pending.track_ids[start : start + self.max_batch], pending.boxes[start : start + self.max_batch],
            pending.matrices[start : start + self.max_batch],
        )) for start in range(0, b, self.max_batch)]
        keypoints, scores, heatmaps = (None if parts[0][k] is None else torch.cat([p[k] for p in parts]) for k in range(3))
        return FramePoses(pending.index, pending.track_ids, pending.boxes, keypoints, scores, heatmaps, pending.box_scores)

    def _emit_people(self, pending: _Pending) -> tuple[Tensor, Tensor, Tensor | None]:
        """Keypoints ``(b, J, 2)``, scores ``(b, J)`` and (with ``keep_heatmaps``) final heatmaps
        of the persons of ``pending``, in one model call."""
        if self.mode == "exact":
            features, heatmaps, masks, valid = self._window_exact(pending)
        else:
            features, heatmaps, masks, valid = self._window_cached(pending)
        v = self.views
        frame_valid = None if bool(valid.all()) else valid.repeat_interleave(v, dim=0)  # (b v, t)
        features = rearrange(features, "b t v c h w -> (b v) t c h w")
        heatmaps = rearrange(heatmaps, "b t v j h w -> (b v) t j h w")
        with self._autocast():
            if masks is None:
                final = self._model_aggregate(features, heatmaps, frame_valid)
            else:
                masks = rearrange(masks, "b t v j h w -> (b v) t j h w")
                final = self._model_aggregate(features, heatmaps, frame_valid, mask=masks)
        final = rearrange(final.float(), "(b v) j h w -> b v j h w", v=v)
        if self.flip:
            shift = flip_shift(self.data_config.geometry, self.input_size[1], final.shape[-1])
            final = merge_flipped(final[:, 0], final[:, 1], self.flip_perm, shift)
        else:
            final = final[:, 0]
        keypoints, scores = heatmaps_to_keypoints(
            final, pending.matrices, self.input_size, self.refine, self.data_config.geometry
        )
        return keypoints, scores, final.cpu() if self.keep_heatmaps else None

    @property
    def _num_joints(self) -> int:
        return int(self.model.num_joints)

    def _prune(self) -> None:
        """Forget what no future window needs: frames older than the next target minus the
        window's past part."""
        next_target = self._pending[0].index if self._pending else self._next_index
        oldest = next_target - self.window.target_index
        for track_id in list(self._cache):
            entries = self._cache[track_id]
            for index in [i for i in entries if i < oldest]:
                del entries[index]
            if not entries:
                del self._cache[track_id]
        for index in [i for i in self._frames if i < oldest]:
            del self._frames[index]

    def cached_frames(self) -> int:
        """Number of (track, frame) encoder outputs held in the cache now."""
        return sum(len(entries) for entries in self._cache.values())


"""Trackers: link each frame's person boxes to the tracks of the frames before.

- ``ByteTracker`` (the default): optimal assignment on IoU with a constant-velocity box
  prediction, a second pass for low-score boxes (ByteTrack's idea: Zhang et al., *ByteTrack:
  Multi-Object Tracking by Associating Every Detection Box*, ECCV 2022), and a buffer that keeps a
  lost track alive for some frames, so a person the detector misses for a frame or two keeps their
  id (and, in ``StreamingPredictor``, their cached window: the missing
  frames are marked invalid through ``frame_valid``).
- ``IoUTracker``: greedy IoU linking against each track's last box (the previous default;
  kept for comparison, ``benchmarks/bench_tracking.py``).

A tracker has ``reset()`` and ``update(boxes, scores=None) -> ids``: one id per box, or ``None``
for a box it does not track (a low-score box that continues no track).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from ..boxes import as_boxes, as_scores, box_iou
from .assignment import linear_assignment

#: the cost of a pair the IoU threshold forbids: larger than any allowed total, so the assignment
#: first maximises the number of allowed pairs, then their summed IoU
_FORBIDDEN = 1e6
#: cost added per frame a track has gone unseen: decides between equally overlapping tracks only
_TIE_BREAK = 1e-3


class Tracker(Protocol):
    """What ``StreamingPredictor`` needs of a tracker."""

    def reset(self) -> None: ...

    def update(self, boxes: Any, scores: Any | None = None) -> list[int | None]: ...


def match(iou: Tensor, threshold: float, penalty: Tensor | None = None) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` of an optimal assignment on ``1 - iou`` ``(N, M)`` (plus a ``(M,)``
    ``penalty`` per column) among the pairs with IoU at least ``threshold`` (most such pairs first,
    then the lowest summed cost)."""
    if iou.numel() == 0:
        return []
    allowed = (iou >= threshold).numpy()
    extra = 0.0 if penalty is None else penalty.numpy()[None, :]
    cost = np.where(allowed, 1.0 - iou.numpy() + extra, _FORBIDDEN)
    rows, cols = linear_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c]]


@dataclass
class _Track:
    """One track: an alpha-beta filter (the steady-state Kalman filter of a constant-velocity
    model) on its box centre, and a smoothed box size."""

    id: int | None  # None while tentative (not confirmed yet: not reported)
    centre: Tensor  # (2,) float64 filtered box centre
    size: Tensor  # (2,) float64 smoothed w, h
    velocity: Tensor  # (2,) float64 centre pixels per frame
    unseen: int = 0  # frames since the last match
    matched: int = 1  # frames matched
    #: the last matched frames' box centre x, y, box height and score
    recent: deque[tuple[float, float, float, float]] = field(default_factory=deque)

    @staticmethod
    def start(track_id: int | None, box: Tensor, score: float, memory: int) -> _Track:
        track = _Track(track_id, box[:2] + box[2:] / 2, box[2:].clone(), box.new_zeros(2),
                       recent=deque(maxlen=max(memory, 1)))
        track.remember(box, score)
        return track

    def remember(self, box: Tensor, score: float) -> None:
        x, y, w, h = box.tolist()
        self.recent.append((x + w / 2, y + h / 2, h, float(score)))

    def predicted(self) -> Tensor:
        """The box ``(4,)`` expected in the next frame: the centre moved at constant velocity."""
        centre = self.centre + self.velocity * (self.unseen + 1)
        return torch.cat([centre - self.size / 2, self.size])

    def observe(self, box: Tensor, alpha: float, beta: float) -> None:
        """Correct the filter with a matched box ``(4,)``."""
        gap = self.unseen + 1  # frames since the last correction
        centre = box[:2] + box[2:] / 2
        if self.matched == 1:  # the second box: the first velocity estimate
            self.velocity = (centre - self.centre) / gap
            self.centre = centre
        else:
            expected = self.centre + self.velocity * gap
            residual = centre - expected
            self.centre = expected + alpha * residual
            self.velocity = self.velocity + beta * residual / gap
        self.size = self.size + alpha * (box[2:] - self.size)
        self.unseen = 0
        self.matched += 1

    def still(self, frames: int, motion: float) -> bool:
        """Whether the box centre stayed within ``motion`` box heights of its mean in each
        direction over the last ``frames`` matched frames (all of them remembered)."""
        if frames < 1 or len(self.recent) < frames:
            return False
        recent = np.asarray(self.recent)[-frames:]  # (frames, 4): x, y, h, score
        spread = np.abs(recent[:, :2] - recent[:, :2].mean(0)).max()
        return bool(spread < motion * np.median(recent[:, 2]))

    def mean_score(self, frames: int) -> float:
        return float(np.mean([r[3] for r in list(self.recent)[-frames:]]))


class ByteTracker:
    """Tracks by optimal assignment on IoU, constant-velocity prediction and two score levels.

    Each frame: (1) boxes scoring at least ``high_threshold`` are matched to every live track
    (seen last frame or lost for at most ``buffer`` frames; tentative ones too, below) by an
    optimal assignment on ``1 - IoU`` with each track's predicted box, pairs below ``match_iou``
    forbidden (between equally overlapping tracks the one seen most recently wins, then a
    confirmed one); (2) the boxes scoring between ``low_threshold`` and ``high_threshold`` are
    matched the same way to the tracks still unmatched, at ``low_match_iou`` (a person half hidden
    by another often gets a low score: ByteTrack's second pass; unlike ByteTrack it also tries lost
    tracks, since a person coming out from behind another is first seen half hidden); (3) an
    unmatched high box scoring at least ``new_threshold`` starts a track. Without scores every box
    scores 1.

    Birth: with ``min_hits`` above 1 a new track is *tentative* until it has been matched in
    ``min_hits`` consecutive frames (ByteTrack's activation): its boxes get no id (``None``, no
    pose) and a frame without a match ends it, so a false box that flickers for a frame never
    becomes a track; in the first frame after ``reset`` there is nothing to confirm against, so its
    tracks are confirmed at once (as ByteTrack does). The default, 1, confirms every track at
    once: on the synthetic crowds of ``benchmarks/bench_tracking.py`` 2 costs each new person their
    first frame (IDF1 a little lower) for fewer identity switches, and on ``vtest.avi`` with HOG it
    removes most one-frame false tracks (the figures: docs/video.md). Ids count up from 0 and are
    never reused; a confirmed track unmatched for more than ``buffer`` frames in a row ends.

    Background: a confirmed track whose box centre has stayed within ``static_motion`` box heights
    of its mean over its last ``static_frames`` matched frames while scoring under ``static_score``
    on average is taken for a false box on the background (a door, a sign: a detector's
    false positive does not move, and scores low) and is not reported while that holds; it stays
    alive, so it absorbs those boxes instead of starting new tracks, and is reported again, under
    its id, once it moves. A person standing still keeps their poses while the detector is sure of
    them (on ``vtest.avi`` with HOG, pedestrians standing still scored above ``static_score`` on
    average, the red door below it); boxes without scores (score 1) are never taken for
    background. Tracks that move, as every figure of the synthetic crowds does, are unaffected.

    A track predicts its box with an alpha-beta filter (the steady-state Kalman filter of a
    constant-velocity model) on the box centre: ``alpha`` of each residual corrects the centre
    (and the box size), ``beta`` the velocity; a lost track keeps moving at its velocity.

    Args:
        high_threshold: score from which a box takes part in the first pass.
        low_threshold: score below which a box is ignored.
        new_threshold: score from which an unmatched box starts a track.
        match_iou: smallest IoU of a first-pass pair.
        low_match_iou: smallest IoU of a second-pass pair.
        buffer: frames a lost track stays alive.
        alpha: position (and size) gain of the filter, in (0, 1].
        beta: velocity gain of the filter, in [0, 1).
        min_hits: consecutive matched frames that confirm a new track (1: at once).
        static_frames: matched frames a still, low-scoring track is watched before it is taken for
            background (0: never).
        static_motion: largest drift of a still box centre, in box heights.
        static_score: mean score from which a still track is a person standing still.
    """

    def __init__(
        self,
        high_threshold: float = 0.5,
        low_threshold: float = 0.1,
        new_threshold: float = 0.6,
        match_iou: float = 0.2,
        low_match_iou: float = 0.5,
        buffer: int = 30,
        alpha: float = 0.5,
        beta: float = 0.05,
        min_hits: int = 1,
        static_frames: int = 30,
        static_motion: float = 0.05,
        static_score: float = 0.8,
    ) -> None:
        if not 0 <= low_threshold <= high_threshold:
            raise ValueError(
                f"need 0 <= low_threshold <= high_threshold, got {low_threshold}, {high_threshold}"
            )
        for name, value in (("match_iou", match_iou), ("low_match_iou", low_match_iou)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if buffer < 0:
            raise ValueError(f"buffer must be >= 0, got {buffer}")
        if not (0 < alpha <= 1 and 0 <= beta < 1):
            raise ValueError(f"need 0 < alpha <= 1 and 0 <= beta < 1, got {alpha}, {beta}")
        if min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {min_hits}")
        if static_frames < 0 or static_motion <= 0:
            raise ValueError(f"need static_frames >= 0 and static_motion > 0, got {static_frames}, {static_motion}")
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.new_threshold = new_threshold
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.buffer = buffer
        self.alpha = alpha
        self.beta = beta
        self.min_hits = min_hits
        self.static_frames = static_frames
        self.static_motion = static_motion
        self.static_score = static_score
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video starts)."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frames = 0

    @property
    def live_tracks(self) -> dict[int, int]:
        """Track id -> frames since it was last matched, for every confirmed track still alive."""
        return {t.id: t.unseen for t in self._tracks if t.id is not None}

    def update(self, boxes: Any, scores: Any | None = None) -> list[int | None]:
        """Track ids of this frame's boxes ``(N, 4)`` (``x, y, w, h``) with scores ``(N,)``, in the
        boxes' order; ``None`` for a box that is not tracked (or whose track is still tentative)."""
        boxes = as_boxes(boxes)
        scores = as_scores(scores, len(boxes))
        tracks = self._tracks
        predicted = torch.stack([t.predicted() for t in tracks]) if tracks else boxes.new_zeros(0, 4)
        matched: dict[int, int] = {}  # track index -> box index, this frame

        def assign(candidates: list[int], pool: list[int], threshold: float) -> None:
            candidates = [i for i in candidates if i not in matched.values()]
            if not candidates or not pool:
                return
            iou = box_iou(boxes[candidates], predicted[pool])  # (boxes, tracks)
            # ties go to the track seen most recently (its prediction is the surer one), then to
            # a confirmed track over a tentative one
            unseen = torch.tensor([tracks[k].unseen + 0.5 * (tracks[k].id is None) for k in pool], dtype=torch.float64)
            for r, c in match(iou, threshold, _TIE_BREAK * unseen):
                tracks[pool[c]].observe(boxes[candidates[r]], self.alpha, self.beta)
                tracks[pool[c]].remember(boxes[candidates[r]], float(scores[candidates[r]]))
                matched[pool[c]] = candidates[r]

        high = [i for i in range(len(boxes)) if scores[i] >= self.high_threshold]
        low = [i for i in range(len(boxes)) if self.low_threshold <= scores[i] < self.high_threshold]
        assign(high, list(range(len(tracks))), self.match_iou)
        assign(low, [k for k in range(len(tracks)) if k not in matched], self.low_match_iou)

        ids: list[int | None] = [None] * len(boxes)
        survivors = []
        for k, track in enumerate(tracks):
            if k in matched:
                if track.id is None and track.matched >= self.min_hits:  # confirmed now
                    track.id = self._new_id()
                ids[matched[k]] = None if self.background(track) else track.id
            elif track.id is None:
                continue  # a tentative track ends at its first miss
            else:
                track.unseen += 1
                if track.unseen > self.buffer:
                    continue
            survivors.append(track)
        at_once = self._frames == 0 or self.min_hits == 1
        for i in high:
            if i not in matched.values() and scores[i] >= self.new_threshold:
                track = _Track.start(self._new_id() if at_once else None, boxes[i], float(scores[i]), self.static_frames)
                ids[i] = track.id
                survivors.append(track)
        self._tracks = survivors
        self._frames += 1
        return ids

    def background(self, track: _Track) -> bool:
        """Whether a track is taken for a false box on the background: still and scoring low
        over its last ``static_frames`` matched frames."""
        return track.still(self.static_frames, self.static_motion) and track.mean_score(self.static_frames) < self.static_score

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


class IoUTracker:
    """Greedy IoU matching of each frame's boxes against the last box of every live track.

    Pairs are taken in order of decreasing IoU while the IoU is at least ``iou_threshold``; an
    unmatched box starts a new track (ids count up from 0); a track unmatched for more than
    ``max_age`` frames in a row ends (its id is never reused). Scores are ignored. Superseded by
    ``ByteTracker`` (fewer identity switches: ``benchmarks/bench_tracking.py``).

    Args:
        iou_threshold: smallest IoU that continues a track.
        max_age: frames a track may go unseen and still be continued.
    """

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 5) -> None:
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video starts)."""
        self._ids: list[int] = []
        self._boxes = torch.zeros(0, 4, dtype=torch.float64)
        self._unseen: list[int] = []
        self._next_id = 0

    def update(self, boxes: Any, scores: Any | None = None) -> list[int]:
        """Track ids of this frame's boxes ``(N, 4)`` (``x, y, w, h``), in the boxes' order
        (``scores`` are checked, then ignored)."""
        boxes = as_boxes(boxes)
        as_scores(scores, len(boxes))
        ids: list[int | None] = [None] * len(boxes)
        matched_tracks: set[int] = set()
        if len(boxes) and len(self._ids):
            iou = box_iou(boxes, self._boxes)  # (n, tracks)
            while True:
                best = int(iou.argmax())
                box_i, track_i = divmod(best, iou.shape[1])
                if iou[box_i, track_i] < self.iou_threshold:
                    break
                ids[box_i] = self._ids[track_i]
                matched_tracks.add(track_i)
                iou[box_i, :] = -1
                iou[:, track_i] = -1
        # carry on the tracks that were matched or may still come back, then add the new ones
        keep = [
            i for i in range(len(self._ids))
            if i not in matched_tracks and self._unseen[i] + 1 <= self.max_age
        ]
        new_ids = [self._ids[i] for i in keep]
        new_boxes = [self._boxes[i] for i in keep]
        unseen = [self._unseen[i] + 1 for i in keep]
        for box_i, track_id in enumerate(ids):
            if track_id is None:
                track_id = ids[box_i] = self._next_id
                self._next_id += 1
            new_ids.append(track_id)
            new_boxes.append(boxes[box_i])
            unseen.append(0)
        self._ids = new_ids
        self._boxes = torch.stack(new_boxes) if new_boxes else torch.zeros(0, 4, dtype=torch.float64)
        self._unseen = unseen
        return [int(i) for i in ids]  # type: ignore[arg-type]

"""`TrackFilter`: online filtering of tracks that come and go, one online filter per track."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .base import KeypointFilter, OnlineFilter, Output
from .registry import build_filter

__all__ = ["TrackFilter"]


@dataclass
class _Held:
    """A frame waiting for the filtered keypoints of its tracks."""

    index: int
    item: Any
    rows: dict[Hashable, int]
    keypoints: Tensor  # (N, J, 2), filled in as the tracks' outputs arrive
    waiting: int
    broken: Tensor  # (N, J) bool: not finite on input, so not filtered and given back as they came


@dataclass
class _Track:
    online: OnlineFilter
    start: int  # the frame of its first push
    last_seen: int
    pending: int = 0  # frames where it is present whose output has not come yet
    next: int = 0  # the next frame its filter expects


class TrackFilter:
    """Online filtering of tracks that come and go (what `tarpose.inference.StreamingPredictor`
    runs with ``keypoint_filter=``).

    Each frame brings the track ids present and their keypoints; every track gets its own online
    filter, run over the frames from the track's first appearance with the frames where it is
    absent marked invalid, so its outputs equal the offline filter over that span. A frame comes
    back once the filtered keypoints of all its tracks are ready (``latency`` frames later for a
    centred filter), frames in order.

    Memory is bounded by the tracks seen lately, not by every track ever seen: a track's state is
    released once no later output can read it (a windowed filter: ``W`` frames after it was last
    seen) or, for a filter whose state carries over any gap (One-Euro), once it has been absent
    for more than ``max_gap`` frames; a track that comes back after that starts afresh. Keypoints
    that are not finite (a degenerate box, a model giving NaN) are not filtered: they are treated
    as missing in their track and given back as they came.

    Args:
        filt: the filter (or its name, see `build_filter`).
        max_gap: frames a track may be absent and still continue its filter's state (the
            trackers forget a lost track sooner: ByteTracker after ``track_buffer`` frames).
    """

    def __init__(self, filt: KeypointFilter | str, *, max_gap: int = 300) -> None:
        if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
            raise ValueError(f"max_gap must be an integer >= 0, got {max_gap!r}")
        self.filter = build_filter(filt)
        self.latency = self.filter.latency
        self.max_gap = max_gap
        self.reset()

    def reset(self) -> None:
        """Forget every track and every waiting frame."""
        self._frames = 0
        self._held: deque[_Held] = deque()
        self._tracks: dict[Hashable, _Track] = {}
        self._joints: int | None = None
        self._scored: bool | None = None

    @property
    def tracks(self) -> int:
        """Tracks whose filter state is held now."""
        return len(self._tracks)

    def push(self, track_ids: Sequence[Hashable], keypoints: Tensor, scores: Tensor | None = None,
             item: Any = None) -> list[tuple[Any, Tensor]]:
        """Add the next frame.

        Args:
            track_ids: ``N`` distinct ids of the tracks present.
            keypoints: ``(N, J, 2)`` their keypoints.
            scores: ``(N, J)`` their scores, or ``None``.
            item: anything to hand back with the frame (e.g. the frame's poses).

        Returns:
            ``(item, filtered keypoints (N, J, 2))`` for each frame now complete, oldest first.
        """
        ids = list(track_ids)
        if len(set(ids)) != len(ids):
            raise ValueError(f"track ids of one frame must be distinct, got {ids}")
        self._check(len(ids), keypoints, scores)  # before anything is queued: a refused frame leaves no trace
        k = self._frames
        self._frames += 1
        broken = ~torch.isfinite(keypoints).all(-1)  # (N, J)
        if scores is not None:
            broken |= ~torch.isfinite(scores)
        self._held.append(_Held(k, item, {i: r for r, i in enumerate(ids)}, keypoints.clone(), len(ids), broken))
        for row, track_id in enumerate(ids):
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = _Track(self.filter.online(), start=k, last_seen=k, next=k)
            if track.next < k:
                self._deliver(track_id, track, track.online.skip(k - track.next))
            track.pending += 1
            track.last_seen, track.next = k, k + 1
            valid = ~broken[row]
            self._deliver(track_id, track, track.online.push(
                torch.where(valid[:, None], keypoints[row], 0.0),
                None if scores is None else torch.where(valid, scores[row], 0.0), valid))
        for track_id, track in list(self._tracks.items()):
            if track.next > k:
                continue
            if track.pending:  # absent now, but earlier frames wait for its future: an invalid frame
                self._deliver(track_id, track, track.online.skip(k + 1 - track.next))
                track.next = k + 1
            memory = track.online.memory
            forget = self.max_gap + 1 if memory is None else min(memory, self.max_gap + 1)
            if not track.pending and k - track.last_seen >= forget:
                del self._tracks[track_id]  # no later output can read its frames (or it has been gone too long)
        return self._ready()

    def _check(self, n: int, keypoints: Tensor, scores: Tensor | None) -> None:
        if not isinstance(keypoints, Tensor) or not keypoints.is_floating_point():
            raise ValueError(f"keypoints must be a floating point tensor (N, J, 2), got {type(keypoints).__name__}")
        if keypoints.ndim != 3 or keypoints.shape[0] != n or keypoints.shape[-1] != 2:
            raise ValueError(f"keypoints must be (N, J, 2) with N = {n} tracks, got {tuple(keypoints.shape)}")
        joints = keypoints.shape[1]
        if self._joints is not None and n and joints != self._joints:
            raise ValueError(f"every frame must have {self._joints} joints, got {joints}")
        if scores is not None and (not isinstance(scores, Tensor) or tuple(scores.shape) != (n, joints)
                                   or not scores.is_floating_point()):
            got = f"{tuple(scores.shape)} {scores.dtype}" if isinstance(scores, Tensor) else type(scores).__name__
            raise ValueError(f"scores must be a floating point tensor (N, J) = {(n, joints)}, got {got}")
        if n and self._scored is not None and self._scored != (scores is not None):
            raise ValueError("give scores with every push or with none")
        if n:
            self._joints = joints
            self._scored = scores is not None

    def flush(self) -> list[tuple[Any, Tensor]]:
        """End of the stream: every waiting frame, then `reset`."""
        for track_id, track in self._tracks.items():
            self._deliver(track_id, track, track.online.flush())
        out = self._ready(force=True)
        self.reset()
        return out

    def _deliver(self, track_id: Hashable, track: _Track, outputs: list[Output]) -> None:
        first = self._held[0].index if self._held else self._frames
        for index, value in outputs:
            frame = track.start + index
            if frame < first:
                continue
            held = self._held[frame - first]
            row = held.rows.get(track_id)
            if row is None:  # the track is absent from that frame
                continue
            held.keypoints[row] = value.to(held.keypoints.dtype)
            held.waiting -= 1
            track.pending -= 1

    def _ready(self, force: bool = False) -> list[tuple[Any, Tensor]]:
        out = []
        while self._held and (force or self._held[0].waiting == 0):
            held = self._held.popleft()
            held.keypoints[held.broken] = float("nan")  # no filter invents a keypoint for a broken one
            out.append((held.item, held.keypoints))
        return out

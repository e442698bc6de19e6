"""`TrackFilter`: online filtering of tracks that come and go, one online filter per track."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

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

    Args:
        filt: the filter (or its name, see `build_filter`).
    """

    def __init__(self, filt: KeypointFilter | str) -> None:
        self.filter = build_filter(filt)
        self.latency = self.filter.latency
        self.reset()

    def reset(self) -> None:
        """Forget every track and every waiting frame."""
        self._frames = 0
        self._held: deque[_Held] = deque()
        self._tracks: dict[Hashable, _Track] = {}

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
        if keypoints.ndim != 3 or keypoints.shape[0] != len(ids) or keypoints.shape[-1] != 2:
            raise ValueError(f"keypoints must be (N, J, 2) with N = {len(ids)} tracks, got {tuple(keypoints.shape)}")
        k = self._frames
        self._frames += 1
        self._held.append(_Held(k, item, {i: r for r, i in enumerate(ids)}, keypoints.clone(), len(ids)))
        for row, track_id in enumerate(ids):
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = _Track(self.filter.online(), start=k, last_seen=k, next=k)
            if track.next < k:
                self._deliver(track_id, track, track.online.skip(k - track.next))
            track.pending += 1
            track.last_seen, track.next = k, k + 1
            self._deliver(track_id, track, track.online.push(
                keypoints[row], None if scores is None else scores[row]))
        for track_id, track in list(self._tracks.items()):
            if track.next > k:
                continue
            if track.pending:  # absent now, but earlier frames wait for its future: an invalid frame
                self._deliver(track_id, track, track.online.skip(k + 1 - track.next))
                track.next = k + 1
            memory = track.online.memory
            if not track.pending and memory is not None and k - track.last_seen >= memory:
                del self._tracks[track_id]  # no later output can read its frames: a fresh filter is the same
        return self._ready()

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
            out.append((held.item, held.keypoints))
        return out

"""Person tracks as plain data: the footage label-free adaptation learns from.

A track is one person followed through consecutive frames: the frames (each an RGB uint8
``(H, W, 3)`` image: a list, an array ``(F, H, W, 3)``, or any object with ``len()`` and
``[i]`` that loads frame ``i`` when asked, e.g. from a video file) and one box per frame,
``(F, 4)`` ``x, y, w, h`` in pixel indices as every box in tarpose
([tarpose.geometry][tarpose.geometry]). Nothing else: no keypoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class Track:
    """One person's frames and boxes.

    Args:
        frames: ``F`` RGB uint8 ``(H, W, 3)`` frames, or a lazy accessor (``len`` and ``[i]``).
        boxes: ``(F, 4)`` ``x, y, w, h`` of the person in each frame (pixel indices).
        key: a string that identifies these frames (e.g. a video file's path, size and
            modification time); when given, the cache key uses it instead of reading frames.
    """

    frames: Any
    boxes: Tensor
    key: str | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> Tensor:
        """Frame ``index`` as a uint8 ``(3, H, W)`` tensor, checked."""
        image = self.frames[index]
        image = torch.as_tensor(np.asarray(image)) if not isinstance(image, Tensor) else image
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"frame {index} must be an RGB uint8 image (H, W, 3), got {image.dtype} of shape "
                f"{tuple(image.shape)}"
            )
        return image.permute(2, 0, 1)  # (3, h, w)


def as_tracks(tracks: Any) -> list[Track]:
    """Tracks given as [Track][tarpose.training.adaptation.tracks.Track]s, ``(frames, boxes)``
    pairs or ``{"frames": ..., "boxes": ...}`` dicts, checked.

    Args:
        tracks: a sequence of them.

    Raises:
        ValueError: no track, a track without frames, boxes that are not ``(F, 4)`` finite
            with positive sides, or as many boxes as frames.
    """
    if isinstance(tracks, (Track, dict)) or not isinstance(tracks, Sequence) or isinstance(tracks, str):
        raise TypeError("tracks must be a list of tracks (Track, (frames, boxes) or {'frames', 'boxes'})")
    if len(tracks) == 0:
        raise ValueError("no tracks given: adaptation needs at least one person track")
    out = []
    for i, track in enumerate(tracks):
        if isinstance(track, dict):
            extra = sorted(set(track) - {"frames", "boxes", "key"})
            if extra or "frames" not in track or "boxes" not in track:
                raise ValueError(f"track {i} must have 'frames' and 'boxes' (and optionally 'key'), got {sorted(track)}")
            track = Track(track["frames"], track["boxes"], track.get("key"))
        elif isinstance(track, (tuple, list)) and len(track) == 2:
            track = Track(*track)
        elif not isinstance(track, Track):
            raise TypeError(f"track {i} must be a Track, a (frames, boxes) pair or a dict, got {type(track).__name__}")
        boxes = torch.as_tensor(np.asarray(track.boxes), dtype=torch.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"track {i}: boxes must be (F, 4) as x, y, w, h, got shape {tuple(boxes.shape)}")
        if len(boxes) == 0:
            raise ValueError(f"track {i} has no frames")
        if not bool(torch.isfinite(boxes).all()) or bool((boxes[:, 2:] <= 0).any()):
            raise ValueError(f"track {i}: boxes must be finite with positive width and height")
        try:
            count = len(track.frames)
        except TypeError:
            raise TypeError(f"track {i}: frames must have a length (a list, an array or a lazy accessor)") from None
        if count != len(boxes):
            raise ValueError(f"track {i} has {count} frames but {len(boxes)} boxes")
        out.append(Track(track.frames, boxes, track.key))
    return out


def fingerprint(tracks: Sequence[Track]) -> str:
    """A cheap SHA-256 identifying the footage, for cache keys: every box, and per track its key
    or else the bytes of its first, middle and last frame."""
    digest = hashlib.sha256()
    for track in tracks:
        digest.update(f"track {len(track)}|".encode())
        digest.update(track.boxes.to(torch.float64).contiguous().numpy().tobytes())
        if track.key is not None:
            digest.update(f"key {track.key}|".encode())
            continue
        for index in sorted({0, len(track) // 2, len(track) - 1}):
            frame = track.frame(index)
            digest.update(f"{tuple(frame.shape)}|".encode())
            digest.update(frame.contiguous().numpy().tobytes())
    return digest.hexdigest()

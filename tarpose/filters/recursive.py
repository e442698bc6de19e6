"""The online form shared by the recursive filters (One-Euro, Kalman): a state updated frame by
frame, the same update the offline filter runs over a whole track, so online equals offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from einops import rearrange
from torch import Tensor

from ._checks import checked_frame, integer
from .base import KeypointFilter, OnlineFilter, Output

__all__ = ["RecursiveOnline", "State"]


class State(Protocol):
    """A recursive filter's state for ``(B, J, 2)`` coordinates."""

    def step(self, x: Tensor, scores: Tensor | None, valid: Tensor, t: int) -> Tensor:
        """Frame ``t``: ``x`` ``(B, J, 2)`` float64, scores ``(B, J)`` or None, valid ``(B, J)``
        -> the output ``(B, J, 2)``."""


class RecursiveOnline(OnlineFilter):
    """A causal filter fed one frame at a time through its state's ``step``.

    Args:
        filt: the filter (its settings).
        start: ``start(like (B, J, 2), filt) -> State``, called at the first push.
    """

    def __init__(self, filt: KeypointFilter, start: Callable[[Tensor, KeypointFilter], State]) -> None:
        self.filter = filt
        self._start = start
        self.latency = 0
        self.memory = None  # the state carries over any gap
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._state: State | None = None
        self._shape: tuple[torch.Size, torch.dtype, torch.device] | None = None

    def push(self, keypoints: Tensor, scores: Tensor | None = None, valid: Tensor | None = None) -> list[Output]:
        x, s, v = checked_frame(keypoints, scores, valid, self._shape)
        self._shape = (keypoints.shape, keypoints.dtype, keypoints.device)
        lead = x.shape[:-2]
        x = rearrange(x, "... j c -> (...) j c")  # (B, J, 2)
        s = None if s is None else rearrange(s, "... j -> (...) j")  # (B, J)
        v = rearrange(v, "... j -> (...) j")  # (B, J)
        if self._state is None:
            self._state = self._start(x, self.filter)
        out = self._state.step(x, s, v, self.frames)
        self.frames += 1
        return [(self.frames - 1, out.reshape(*lead, *out.shape[1:]).to(keypoints.dtype))]

    def skip(self, frames: int) -> list[Output]:
        frames = integer("frames", frames)
        if frames < 0:
            raise ValueError(f"skip needs frames >= 0, got {frames}")
        self.frames += frames  # the state holds; the next valid frame sees the elapsed time
        return []

    def flush(self) -> list[Output]:
        self.reset()
        return []

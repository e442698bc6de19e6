"""The 1-Euro filter (Casiez, Roussel and Vogel, CHI 2012): causal, per coordinate, offline and
online through the same state update (`_OneEuroState`). The formula is in the `tarpose.filters`
package docs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import KeypointFilter, OnlineFilter
from .recursive import RecursiveOnline

__all__ = ["OneEuroFilter"]


class OneEuroFilter(KeypointFilter):
    """The 1-Euro filter (Casiez et al., CHI 2012), causal, per coordinate (see `tarpose.filters`).

    Args:
        min_cutoff: cutoff frequency at rest, in Hz (> 0); lower removes more jitter.
        beta: how fast the cutoff rises with speed (>= 0; in Hz per pixel/second); higher lags less.
        d_cutoff: cutoff of the derivative's low-pass filter, in Hz (> 0).
        fps: frame rate of the tracks, in frames per second (> 0).
    """

    name = "one-euro"
    OPTIONS = {"min_cutoff": float, "beta": float, "d_cutoff": float, "fps": float}

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, fps: float = 30.0) -> None:
        for key, value, low in (("min_cutoff", min_cutoff, 0.0), ("d_cutoff", d_cutoff, 0.0), ("fps", fps, 0.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
                raise ValueError(f"one-euro: {key} must be a finite number > 0, got {value!r}")
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise ValueError(f"one-euro: beta must be a finite number >= 0, got {beta!r}")
        self.min_cutoff, self.beta, self.d_cutoff, self.fps = float(min_cutoff), float(beta), float(d_cutoff), float(fps)
        self.causal = True
        self.latency = 0

    def _filter(self, x: Tensor, scores: Tensor | None, valid: Tensor) -> Tensor:
        state = _OneEuroState.start(x[:, 0], self)
        return torch.stack([state.step(x[:, t], None, valid[:, t], t) for t in range(x.shape[1])], dim=1)

    def online(self) -> OnlineFilter:
        return RecursiveOnline(self, _OneEuroState.start)


def _alpha(cutoff: Tensor | float, rate: Tensor) -> Tensor:
    """The smoothing factor of a first-order low-pass at ``cutoff`` Hz sampled at ``rate`` Hz:
    ``1 / (1 + tau / Te)`` with ``tau = 1 / (2 pi cutoff)``, ``Te = 1 / rate``."""
    return 1.0 / (1.0 + rate / (2 * math.pi * cutoff))


@dataclass
class _OneEuroState:
    """The filter's state for ``(B, J, 2)`` coordinates."""

    filt: OneEuroFilter
    estimate: Tensor  # (B, J, 2) xhat
    derivative: Tensor  # (B, J, 2) dxhat
    started: Tensor  # (B, J) bool: a valid frame has been seen
    last: Tensor  # (B, J) float64 frame index of the last valid frame

    @classmethod
    def start(cls, like: Tensor, filt: OneEuroFilter) -> _OneEuroState:
        zeros = torch.zeros_like(like, dtype=torch.float64)
        return cls(filt, zeros, zeros.clone(), torch.zeros(like.shape[:-1], dtype=torch.bool, device=like.device),
                   torch.zeros(like.shape[:-1], dtype=torch.float64, device=like.device))

    def step(self, x: Tensor, scores: Tensor | None, valid: Tensor, t: int) -> Tensor:
        """Frame ``t``: ``x`` ``(B, J, 2)`` float64, ``valid`` ``(B, J)`` -> output ``(B, J, 2)``
        (the scores are not read)."""
        f = self.filt
        rate = (f.fps / (t - self.last).clamp(min=1))[..., None]  # (B, J, 1): the time since the last valid frame
        dx = (x - self.estimate) * rate
        ad = _alpha(f.d_cutoff, rate)
        derivative = torch.where(self.started[..., None], ad * dx + (1 - ad) * self.derivative, 0.0)
        a = _alpha(f.min_cutoff + f.beta * derivative.abs(), rate)
        estimate = torch.where(self.started[..., None], a * x + (1 - a) * self.estimate, x)
        update = valid[..., None]
        self.estimate = torch.where(update, estimate, self.estimate)
        self.derivative = torch.where(update, derivative, self.derivative)
        self.last = torch.where(valid, float(t), self.last)
        self.started = self.started | valid
        return torch.where(self.started[..., None], self.estimate, x)

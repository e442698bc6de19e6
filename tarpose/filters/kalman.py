"""A constant-velocity Kalman filter on each keypoint coordinate: causal, offline and online through
the same state update (`_KalmanState`). The model is in the `tarpose.filters` package docs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import KeypointFilter, OnlineFilter
from .recursive import RecursiveOnline

__all__ = ["KalmanFilter"]


class KalmanFilter(KeypointFilter):
    """A constant-velocity Kalman filter per coordinate, causal (see `tarpose.filters`).

    The state is a position and a velocity (pixels, pixels per frame); between frames the velocity
    holds and a random acceleration of variance ``process`` (px^2 / frame^4) enters; each valid
    keypoint is a measurement of the position with variance ``measurement`` (px^2), divided by
    the keypoint's score when ``score_weighted`` (a keypoint the model is unsure of moves the
    estimate less, and the velocity carries it through).

    Args:
        process: acceleration variance (> 0); higher follows fast motion more closely.
        measurement: measurement variance (> 0); higher smooths more.
        score_weighted: scale each measurement's variance by ``1 / score`` (scores clamped to
            ``[0.01, 1]``; no scores: weight 1).
    """

    name = "kalman"
    OPTIONS = {"process": float, "measurement": float, "score_weighted": bool}

    def __init__(self, process: float = 1.0, measurement: float = 4.0, score_weighted: bool = True) -> None:
        for key, value in (("process", process), ("measurement", measurement)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"kalman: {key} must be a finite number > 0, got {value!r}")
        if not isinstance(score_weighted, bool):
            raise ValueError(f"kalman: score_weighted must be true or false, got {score_weighted!r}")
        self.process, self.measurement, self.score_weighted = float(process), float(measurement), score_weighted
        self.causal = True
        self.latency = 0

    def _filter(self, x: Tensor, scores: Tensor | None, valid: Tensor) -> Tensor:
        state = _KalmanState.start(x[:, 0], self)
        return torch.stack(
            [state.step(x[:, t], None if scores is None else scores[:, t], valid[:, t], t) for t in range(x.shape[1])],
            dim=1,
        )

    def online(self) -> OnlineFilter:
        return RecursiveOnline(self, _KalmanState.start)


@dataclass
class _KalmanState:
    """The filter's state for ``(B, J, 2)`` coordinates: position and velocity per coordinate, and
    their 2x2 covariance per joint (the same for x and y: both see the same noise)."""

    filt: KalmanFilter
    position: Tensor  # (B, J, 2)
    velocity: Tensor  # (B, J, 2)
    p00: Tensor  # (B, J) position variance
    p01: Tensor  # (B, J) position-velocity covariance
    p11: Tensor  # (B, J) velocity variance
    started: Tensor  # (B, J) bool: a valid frame has been seen
    last: Tensor  # (B, J) float64 frame index of the last update

    @classmethod
    def start(cls, like: Tensor, filt: KalmanFilter) -> _KalmanState:
        zeros = torch.zeros_like(like, dtype=torch.float64)
        scalar = torch.zeros(like.shape[:-1], dtype=torch.float64, device=like.device)
        return cls(filt, zeros, zeros.clone(), scalar, scalar.clone(), scalar.clone(),
                   torch.zeros(like.shape[:-1], dtype=torch.bool, device=like.device), scalar.clone())

    def step(self, z: Tensor, scores: Tensor | None, valid: Tensor, t: int) -> Tensor:
        """Frame ``t``: measurements ``z`` ``(B, J, 2)`` float64 (scores ``(B, J)`` or None), valid
        ``(B, J)`` -> the estimate ``(B, J, 2)``: the posterior where valid, else the prediction."""
        f = self.filt
        dt = (t - self.last)  # (B, J): frames since the last update
        # predict: x += v dt; P = F P F^T + Q, Q the white-acceleration noise of dt frames
        position = self.position + self.velocity * dt[..., None]
        q = f.process
        p00 = self.p00 + 2 * dt * self.p01 + dt**2 * self.p11 + q * dt**4 / 4
        p01 = self.p01 + dt * self.p11 + q * dt**3 / 2
        p11 = self.p11 + q * dt**2
        # update with the measurement
        r = torch.full_like(p00, f.measurement)
        if f.score_weighted and scores is not None:
            r = r / scores.clamp(0.01, 1.0)
        s = p00 + r
        k0, k1 = p00 / s, p01 / s  # the Kalman gain (B, J)
        innovation = z - position
        updated = (
            position + k0[..., None] * innovation, self.velocity + k1[..., None] * innovation,
            (1 - k0) * p00, (1 - k0) * p01, p11 - k1 * p01,
        )
        # the first valid frame starts the track: at the measurement, at rest, uncertain speed
        first = (z, torch.zeros_like(z), r, torch.zeros_like(r), torch.full_like(r, _START_SPEED_VARIANCE))
        fresh, update = valid & ~self.started, valid & self.started
        parts = []
        for new, start, old in zip(updated, first, (self.position, self.velocity, self.p00, self.p01, self.p11)):
            mask_u, mask_f = (update, fresh) if new.ndim == update.ndim else (update[..., None], fresh[..., None])
            parts.append(torch.where(mask_u, new, torch.where(mask_f, start, old)))
        self.position, self.velocity, self.p00, self.p01, self.p11 = parts
        self.last = torch.where(valid, float(t), self.last)
        self.started = self.started | valid
        predicted = self.position + self.velocity * (t - self.last)[..., None]  # invalid: extrapolate
        return torch.where(self.started[..., None], torch.where(valid[..., None], self.position, predicted), z)


#: the velocity variance a track starts with (px^2 / frame^2): about 10 px per frame either way
_START_SPEED_VARIANCE = 100.0

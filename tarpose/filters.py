"""Keypoint-track filters: median, score-weighted mean, Savitzky-Golay, One-Euro.

A track is ``(F, J, 2)`` keypoints over ``F`` frames (batched: ``(..., F, J, 2)``, one track per
leading index) with optional scores ``(..., F, J)`` and validity ``(..., F, J)`` bool. Every
filter returns the filtered track with the input's shape and dtype (the arithmetic runs in
float64), vectorised over tracks and joints.

Windows. A centred filter of window ``W`` (odd) reads frames ``t - W//2 .. t + W//2`` and has a
latency of ``W//2`` frames; a causal one (``causal=True``) reads ``t - W + 1 .. t`` and has none.
Only frames that exist and are valid enter a window: at the ends of a track the window is
truncated (never padded, never shifted), and an invalid frame is treated exactly as a frame that
does not exist. So a filter has no padding artefacts, invalid frames never influence an output,
and a filter run online over a stream (`KeypointFilter.online`) equals the filter run
offline over the whole track. A frame whose window holds no valid frame keeps its input value;
an invalid frame whose window holds valid frames gets the filtered estimate (a gap is bridged).

Filters (`build_filter` builds them from a name like ``"savgol:window=9,order=2"``):

- ``median``: the per-coordinate median of the window (the mean of the two middle values when
  the window holds an even number of valid frames).
- ``mean``: the score-weighted mean of the window (scores clamped at 0; uniform weights without
  scores, or when every score of a window is 0).
- ``savgol``: Savitzky-Golay: the least-squares polynomial of degree ``order`` through the
  window's valid frames, evaluated at frame ``t`` (causal: at the window's last point). On the
  interior of a fully valid track this is ``scipy.signal.savgol_filter``; at the ends the
  polynomial is fit to the truncated window (scipy's ``mode='interp'`` shifts the window instead,
  which would need ``W - 1`` frames of look-ahead at the start of a track), and when a window
  holds ``n <= order`` valid frames the degree drops to ``n - 1``.
- ``one-euro``: the 1-Euro filter (Casiez, Roussel and Vogel, CHI 2012), causal, applied to each
  coordinate: ``alpha(fc) = 1 / (1 + rate / (2 pi fc))``; the derivative
  ``dx = (x_t - xhat_{t-1}) * rate`` is smoothed with ``alpha(d_cutoff)``, the cutoff is
  ``min_cutoff + beta * |dxhat|`` and ``xhat_t = alpha * x_t + (1 - alpha) * xhat_{t-1}``; the
  first valid frame passes unchanged (``dxhat = 0``). Invalid frames are skipped (the estimate is
  held) and the next valid frame uses the elapsed time: ``rate = fps / gap``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from einops import rearrange
from torch import Tensor

__all__ = [
    "FILTERS",
    "KeypointFilter",
    "MeanFilter",
    "MedianFilter",
    "OneEuroFilter",
    "OnlineFilter",
    "SavgolFilter",
    "TrackSmoother",
    "build_filter",
    "list_filters",
]

Output = tuple[int, Tensor]  # (frame index from the first push, filtered (..., J, 2))


class KeypointFilter(ABC):
    """A filter over keypoint tracks. Call it on whole tracks; `online` filters a stream.

    Attributes:
        name: the registry name (`FILTERS`).
        causal: whether an output reads only the current and past frames.
        latency: frames an online output trails its input (0 for a causal filter, ``W//2`` for a
            centred window ``W``).
    """

    name: ClassVar[str]
    #: option name -> type, in the order `spec` writes them
    OPTIONS: ClassVar[dict[str, type]]
    causal: bool
    latency: int

    def options(self) -> dict[str, Any]:
        """The filter's options, every one of them: ``{"window": 5, "causal": False}``."""
        return {key: getattr(self, key) for key in self.OPTIONS}

    def spec(self) -> str:
        """The name that rebuilds this filter with `build_filter`, e.g.
        ``"median:window=5,causal=false"``."""
        return f"{self.name}:" + ",".join(f"{k}={_format(v)}" for k, v in self.options().items())

    def describe(self) -> dict[str, Any]:
        """A JSON-ready record: ``name``, ``options``, ``spec``, ``causal``, ``latency_frames``."""
        return {"name": self.name, "options": self.options(), "spec": self.spec(),
                "causal": self.causal, "latency_frames": self.latency}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options().items())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.options() == self.options()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(self.spec())

    def __call__(self, keypoints: Tensor, scores: Tensor | None = None, valid: Tensor | None = None) -> Tensor:
        """Filter whole tracks.

        Args:
            keypoints: ``(..., F, J, 2)`` floating point tracks.
            scores: ``(..., F, J)`` keypoint scores (used by ``mean``), or ``None``.
            valid: ``(..., F, J)`` bool, ``False`` where a keypoint is missing; all valid by default.

        Returns:
            ``(..., F, J, 2)`` filtered tracks, the input's dtype and device.
        """
        x, s, v = _checked(keypoints, scores, valid)
        lead = x.shape[:-3]
        x = rearrange(x, "... f j c -> (...) f j c")  # (B, F, J, 2)
        s = None if s is None else rearrange(s, "... f j -> (...) f j")
        v = rearrange(v, "... f j -> (...) f j")
        out = self._filter(x.to(torch.float64), None if s is None else s.to(torch.float64), v)
        return out.reshape(*lead, *out.shape[1:]).to(keypoints.dtype)

    @abstractmethod
    def _filter(self, x: Tensor, scores: Tensor | None, valid: Tensor) -> Tensor:
        """``x`` ``(B, F, J, 2)`` float64, ``scores`` ``(B, F, J)`` or None, ``valid`` ``(B, F, J)``."""

    @abstractmethod
    def online(self) -> OnlineFilter:
        """A fresh online filter (one stream of tracks)."""


class OnlineFilter(ABC):
    """A filter fed one frame at a time: `push` a frame ``(..., J, 2)``, get back the
    outputs that became ready as ``(frame index, keypoints (..., J, 2))`` pairs (frames count
    from the first push). Frame ``t`` comes out once frame ``t + latency`` has been pushed, or at
    `flush`; the outputs equal the offline filter's on the whole track.

    Attributes:
        latency: frames an output trails its input.
        memory: frames after which a valid frame no longer affects any later output (``None``:
            never, One-Euro's state carries over any gap).
    """

    latency: int
    memory: int | None

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next push is frame 0 of a new track."""
        self.frames = 0  # frames pushed (and skipped)

    @abstractmethod
    def push(self, keypoints: Tensor, scores: Tensor | None = None, valid: Tensor | None = None) -> list[Output]:
        """Add the next frame.

        Args:
            keypoints: ``(..., J, 2)`` the frame's keypoints (every push the same shape).
            scores: ``(..., J)`` their scores, or ``None``.
            valid: ``(..., J)`` bool, all valid by default.

        Returns:
            ``(index, filtered (..., J, 2))`` for each frame whose output is now ready.
        """

    @abstractmethod
    def skip(self, frames: int) -> list[Output]:
        """``frames`` frames with nothing valid (a gap in the track), in O(min(frames, W)) work.

        Returns the outputs that become ready for frames pushed before the gap; the gap's own
        frames get none."""

    @abstractmethod
    def flush(self) -> list[Output]:
        """End of the track: the outputs of every frame still waiting; then `reset`."""


# ------------------------------------------------------------------------------- windowed


class WindowFilter(KeypointFilter):
    """A filter over a window of ``window`` frames (centred, or causal: ``t - W + 1 .. t``)."""

    def __init__(self, window: int = 5, causal: bool = False) -> None:
        window = _integer("window", window)
        if window < 1:
            raise ValueError(f"{self.name}: window must be >= 1, got {window}")
        if not causal and window % 2 == 0:
            raise ValueError(
                f"{self.name}: a centred window must be odd, got {window} (or causal=true: frames t-{window - 1}..t)"
            )
        self.window = window
        self.causal = bool(causal)
        self.latency = 0 if self.causal else window // 2

    @property
    def offsets(self) -> Tensor:
        """``(W,)`` frame offsets of the window relative to its output frame."""
        start = -(self.window - 1) if self.causal else -(self.window // 2)
        return torch.arange(start, start + self.window)

    def _filter(self, x: Tensor, scores: Tensor | None, valid: Tensor) -> Tensor:
        return self._at(x, scores, valid, torch.arange(x.shape[1], device=x.device))

    def _at(self, x: Tensor, scores: Tensor | None, valid: Tensor, rows: Tensor) -> Tensor:
        """Outputs ``(B, R, J, 2)`` of frames ``rows`` ``(R,)`` of tracks ``(B, F, J, 2)``."""
        f = x.shape[1]
        offsets = self.offsets.to(x.device)
        index = rows[:, None] + offsets  # (R, W)
        inside = (index >= 0) & (index < f)
        index = index.clamp(0, f - 1)
        vw = valid[:, index] & inside[None, :, :, None]  # (B, R, W, J)
        xw = torch.where(vw[..., None], x[:, index], 0.0)  # (B, R, W, J, 2); invalid values never read
        sw = None if scores is None else torch.where(vw, scores[:, index], 0.0)  # (B, R, W, J)
        out = self._reduce(xw, sw, vw, offsets)
        return torch.where(vw.any(2)[..., None], out, x[:, rows])  # an empty window keeps the input

    @abstractmethod
    def _reduce(self, xw: Tensor, sw: Tensor | None, vw: Tensor, offsets: Tensor) -> Tensor:
        """Windows ``xw`` ``(B, R, W, J, 2)`` (0 where invalid), scores ``sw`` ``(B, R, W, J)`` or
        None, validity ``vw`` ``(B, R, W, J)``, ``offsets`` ``(W,)`` -> ``(B, R, J, 2)``."""

    def online(self) -> OnlineFilter:
        return _OnlineWindow(self)


class MedianFilter(WindowFilter):
    """The per-coordinate median of each window (see the module docs).

    Args:
        window: frames in the window (odd unless causal).
        causal: read frames ``t - W + 1 .. t`` instead of the centred window.
    """

    name = "median"
    OPTIONS = {"window": int, "causal": bool}

    def _reduce(self, xw: Tensor, sw: Tensor | None, vw: Tensor, offsets: Tensor) -> Tensor:
        values = torch.where(vw[..., None], xw, math.inf).sort(dim=2).values  # (B, R, W, J, 2), invalid last
        n = vw.sum(2)  # (B, R, J)
        lo = ((n - 1).clamp(min=0) // 2)[:, :, None, :, None].expand(-1, -1, 1, -1, 2)
        hi = (n // 2).clamp(max=xw.shape[2] - 1)[:, :, None, :, None].expand(-1, -1, 1, -1, 2)
        return (values.gather(2, lo) + values.gather(2, hi)).squeeze(2) / 2  # (B, R, J, 2)


class MeanFilter(WindowFilter):
    """The score-weighted mean of each window (see the module docs).

    Args:
        window: frames in the window (odd unless causal).
        causal: read frames ``t - W + 1 .. t`` instead of the centred window.
    """

    name = "mean"
    OPTIONS = {"window": int, "causal": bool}

    def _reduce(self, xw: Tensor, sw: Tensor | None, vw: Tensor, offsets: Tensor) -> Tensor:
        uniform = vw.to(xw.dtype)  # (B, R, W, J)
        weight = uniform if sw is None else sw.clamp(min=0) * uniform
        total = weight.sum(2)  # (B, R, J)
        weight = torch.where((total > 0)[:, :, None], weight, uniform)  # all scores 0: plain mean
        return (weight[..., None] * xw).sum(2) / weight.sum(2).clamp(min=1e-300)[..., None]


class SavgolFilter(WindowFilter):
    """Savitzky-Golay: a least-squares polynomial through each window (see the module docs).

    Args:
        window: frames in the window (odd unless causal).
        order: polynomial degree, ``0 <= order < window``.
        causal: fit frames ``t - W + 1 .. t`` and evaluate at ``t`` instead of the centred window.
    """

    name = "savgol"
    OPTIONS = {"window": int, "order": int, "causal": bool}

    def __init__(self, window: int = 7, order: int = 2, causal: bool = False) -> None:
        super().__init__(window, causal)
        order = _integer("order", order)
        if not 0 <= order < self.window:
            raise ValueError(f"savgol: order must be in [0, window) = [0, {self.window}), got {order}")
        self.order = order

    def _reduce(self, xw: Tensor, sw: Tensor | None, vw: Tensor, offsets: Tensor) -> Tensor:
        p = self.order + 1
        # Legendre polynomials of each window's valid positions mapped onto [-1, 1]: the normal
        # equations stay well conditioned for any window, also when a window is truncated
        pos = offsets.to(xw.dtype)[:, None]  # (W, 1)
        lo = torch.where(vw, pos, math.inf).amin(2)  # (B, R, J)
        hi = torch.where(vw, pos, -math.inf).amax(2)
        mid = torch.where(vw.any(2), (lo + hi) / 2, 0.0)
        half = torch.where(vw.any(2), (hi - lo) / 2, 1.0).clamp(min=1.0)
        u = (pos - mid[:, :, None]) / half[:, :, None]  # (B, R, W, J)
        basis = _legendre(torch.where(vw, u, 0.0), p)  # (B, R, W, J, P)
        at_t = _legendre(-mid / half, p)  # (B, R, J, P): the polynomials at frame t (offset 0)
        w = vw.to(xw.dtype)
        normal = torch.einsum("brwj,brwjk,brwjl->brjkl", w, basis, basis)  # (B, R, J, P, P)
        rhs = torch.einsum("brwj,brwjk,brwjc->brjkc", w, basis, xw)  # (B, R, J, P, 2)
        # degree min(order, n - 1): the unused coefficients get identity rows (and come out 0)
        count = vw.sum(2)  # (B, R, J)
        degree = (count - 1).clamp(min=0, max=self.order)
        used = torch.arange(p, device=xw.device) <= degree[..., None]  # (B, R, J, P)
        square = used[..., :, None] & used[..., None, :] & (count > 0)[..., None, None]
        normal = torch.where(square, normal, torch.eye(p, dtype=xw.dtype, device=xw.device))
        rhs = torch.where(used[..., None], rhs, 0.0)
        coefficients = torch.linalg.solve(normal, rhs)  # (B, R, J, P, 2); an empty window: 0, replaced later
        return torch.einsum("brjkc,brjk->brjc", coefficients, at_t)


def _legendre(u: Tensor, p: int) -> Tensor:
    """Legendre polynomials ``P_0 .. P_{p-1}`` at ``u`` ``(...)`` -> ``(..., p)``."""
    out = [torch.ones_like(u), u][:p]
    for k in range(1, p - 1):
        out.append(((2 * k + 1) * u * out[k] - k * out[k - 1]) / (k + 1))
    return torch.stack(out, dim=-1)


class _OnlineWindow(OnlineFilter):
    """A window filter online: the last ``W`` frames in a buffer; frame ``n - latency`` is
    computed when frame ``n`` arrives, with the same arithmetic as offline."""

    def __init__(self, filt: WindowFilter) -> None:
        self.filter = filt
        self.latency = filt.latency
        self.memory = filt.window
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._buffer: deque[tuple[Tensor, Tensor | None, Tensor]] = deque(maxlen=self.filter.window)
        self._shape: tuple[torch.Size, torch.dtype, torch.device] | None = None
        self._scored: bool | None = None

    def push(self, keypoints: Tensor, scores: Tensor | None = None, valid: Tensor | None = None) -> list[Output]:
        x, s, v = _checked_frame(keypoints, scores, valid, self._shape)
        if self._scored is None:
            self._scored = s is not None
        elif self._scored != (s is not None):
            raise ValueError("give scores with every push or with none")
        self._shape = (keypoints.shape, keypoints.dtype, keypoints.device)
        self._buffer.append((x, s, v))
        self.frames += 1
        target = self.frames - 1 - self.latency
        return [self._output(target)] if target >= 0 else []

    def skip(self, frames: int) -> list[Output]:
        frames = _integer("frames", frames)
        if frames < 0:
            raise ValueError(f"skip needs frames >= 0, got {frames}")
        first = self.frames  # the gap's first frame
        if self._shape is None:  # nothing pushed yet: nothing to wait for
            self.frames += frames
            return []
        out = []
        for _ in range(min(frames, self.filter.window)):  # then the buffer holds only the gap
            x, s, v = self._buffer[-1]
            self._buffer.append((x, s, torch.zeros_like(v)))
            self.frames += 1
            target = self.frames - 1 - self.latency
            if 0 <= target < first:
                out.append(self._output(target))
        self.frames += frames - min(frames, self.filter.window)
        return out

    def flush(self) -> list[Output]:
        start = max(self.frames - self.latency, 0)
        out = [self._output(t) for t in range(start, self.frames)] if self._shape is not None else []
        self.reset()
        return out

    def _output(self, target: int) -> Output:
        """Frame ``target``'s output from the buffer (which ends at frame ``frames - 1``)."""
        first = self.frames - len(self._buffer)
        x = torch.stack([b[0] for b in self._buffer], dim=-3)  # (..., K, J, 2)
        v = torch.stack([b[2] for b in self._buffer], dim=-2)  # (..., K, J)
        s = torch.stack([b[1] for b in self._buffer], dim=-2) if self._scored else None
        lead = x.shape[:-3]
        x = rearrange(x, "... k j c -> (...) k j c")  # (B, K, J, 2)
        v = rearrange(v, "... k j -> (...) k j")
        s = None if s is None else rearrange(s, "... k j -> (...) k j")
        row = torch.tensor([target - first], device=x.device)
        out = self.filter._at(x, s, v, row)[:, 0]  # (B, J, 2)
        shape, dtype, _ = self._shape  # type: ignore[misc]
        return target, out.reshape(*lead, *out.shape[1:]).to(dtype)


# ------------------------------------------------------------------------------- One-Euro


class OneEuroFilter(KeypointFilter):
    """The 1-Euro filter (Casiez et al., CHI 2012), causal, per coordinate (see the module docs).

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
        return torch.stack([state.step(x[:, t], valid[:, t], t) for t in range(x.shape[1])], dim=1)

    def online(self) -> OnlineFilter:
        return _OnlineOneEuro(self)


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

    def step(self, x: Tensor, valid: Tensor, t: int) -> Tensor:
        """Frame ``t``: ``x`` ``(B, J, 2)`` float64, ``valid`` ``(B, J)`` -> output ``(B, J, 2)``."""
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


class _OnlineOneEuro(OnlineFilter):
    def __init__(self, filt: OneEuroFilter) -> None:
        self.filter = filt
        self.latency = 0
        self.memory = None
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._state: _OneEuroState | None = None
        self._shape: tuple[torch.Size, torch.dtype, torch.device] | None = None

    def push(self, keypoints: Tensor, scores: Tensor | None = None, valid: Tensor | None = None) -> list[Output]:
        x, _, v = _checked_frame(keypoints, scores, valid, self._shape)
        self._shape = (keypoints.shape, keypoints.dtype, keypoints.device)
        lead = x.shape[:-2]
        x = rearrange(x, "... j c -> (...) j c").to(torch.float64)  # (B, J, 2)
        v = rearrange(v, "... j -> (...) j")
        if self._state is None:
            self._state = _OneEuroState.start(x, self.filter)
        out = self._state.step(x, v, self.frames)
        self.frames += 1
        return [(self.frames - 1, out.reshape(*lead, *out.shape[1:]).to(keypoints.dtype))]

    def skip(self, frames: int) -> list[Output]:
        frames = _integer("frames", frames)
        if frames < 0:
            raise ValueError(f"skip needs frames >= 0, got {frames}")
        self.frames += frames  # the state holds; the next valid frame sees the elapsed time
        return []

    def flush(self) -> list[Output]:
        self.reset()
        return []


# ------------------------------------------------------------------------------- registry

#: filter name -> class
FILTERS: dict[str, type[KeypointFilter]] = {
    "median": MedianFilter,
    "mean": MeanFilter,
    "savgol": SavgolFilter,
    "one-euro": OneEuroFilter,
}


def list_filters() -> list[str]:
    """The registered filter names."""
    return list(FILTERS)


def build_filter(spec: str | KeypointFilter, **defaults: Any) -> KeypointFilter:
    """A filter from its name and options: ``"median"``, ``"median:window=5"``,
    ``"savgol:window=9,order=2,causal=true"``, ``"one-euro:min_cutoff=1,beta=0.01,fps=25"``.

    Args:
        spec: ``NAME[:key=value,...]`` (or a filter, returned as is).
        defaults: option values used where ``spec`` gives none, for the filters that take them
            (e.g. ``fps=`` the video's frame rate); ignored by the others.

    Returns:
        The filter. Raises ``ValueError`` naming the problem for an unknown name or option or a
        bad value.
    """
    if isinstance(spec, KeypointFilter):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a filter spec must be a string like 'median:window=5', got {type(spec).__name__}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; known: {', '.join(FILTERS)} (e.g. 'median:window=5')")
    cls = FILTERS[name]
    options: dict[str, Any] = {k: v for k, v in defaults.items() if k in cls.OPTIONS and v is not None}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in cls.OPTIONS:
            raise ValueError(
                f"{name}: bad option {item!r}; options (key=value): {', '.join(cls.OPTIONS)}"
            )
        options[key] = _parse(name, key, value.strip(), cls.OPTIONS[key])
    return cls(**options)


def _parse(name: str, key: str, value: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            return int(value)
        return float(value)
    except ValueError:
        raise ValueError(f"{name}: option {key} must be {kind.__name__}, got {value!r}") from None


def _format(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------- input checks


def _checked(keypoints: Tensor, scores: Tensor | None, valid: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor]:
    if not isinstance(keypoints, Tensor):
        raise TypeError(f"keypoints must be a torch.Tensor (..., F, J, 2), got {type(keypoints).__name__}")
    if keypoints.ndim < 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (..., F, J, 2), got shape {tuple(keypoints.shape)}")
    if not keypoints.is_floating_point():
        raise ValueError(f"keypoints must be floating point, got {keypoints.dtype}")
    if keypoints.shape[-3] == 0:
        raise ValueError("keypoints have no frames (F = 0)")
    return keypoints, *_side(keypoints, scores, valid, "(..., F, J)")


def _checked_frame(
    keypoints: Tensor, scores: Tensor | None, valid: Tensor | None, shape: tuple[torch.Size, torch.dtype, torch.device] | None
) -> tuple[Tensor, Tensor | None, Tensor]:
    if not isinstance(keypoints, Tensor):
        raise TypeError(f"keypoints must be a torch.Tensor (..., J, 2), got {type(keypoints).__name__}")
    if keypoints.ndim < 2 or keypoints.shape[-1] != 2 or not keypoints.is_floating_point():
        raise ValueError(f"keypoints must be floating point (..., J, 2), got {tuple(keypoints.shape)} {keypoints.dtype}")
    if shape is not None and keypoints.shape != shape[0]:
        raise ValueError(f"every frame must have the shape of the first, {tuple(shape[0])}; got {tuple(keypoints.shape)}")
    s, v = _side(keypoints, scores, valid, "(..., J)")
    return keypoints.to(torch.float64), None if s is None else s.to(torch.float64), v


def _side(keypoints: Tensor, scores: Tensor | None, valid: Tensor | None, layout: str) -> tuple[Tensor | None, Tensor]:
    """Checked scores and validity (default: all valid); valid keypoints must be finite."""
    shape = keypoints.shape[:-1]
    if valid is None:
        valid = torch.ones(shape, dtype=torch.bool, device=keypoints.device)
    elif not isinstance(valid, Tensor) or valid.dtype != torch.bool or valid.shape != shape:
        got = f"{tuple(valid.shape)} {valid.dtype}" if isinstance(valid, Tensor) else type(valid).__name__
        raise ValueError(f"valid must be a bool tensor {layout} = {tuple(shape)}, got {got}")
    if scores is not None and (not isinstance(scores, Tensor) or scores.shape != shape or not scores.is_floating_point()):
        got = f"{tuple(scores.shape)} {scores.dtype}" if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a floating point tensor {layout} = {tuple(shape)}, got {got}")
    if not bool(torch.isfinite(keypoints).all(-1)[valid].all()):
        raise ValueError("keypoints of valid frames must be finite (mark missing ones invalid)")
    if scores is not None and not bool(torch.isfinite(scores)[valid].all()):
        raise ValueError("scores of valid frames must be finite")
    return scores, valid


# ------------------------------------------------------------------------------- many tracks


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


class TrackSmoother:
    """Online filtering of tracks that come and go (what `tarpose.inference.StreamingPredictor`
    runs with ``smooth=``).

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

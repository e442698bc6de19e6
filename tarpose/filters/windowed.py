"""Windowed filters: median, score-weighted mean and Savitzky-Golay over a centred or causal window
of frames, offline (`WindowFilter`) and online (`_OnlineWindow`, the same arithmetic on a buffer
of the last ``W`` frames). What each computes is in the `tarpose.filters` package docs."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import deque

import torch
from einops import rearrange
from torch import Tensor

from ._checks import checked_frame, integer
from .base import KeypointFilter, OnlineFilter, Output

__all__ = ["MAX_WINDOW", "MeanFilter", "MedianFilter", "SavgolFilter", "WindowFilter"]


#: the longest window a filter takes unless given ``max_window=``: a centred window of ``W`` frames
#: holds ``W // 2`` frames (and, in `tarpose predict`, their images) in memory
MAX_WINDOW = 101


class WindowFilter(KeypointFilter):
    """A filter over a window of ``window`` frames (centred, or causal: ``t - W + 1 .. t``), at
    most ``max_window`` frames (`MAX_WINDOW` by default; in a filter name: ``max_window=N``)."""

    def __init__(self, window: int = 5, causal: bool = False, *, max_window: int = MAX_WINDOW) -> None:
        window = integer("window", window)
        if window < 1:
            raise ValueError(f"{self.name}: window must be >= 1, got {window}")
        if window > integer("max_window", max_window):
            raise ValueError(
                f"{self.name}: window={window} is more than {max_window} frames (a centred window holds "
                f"window//2 frames and their images in memory); to allow it add max_window={window} "
                f"(e.g. '{self.name}:window={window},max_window={window}')"
            )
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
    """The per-coordinate median of each window (see `tarpose.filters`).

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
    """The score-weighted mean of each window (see `tarpose.filters`).

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
    """Savitzky-Golay: a least-squares polynomial through each window (see `tarpose.filters`).

    Args:
        window: frames in the window (odd unless causal).
        order: polynomial degree, ``0 <= order < window``.
        causal: fit frames ``t - W + 1 .. t`` and evaluate at ``t`` instead of the centred window.
    """

    name = "savgol"
    OPTIONS = {"window": int, "order": int, "causal": bool}

    def __init__(self, window: int = 7, order: int = 2, causal: bool = False, *, max_window: int = MAX_WINDOW) -> None:
        super().__init__(window, causal, max_window=max_window)
        order = integer("order", order)
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
        x, s, v = checked_frame(keypoints, scores, valid, self._shape)
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
        frames = integer("frames", frames)
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
        _, dtype, _ = self._shape  # type: ignore[misc]
        return target, out.reshape(*lead, *out.shape[1:]).to(dtype)

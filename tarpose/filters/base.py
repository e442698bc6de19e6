"""The two interfaces every filter implements: `KeypointFilter` (whole tracks) and `OnlineFilter`
(one frame at a time). Conventions (shapes, windows, invalid frames) are in the `tarpose.filters`
package docs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from einops import rearrange
from torch import Tensor

from ._checks import checked_tracks

__all__ = ["KeypointFilter", "OnlineFilter", "Output"]

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

    def label(self) -> str:
        """A short name for tables and pictures: ``"median 5"`` for a window alone, else the name and
        its options (``causal`` left out when false): ``"one_euro min_cutoff=1.0, beta=0.1"``."""
        options = {k: v for k, v in self.options().items() if not (k == "causal" and v is False)}
        if list(options) == ["window"]:
            return f"{self.name} {options['window']}"
        return self.name + (" " + ", ".join(f"{k}={_format(v)}" for k, v in options.items()) if options else "")

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
        x, s, v = checked_tracks(keypoints, scores, valid)
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


def _format(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)

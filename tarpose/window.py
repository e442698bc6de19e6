"""The frame window: which frames a temporal model sees around the frame it predicts.

One rule for the whole library (the wrapper, both datasets, the training engine, the streaming
predictor and the demo): a window of ``length`` frames whose *target* (the frame whose pose is
predicted) is either its centre, ``"centred"`` (frames ``t-T .. t+T``, ``length = 2T+1``, the
paper), or its last frame, ``"last"`` (frames ``t-length+1 .. t``: causal, no look-ahead). At a
video's edges the frame numbers are clamped into the video and the clamped copies marked invalid,
so the model can exclude them (``frame_valid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

Target = Literal["centred", "last"]
#: the targets a window can have
TARGETS: tuple[str, ...] = ("centred", "last")
#: the longest window (a sanity bound for configs read from files; the paper uses 5)
MAX_FRAMES = 1024


def normalize_target(target: str) -> Target:
    """``target`` checked.

    Args:
        target: ``"centred"`` or ``"last"``.

    Raises:
        ValueError: any other value.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be 'centred' or 'last', got {target!r}")
    return target  # type: ignore[return-value]


@dataclass(frozen=True)
class Window:
    """A window of ``length`` frames around a target frame.

    Args:
        length: number of frames T (odd for a centred window; 5 in the paper).
        target: ``"centred"`` (the middle frame, the paper) or ``"last"`` (causal streaming).

    Example:
        ```python
        Window(5).offsets             # (-2, -1, 0, 1, 2)
        Window(5).indices(0, 10)      # (tensor([0, 0, 0, 1, 2]), tensor([False, False, True, True, True]))
        Window(3, "last").lookahead   # 0
        ```
    """

    length: int = 5
    target: Target = "centred"

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", normalize_target(self.target))
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise ValueError(f"num_frames must be an integer >= 1, got {self.length!r:.80}")
        if self.length > MAX_FRAMES:
            raise ValueError(f"num_frames={self.length} is more than {MAX_FRAMES} frames")
        if self.target == "centred" and self.length % 2 == 0:
            raise ValueError(
                f"num_frames={self.length} is even: a centred window needs an odd length 2T+1 "
                "(or target='last')"
            )

    @classmethod
    def of(cls, length: int, target_index: int) -> Window:
        """The window of ``length`` frames whose target is frame ``target_index`` of it.

        Args:
            length: number of frames T.
            target_index: position of the target in the window (``T // 2`` or ``T - 1``).
        """
        if length % 2 == 1 and target_index == length // 2:
            return cls(length, "centred")  # (for one frame both: centred)
        if target_index == length - 1:
            return cls(length, "last")
        raise ValueError(
            f"a window's target is its centre ({length // 2}) or its last frame ({length - 1}); "
            f"got frame {target_index} of {length}"
        )

    @property
    def target_index(self) -> int:
        """Position of the target frame in the window: ``T // 2`` (centred) or ``T - 1`` (last)."""
        return self.length // 2 if self.target == "centred" else self.length - 1

    @property
    def lookahead(self) -> int:
        """Frames after the target: how long a stream waits before the target's window is complete."""
        return self.length - 1 - self.target_index

    @property
    def offsets(self) -> tuple[int, ...]:
        """Frame offsets from the target, ``(-T, ..., T)`` or ``(1-T, ..., 0)``."""
        return tuple(range(-self.target_index, self.lookahead + 1))

    def frames(self, t: int) -> range:
        """Frame numbers of the window whose target is frame ``t`` (not clamped)."""
        return range(t - self.target_index, t + self.lookahead + 1)

    def indices(self, t: int | Tensor, num_frames: int) -> tuple[Tensor, Tensor]:
        """Frame indices of the window of target ``t`` in a video of ``num_frames`` frames.

        Args:
            t: the target frame, an int or a tensor of them ``(...)``.
            num_frames: length of the video.

        Returns:
            indices ``(..., T)`` (int64) clamped to ``0 .. num_frames - 1``, and validity
            ``(..., T)`` bool: False where the window ran past the video.
        """
        index = torch.as_tensor(t, dtype=torch.int64)[..., None] + torch.tensor(self.offsets)  # (..., T)
        valid = (index >= 0) & (index < num_frames)
        return index.clamp(0, num_frames - 1), valid


def window_of(model: Any) -> Window:
    """The [Window][tarpose.window.Window] of a temporal model: its ``window`` attribute, or the window its
    ``num_frames`` and ``target_index`` describe (an ONNX model, a single-frame model).

    Args:
        model: a [TemporalWrapper][tarpose.TemporalWrapper] or anything with ``num_frames`` and
            ``target_index``.
    """
    window = getattr(model, "window", None)
    if isinstance(window, Window):
        return window
    return Window.of(int(model.num_frames), int(model.target_index))

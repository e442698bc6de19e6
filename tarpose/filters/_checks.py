"""Input checks shared by the filters: whole tracks, single frames, scores and validity."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def integer(name: str, value: Any) -> int:
    """``value`` as an int; ``ValueError`` naming ``name`` if it is not an integer (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def checked_tracks(keypoints: Tensor, scores: Tensor | None, valid: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor]:
    """Checked whole tracks ``(..., F, J, 2)``, scores ``(..., F, J)`` or None, validity ``(..., F, J)``."""
    if not isinstance(keypoints, Tensor):
        raise TypeError(f"keypoints must be a torch.Tensor (..., F, J, 2), got {type(keypoints).__name__}")
    if keypoints.ndim < 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (..., F, J, 2), got shape {tuple(keypoints.shape)}")
    if not keypoints.is_floating_point():
        raise ValueError(f"keypoints must be floating point, got {keypoints.dtype}")
    if keypoints.shape[-3] == 0:
        raise ValueError("keypoints have no frames (F = 0)")
    return keypoints, *_side(keypoints, scores, valid, "(..., F, J)")


def checked_frame(
    keypoints: Tensor, scores: Tensor | None, valid: Tensor | None, shape: tuple[torch.Size, torch.dtype, torch.device] | None
) -> tuple[Tensor, Tensor | None, Tensor]:
    """One checked frame ``(..., J, 2)`` of the same shape as the first (``shape``), in float64, with
    its scores ``(..., J)`` or None and validity ``(..., J)``."""
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

"""Feature maps to tokens and back, in the spatial layout or the reference code's layout.

``"spatial"`` (the default, and the meaning of the paper): token ``n`` is the C-vector at grid
position ``n = y * w + x``.

``"official"`` reproduces the reference implementation, whose released weights were trained on it:
the ``(C, h, w)`` memory of a frame is reinterpreted as ``(h*w, C)`` with a reshape instead of a
transpose, so each "token" is a run of C consecutive values of the channel-major map (a chunk of
one or two channels over many positions), and the ``(T, J)`` order of the heatmap mask is
reinterpreted as ``(J, T)``. It has no spatial meaning; it exists only to load those weights
faithfully. These are the only reshapes in tarpose that cross C and h*w, on purpose.
"""

from __future__ import annotations

from typing import Literal

from einops import rearrange
from torch import Tensor

TokenLayout = Literal["spatial", "official"]
TOKEN_LAYOUTS: tuple[str, ...] = ("spatial", "official")


def check_token_layout(layout: str) -> None:
    if layout not in TOKEN_LAYOUTS:
        raise ValueError(f"token_layout must be one of {TOKEN_LAYOUTS}, got {layout!r}")


def map_to_tokens(feature_map: Tensor, layout: TokenLayout = "spatial") -> Tensor:
    """``(..., C, h, w)`` -> ``(..., h*w, C)``."""
    if layout == "spatial":
        return rearrange(feature_map, "... c h w -> ... (h w) c")
    *lead, c, h, w = feature_map.shape
    return feature_map.contiguous().reshape(*lead, h * w, c)  # the reference's reinterpretation


def tokens_to_map(tokens: Tensor, height: int, width: int, layout: TokenLayout = "spatial") -> Tensor:
    """``(..., h*w, C)`` -> ``(..., C, h, w)``; the inverse of [map_to_tokens][tarpose.layers.tokens.map_to_tokens]."""
    if layout == "spatial":
        return rearrange(tokens, "... (h w) c -> ... c h w", h=height, w=width)
    *lead, _, c = tokens.shape
    return tokens.contiguous().reshape(*lead, c, height, width)


def mask_to_rows(mask: Tensor, layout: TokenLayout = "spatial") -> Tensor:
    """Per-frame joint masks ``(B, T, J, h, w)`` -> one attention row per joint ``(B, J, T*h*w)``.

    Column ``t*h*w + n`` of row ``j`` says whether joint ``j`` may attend token ``n`` of frame ``t``.
    """
    if layout == "spatial":
        return rearrange(mask, "b t j h w -> b j (t h w)")
    b, t, j, h, w = mask.shape
    return mask.contiguous().reshape(b, j, t * h * w)  # (T, J) reinterpreted as (J, T)

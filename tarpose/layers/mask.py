"""The heatmap mask of JTA: where may each joint query look in each frame."""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

#: Added to ``max - min`` in the min-max normalisation (as the reference code does), so that a
#: constant heatmap normalises to zeros instead of NaN.
NORMALISE_EPS = 1e-6


def heatmap_mask(
    heatmaps: Tensor, size: tuple[int, int], threshold: float = 0.2
) -> Tensor:
    """The paper's mask rule, computed without gradient.

    Each heatmap is min-max normalised over its own H x W, resized bilinearly
    (``align_corners=False``) to the token grid, and a joint may attend where the value is
    ``>= threshold``. A constant heatmap yields an empty mask for that frame.

    Args:
        heatmaps: initial heatmaps ``(B, T, J, H, W)``, any resolution.
        size: the token grid ``(h, w)``.
        threshold: the paper's phi (0.2 was best in its ablation).

    Returns:
        bool ``(B, T, J, h, w)``, True = may attend.
    """
    if heatmaps.ndim != 5:
        raise ValueError(
            f"heatmaps must be (B, T, J, H, W), got shape {tuple(heatmaps.shape)}"
        )
    b = heatmaps.shape[0]
    maps = rearrange(heatmaps.detach().float(), "b t j hh ww -> (b t) j hh ww")
    low = maps.amin(dim=(-2, -1), keepdim=True)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    normalised = (maps - low) / (high - low + NORMALISE_EPS)
    resized = F.interpolate(normalised, size=tuple(size), mode="bilinear", align_corners=False)
    return rearrange(resized >= threshold, "(b t) j h w -> b t j h w", b=b)

"""Fixed 2-D sine-cosine position codes for the tokens of a feature map."""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor


def sincos_position_2d(
    height: int, width: int, dim: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Sine-cosine codes of the grid positions ``n = y * w + x`` -> ``(h*w, C)``.

    Half of the channels encode ``y``, half ``x``; each half is ``sin`` and ``cos`` at
    ``C/4`` frequencies spaced geometrically from 1 to 1/10000 (the MAE/DETR recipe). Positions are
    token indices, so a code means the same place whatever the grid size. ``dim`` must be a
    multiple of 4.
    """
    if dim % 4:
        raise ValueError(f"sine-cosine position codes need dim divisible by 4, got {dim}")
    quarter = dim // 4
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(quarter, device=device, dtype=torch.float64) / quarter
    )  # (c/4,)
    ys = torch.arange(height, device=device, dtype=torch.float64)[:, None] * freq  # (h, c/4)
    xs = torch.arange(width, device=device, dtype=torch.float64)[:, None] * freq  # (w, c/4)
    y_code = torch.cat([ys.sin(), ys.cos()], dim=-1)  # (h, c/2)
    x_code = torch.cat([xs.sin(), xs.cos()], dim=-1)  # (w, c/2)
    grid = torch.cat(
        [
            y_code[:, None, :].expand(height, width, dim // 2),
            x_code[None, :, :].expand(height, width, dim // 2),
        ],
        dim=-1,
    )  # (h, w, c)
    return rearrange(grid, "h w c -> (h w) c").to(dtype)

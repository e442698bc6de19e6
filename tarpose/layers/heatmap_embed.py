"""The window's heatmaps as map tokens: sub-token evidence for the restoring step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._checks import expect_bool, expect_shape
from .linear import linear_module


class HeatmapEmbedding(nn.Module):
    """Embed the initial heatmaps of a window into the target frame's token grid.

    JTA summarises each joint as one token, which says *which* joint and roughly *where*, but a
    token of the feature map covers ``stride x stride`` heatmap pixels: the restored map must
    still place the peak inside it. This module hands that sub-token evidence to the restoring
    step directly. Per token it reads two stacks of ``J`` heatmap patches of ``stride x stride``
    pixels: the mean over the valid neighbouring frames (what the other frames say) and the target
    frame's own heatmaps (what the target says), and projects them to ``C`` channels with one
    linear layer, initialised to zero so that a wrapped model starts exactly at the base model.

    Any decoder works: heatmaps that are not ``stride`` times the token grid (a decoder that
    upsamples 2x or 8x, or to another size) are resampled to it first (bilinear, antialiased when
    shrinking); ViTPose's decoders upsample 4x, the default, and are read as they are.

    Args:
        num_joints: J.
        dim: channels C of the feature map.
        stride: heatmap pixels read per token side.
    """

    def __init__(self, num_joints: int, dim: int, stride: int = 4) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.num_joints = num_joints
        self.dim = dim
        self.stride = stride
        self.proj = nn.Linear(2 * num_joints * stride * stride, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(
        self,
        heatmaps: Tensor,
        target_index: int,
        frame_valid: Tensor | None = None,
        grid: tuple[int, int] | None = None,
    ) -> Tensor:
        """Embed a window's heatmaps.

        Args:
            heatmaps: the base model's heatmaps of every frame ``(B, T, J, Hh, Wh)``.
            target_index: the frame being restored.
            frame_valid: optional bool ``(B, T)``; invalid frames are left out of the neighbours'
                mean (a window with no valid neighbour contributes zeros there).
            grid: the token grid ``(h, w)`` of the feature map; default ``(Hh, Wh) / stride``
                (which must then divide).

        Returns:
            ``(B, C, h, w)``, to add to the target frame's restored map.
        """
        expect_shape("heatmaps", heatmaps, "(B, T, J, Hh, Wh)", (None, None, self.num_joints, None, None))
        b, t, _, hh, wh = heatmaps.shape
        s = self.stride
        if grid is None:
            if hh % s or wh % s:
                raise ValueError(
                    f"heatmaps of {hh}x{wh} pixels do not split into {s}x{s} patches (stride={s}): "
                    "pass grid=(h, w), the feature map's size"
                )
            grid = (hh // s, wh // s)
        size = (grid[0] * s, grid[1] * s)
        if (hh, wh) != size:  # another decoder's resolution: resample to `stride` pixels a token
            frames = rearrange(heatmaps, "b t j y x -> (b t) j y x")
            frames = F.interpolate(
                frames, size=size, mode="bilinear", align_corners=False,
                antialias=size[0] < hh or size[1] < wh,
            )
            heatmaps = rearrange(frames, "(b t) j y x -> b t j y x", b=b)  # (b, t, j, h s, w s)
            hh, wh = size
        weights = torch.ones(b, t, dtype=heatmaps.dtype, device=heatmaps.device)
        if frame_valid is not None:
            expect_shape("frame_valid", frame_valid, "(B, T)", (b, t))
            expect_bool("frame_valid", frame_valid)
            weights = frame_valid.to(heatmaps.dtype)
        index = torch.tensor([target_index], device=heatmaps.device)
        target = torch.zeros_like(weights).index_fill(1, index, 1.0)  # (b, t): one-hot
        weights = weights * (1 - target)  # (b, t): the neighbours
        count = weights.sum(1, keepdim=True).clamp_min(1.0)  # (b, 1)
        # the neighbours' mean and the target frame's own maps, both read in one product
        mix = torch.stack([weights / count, target], dim=1)  # (b, 2, t)
        frames = rearrange(heatmaps, "b t j y x -> b t (j y x)")
        evidence = rearrange(torch.bmm(mix, frames), "b k (j y x) -> b (k j) y x", j=self.num_joints, y=hh)
        patches = rearrange(evidence, "b k (h p1) (w p2) -> b h w (k p1 p2)", p1=s, p2=s)
        return rearrange(linear_module(self.proj, patches), "b h w c -> b c h w")

    def extra_repr(self) -> str:
        return f"num_joints={self.num_joints}, dim={self.dim}, stride={self.stride}"

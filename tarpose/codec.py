"""Heatmaps <-> keypoints: Gaussian targets, argmax + DARK sub-pixel decoding, flip test.

Coordinates follow [tarpose.geometry][tarpose.geometry]: continuous, heatmap pixel ``j`` centred at ``j + 0.5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from ._checks import expect_shape
from .geometry import apply_affine, invert_affine


def gaussian_targets(
    keypoints: Tensor,
    visible: Tensor,
    size: tuple[int, int],
    sigma: float = 2.0,
    unbiased: bool = True,
) -> tuple[Tensor, Tensor]:
    """Gaussian heatmap targets and per-joint weights.

    Args:
        keypoints: ``(N, K, 2)`` (x, y) in heatmap coordinates.
        visible: ``(N, K)`` bool or 0/1: labelled joints.
        size: heatmap ``(h, w)``.
        sigma: Gaussian standard deviation in heatmap pixels.
        unbiased: centre each Gaussian at the exact sub-pixel location (UDP-style). ``False``
            rounds the centre to the nearest pixel, as the classic HRNet/SimpleBaseline encoding.

    Returns:
        heatmaps ``(N, K, h, w)`` with peak 1, weights ``(N, K)`` (0 for unlabelled joints and for
        joints farther than 3 sigma outside the heatmap).
    """
    expect_shape("keypoints", keypoints, "(N, K, 2)", (None, None, 2))
    n, k, _ = keypoints.shape
    expect_shape("visible", visible, "(N, K)", (n, k))
    h, w = size
    centre = keypoints.to(torch.float32) - 0.5  # in pixel-index units
    if not unbiased:
        centre = torch.floor(centre + 0.5)
    ys = torch.arange(h, dtype=torch.float32, device=keypoints.device)
    xs = torch.arange(w, dtype=torch.float32, device=keypoints.device)
    gx = torch.exp(-((xs - centre[..., :1]) ** 2) / (2 * sigma**2))  # (n, k, w)
    gy = torch.exp(-((ys - centre[..., 1:]) ** 2) / (2 * sigma**2))  # (n, k, h)
    heatmaps = torch.einsum("nky,nkx->nkyx", gy, gx)  # (n, k, h, w)
    x, y = keypoints[..., 0], keypoints[..., 1]
    margin = 3 * sigma
    inside = (x > -margin) & (x < w + margin) & (y > -margin) & (y < h + margin)
    weights = (visible.to(torch.bool) & inside).to(torch.float32)
    return heatmaps * weights[..., None, None], weights


def _gaussian_blur(heatmaps: Tensor, kernel: int) -> Tensor:
    """Separable Gaussian blur with OpenCV's sigma for a ``kernel`` size, reflect borders."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-(taps**2) / (2 * sigma**2))
    g = g / g.sum()
    n, k, h, w = heatmaps.shape
    x = rearrange(heatmaps, "n k h w -> (n k) 1 h w")
    pad = kernel // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect" if min(h, w) > pad else "replicate")
    x = F.conv2d(x, g.view(1, 1, 1, kernel))
    x = F.conv2d(x, g.view(1, 1, kernel, 1))
    return rearrange(x, "(n k) 1 h w -> n k h w", n=n)


def decode_heatmaps(
    heatmaps: Tensor, refine: str = "dark", blur_kernel: int = 11
) -> tuple[Tensor, Tensor]:
    """Keypoints from heatmaps.

    Args:
        heatmaps: ``(N, K, h, w)``.
        refine: ``"dark"`` (Taylor expansion of the log of the blurred heatmap around the argmax,
            Zhang et al. CVPR 2020) or ``"none"`` (the argmax pixel's centre).
        blur_kernel: DARK's Gaussian blur size (odd).

    Returns:
        coordinates ``(N, K, 2)`` (x, y) in heatmap coordinates, scores ``(N, K)`` (the maxima).
    """
    expect_shape("heatmaps", heatmaps, "(N, K, h, w)", (None, None, None, None))
    if refine not in ("dark", "none"):
        raise ValueError(f"refine must be 'dark' or 'none', got {refine!r}")
    hm = heatmaps.detach().float()
    n, k, h, w = hm.shape
    scores, index = rearrange(hm, "n k h w -> n k (h w)").max(dim=-1)
    px, py = index % w, torch.div(index, w, rounding_mode="floor")
    coords = torch.stack([px, py], dim=-1).float() + 0.5
    if refine == "none" or h < 3 or w < 3:
        return coords, scores

    blurred = _gaussian_blur(hm, blur_kernel)
    peak = rearrange(blurred, "n k h w -> n k (h w)").amax(-1).clamp_min(1e-10)
    blurred = blurred * (scores.clamp_min(0) / peak)[..., None, None]  # keep the original maxima
    logs = torch.log(blurred.clamp_min(1e-10))
    logs = F.pad(logs, (1, 1, 1, 1), mode="replicate")  # (n, k, h+2, w+2)
    flat = rearrange(logs, "n k h w -> n k (h w)")

    def at(dx: int, dy: int) -> Tensor:
        return flat.gather(-1, ((py + 1 + dy) * (w + 2) + (px + 1 + dx))[..., None])[..., 0]

    c = at(0, 0)
    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = at(1, 0) - 2 * c + at(-1, 0)
    dyy = at(0, 1) - 2 * c + at(0, -1)
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy**2
    interior = (px > 0) & (px < w - 1) & (py > 0) & (py < h - 1)
    ok = interior & (det.abs() > 1e-12) & (dxx < 0) & (dyy < 0)
    safe_det = torch.where(ok, det, torch.ones_like(det))
    off_x = -(dyy * dx - dxy * dy) / safe_det  # -H^{-1} g
    off_y = -(dxx * dy - dxy * dx) / safe_det
    offset = torch.stack([off_x, off_y], dim=-1).clamp(-1.0, 1.0) * ok[..., None]
    return coords + offset, scores


def flip_heatmaps(heatmaps: Tensor, flip_perm: Sequence[int]) -> Tensor:
    """Heatmaps of a horizontally flipped crop -> heatmaps of the original crop ``(N, K, h, w)``.

    With the continuous convention the flip is an exact index reversal, no shift needed.
    """
    return heatmaps.flip(-1)[:, list(flip_perm)]


def heatmap_to_image(
    coords: Tensor, matrices: Tensor, input_size: tuple[int, int], heatmap_size: tuple[int, int]
) -> Tensor:
    """Heatmap coordinates ``(N, K, 2)`` -> image coordinates, through the crops' image -> crop
    affine maps ``(N, 2, 3)`` ([tarpose.geometry.crop_matrices][tarpose.geometry.crop_matrices])."""
    stride = torch.tensor(
        [input_size[1] / heatmap_size[1], input_size[0] / heatmap_size[0]], dtype=torch.float64
    )
    crop = coords.to(torch.float64) * stride
    return apply_affine(crop, invert_affine(matrices.to(torch.float64)))

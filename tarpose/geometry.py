"""Top-down geometry: person boxes -> affine crops, and points between image and crop.

Convention (used everywhere in tarpose): coordinates are continuous, pixel ``i`` covers
``[i, i + 1)`` and its centre is ``i + 0.5`` (the ``align_corners=False`` convention). A crop of
``(H, W)`` pixels covers its box region exactly, and a heatmap of ``(H/s, W/s)`` covers the same
region, so ``heatmap coordinate = crop coordinate / s`` with no half-pixel bias.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

#: ImageNet normalisation used by ViTPose (RGB, 0..1 scale)
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def box_to_center_scale(
    boxes: Tensor, aspect_ratio: float, padding: float = 1.25
) -> tuple[Tensor, Tensor]:
    """Boxes ``(N, 4)`` as ``x, y, w, h`` -> centres ``(N, 2)`` and region sizes ``(N, 2)`` (w, h).

    The shorter side is enlarged so that ``w / h == aspect_ratio`` (the model's input W/H: no
    stretching), then both sides are multiplied by ``padding``.
    """
    boxes = torch.as_tensor(boxes, dtype=torch.float64)
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be (N, 4) as x, y, w, h; got shape {tuple(boxes.shape)}")
    x, y, w, h = boxes.unbind(-1)
    center = torch.stack([x + w / 2, y + h / 2], dim=-1)
    w = torch.maximum(w, h * aspect_ratio)
    h = w / aspect_ratio
    return center, torch.stack([w, h], dim=-1) * padding


def crop_matrices(
    center: Tensor, scale: Tensor, output_size: tuple[int, int], rotation: Tensor | float = 0.0
) -> Tensor:
    """Affine maps image -> crop, ``(N, 2, 3)``.

    Args:
        center: ``(N, 2)`` region centres (x, y) in image coordinates.
        scale: ``(N, 2)`` region sizes (w, h) in image pixels.
        output_size: crop ``(H, W)``.
        rotation: degrees (scalar or ``(N,)``): the crop shows the image content turned
            counter-clockwise (as seen on screen) by this angle about the region centre.
    """
    center = torch.as_tensor(center, dtype=torch.float64)
    scale = torch.as_tensor(scale, dtype=torch.float64)
    n = center.shape[0]
    out_h, out_w = output_size
    theta = torch.as_tensor(rotation, dtype=center.dtype).expand(n) * (math.pi / 180)
    sx, sy = out_w / scale[:, 0], out_h / scale[:, 1]
    cos, sin = torch.cos(theta), torch.sin(theta)
    # crop = S R (p - c) + o, with R rotating by theta (image y axis points down)
    a = torch.stack([sx * cos, sx * sin, sy * -sin, sy * cos], dim=-1).view(n, 2, 2)
    offset = torch.tensor([out_w / 2, out_h / 2], dtype=center.dtype) - torch.einsum("nij,nj->ni", a, center)
    return torch.cat([a, offset[..., None]], dim=-1)


def invert_affine(matrices: Tensor) -> Tensor:
    """Inverse of ``(N, 2, 3)`` affine maps."""
    a, t = matrices[..., :2], matrices[..., 2:]
    a_inv = torch.linalg.inv(a)
    return torch.cat([a_inv, -a_inv @ t], dim=-1)


def apply_affine(points: Tensor, matrices: Tensor) -> Tensor:
    """Points ``(N, K, 2)`` through per-row affine maps ``(N, 2, 3)`` -> ``(N, K, 2)``."""
    return torch.einsum("nij,nkj->nki", matrices[..., :2], points) + rearrange(matrices[..., 2], "n i -> n 1 i")


def warp_crops(images: Tensor, matrices: Tensor, output_size: tuple[int, int]) -> Tensor:
    """Crop with affine maps, bilinear, zeros outside the image.

    Args:
        images: ``(N, C, H, W)`` float, one image per crop (expand a frame for several crops:
            ``images = frame.expand(N, -1, -1, -1)`` costs no copy).
        matrices: ``(N, 2, 3)`` image -> crop maps ([crop_matrices][tarpose.geometry.crop_matrices]).
        output_size: ``(h, w)``.

    Returns:
        ``(N, C, h, w)``.
    """
    n, _, img_h, img_w = images.shape
    out_h, out_w = output_size
    inverse = invert_affine(matrices.to(torch.float64))  # crop -> image
    ys = torch.arange(out_h, dtype=torch.float64, device=inverse.device) + 0.5
    xs = torch.arange(out_w, dtype=torch.float64, device=inverse.device) + 0.5
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (h, w, 2) pixel centres
    points = apply_affine(repeat(grid, "h w i -> n (h w) i", n=n), inverse)  # image coords
    norm = torch.tensor([2 / img_w, 2 / img_h], dtype=torch.float64, device=inverse.device)
    grid = rearrange(points * norm - 1, "n (h w) i -> n h w i", h=out_h)
    return F.grid_sample(
        images, grid.to(device=images.device, dtype=images.dtype), mode="bilinear",
        padding_mode="zeros", align_corners=False,
    )


def normalize_images(images: Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> Tensor:
    """uint8 or 0..1 float RGB ``(..., 3, H, W)`` -> normalised float."""
    if images.dtype == torch.uint8:
        images = images.float() / 255
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(3, 1, 1)
    return (images - mean_t) / std_t


def flip_points(points: Tensor, width: float, flip_perm: list[int] | None = None) -> Tensor:
    """Mirror ``(..., K, 2)`` points in a ``width``-wide frame (``x -> width - x``) and swap the
    left/right joints when ``flip_perm`` is given."""
    flipped = torch.stack([width - points[..., 0], points[..., 1]], dim=-1)
    return flipped if flip_perm is None else flipped[..., flip_perm, :]

"""Top-down geometry: person boxes -> affine crops, and points between image, crop and heatmap.

**Pixel convention** (every public boundary of tarpose: boxes, keypoints, affine matrices, crop
and heatmap coordinates): pixel *indices*, as in COCO, PoseTrack, Hugging Face transformers,
mmpose and OpenCV. The centre of the pixel in column ``i`` and row ``j`` is the point
``(i, j)``; the pixel covers ``[i - 0.5, i + 0.5) x [j - 0.5, j + 0.5)``. A box ``x, y, w, h``
has its centre at ``(x + w / 2, y + h / 2)``, exactly as transformers' ``box_to_center_and_scale``
and mmpose's ``bbox_xywh2cs`` compute it, so boxes from a COCO detection file or a transformers
detector give the crops transformers gives. (The continuous convention, where pixel ``i`` covers
``[i, i + 1)``, is this one plus 0.5.)

**Geometry**: how an ``n``-pixel grid (a crop side, or a heatmap side) is laid over a region of
extent ``S`` centred at ``c``. A point ``x`` lands at grid index ``span / S * (x - c) + origin``:

| geometry | span | origin | grid pixels over the region | used by |
|---|---|---|---|---|
| ``"udp"`` | ``n - 1`` | ``(n - 1) / 2`` | first and last pixel centres on the region's edges | ViTPose, ViTPose+, easy_ViTPose, mmpose ``UDPHeatmap``, transformers |
| ``"biased"`` | ``n`` | ``(n - 1) / 2`` | pixel centres at the centres of ``n`` equal cells | tarpose's own models up to 0.1 (the bundled demo models) |
| ``"hrnet"`` | ``n`` | ``n / 2`` | pixel 0 centred on the region's left edge, spacing ``S / n`` | HRNet's ``get_affine_transform``: the official TAR-ViTPose code |

The same rule places the crop in the image and the heatmap over the same region, so it fixes the
crop -> heatmap map a network learns in training: ``"udp"`` ``u = q (w - 1) / (W - 1)``,
``"biased"`` ``u = (q + 1/2) w / W - 1/2``, ``"hrnet"`` ``u = q w / W`` (crop ``W`` and heatmap
``w`` pixels wide). The three differ, so a checkpoint must run in the geometry it was trained in:
a UDP network read in the biased geometry reports every keypoint stretched about its box centre
by ``W (w - 1) / ((W - 1) w)`` (0.984 for ``x`` at 256x192), and an HRNet-style one read in
the biased geometry is shifted by 3/8 of a heatmap pixel.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

#: ImageNet normalisation used by ViTPose (RGB, 0..1 scale)
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

Geometry = Literal["udp", "biased", "hrnet"]
#: the geometries tarpose knows (see the module docs)
GEOMETRIES: tuple[str, ...] = ("udp", "biased", "hrnet")


def check_geometry(geometry: str) -> str:
    """``geometry`` if it is one of `GEOMETRIES`; a ``ValueError`` naming them otherwise."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
    return geometry


def grid_layout(geometry: str, n: int) -> tuple[float, float]:
    """``(span, origin)`` of an ``n``-pixel grid over a region: a point ``x`` of a region of
    extent ``S`` centred at ``c`` lands at index ``span / S * (x - c) + origin``."""
    check_geometry(geometry)
    if geometry == "udp":
        if n < 2:
            raise ValueError(f"the udp geometry needs grids of at least 2 pixels, got {n}")
        return n - 1.0, (n - 1) / 2
    if geometry == "biased":
        return float(n), (n - 1) / 2
    return float(n), n / 2


def box_to_center_scale(
    boxes: Tensor, aspect_ratio: float, padding: float = 1.25
) -> tuple[Tensor, Tensor]:
    """Boxes ``(N, 4)`` as ``x, y, w, h`` -> centres ``(N, 2)`` and region sizes ``(N, 2)`` (w, h).

    The centre is ``(x + w / 2, y + h / 2)``. The shorter side is enlarged so that
    ``w / h == aspect_ratio`` (the model's input W/H: no stretching), then both sides are
    multiplied by ``padding``.
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
    center: Tensor,
    scale: Tensor,
    output_size: tuple[int, int],
    rotation: Tensor | float = 0.0,
    geometry: str = "udp",
) -> Tensor:
    """Affine maps image -> crop, ``(N, 2, 3)`` float64, in pixel-index coordinates.

    Args:
        center: ``(N, 2)`` region centres (x, y) in image coordinates.
        scale: ``(N, 2)`` region sizes (w, h) in image pixels.
        output_size: crop ``(H, W)`` (or a heatmap's size: the map onto a heatmap of the same
            region).
        rotation: degrees (scalar or ``(N,)``): the crop shows the image content turned
            counter-clockwise (as seen on screen) by this angle about the region centre.
        geometry: how the grid covers the region (`GEOMETRIES`, see the module docs).
    """
    center = torch.as_tensor(center, dtype=torch.float64)
    scale = torch.as_tensor(scale, dtype=torch.float64)
    n = center.shape[0]
    out_h, out_w = output_size
    span_x, origin_x = grid_layout(geometry, out_w)
    span_y, origin_y = grid_layout(geometry, out_h)
    theta = torch.as_tensor(rotation, dtype=center.dtype).expand(n) * (math.pi / 180)
    sx, sy = span_x / scale[:, 0], span_y / scale[:, 1]
    cos, sin = torch.cos(theta), torch.sin(theta)
    # crop = S R (p - c) + o, with R rotating by theta (image y axis points down)
    a = torch.stack([sx * cos, sx * sin, sy * -sin, sy * cos], dim=-1)
    a = rearrange(a, "n (i j) -> n i j", i=2)  # (n, 2, 2)
    origin = torch.tensor([origin_x, origin_y], dtype=center.dtype)
    offset = origin - torch.einsum("nij,nj->ni", a, center)
    return torch.cat([a, offset[..., None]], dim=-1)


def heatmap_matrix(
    input_size: tuple[int, int], heatmap_size: tuple[int, int], geometry: str = "udp"
) -> Tensor:
    """The crop -> heatmap affine map ``(2, 3)`` float64 of a geometry: both grids laid over the
    same region (``"udp"``: ``u = q (w - 1) / (W - 1)``; ``"biased"``:
    ``u = (q + 1/2) w / W - 1/2``; ``"hrnet"``: ``u = q w / W``).

    Args:
        input_size: crop ``(H, W)``.
        heatmap_size: heatmap ``(h, w)``.
        geometry: one of `GEOMETRIES`.
    """
    rows = []
    for axis in (1, 0):  # x, then y
        span_c, origin_c = grid_layout(geometry, int(input_size[axis]))
        span_h, origin_h = grid_layout(geometry, int(heatmap_size[axis]))
        k = span_h / span_c
        rows.append((k, origin_h - k * origin_c))
    (kx, bx), (ky, by) = rows
    return torch.tensor([[kx, 0.0, bx], [0.0, ky, by]], dtype=torch.float64)


def compose_affine(outer: Tensor, inner: Tensor) -> Tensor:
    """``outer ∘ inner`` of ``(..., 2, 3)`` affine maps (``inner`` applied first)."""
    a = outer[..., :2] @ inner[..., :2]
    t = outer[..., :2] @ inner[..., 2:] + outer[..., 2:]
    return torch.cat([a, t], dim=-1)


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

    Crop pixel ``(i, j)`` takes the image's bilinear value at ``matrices^-1 (i, j)`` (pixel-index
    coordinates on both sides, as OpenCV's ``warpAffine`` and SciPy's ``affine_transform``).

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
    ys = torch.arange(out_h, dtype=torch.float64, device=inverse.device)
    xs = torch.arange(out_w, dtype=torch.float64, device=inverse.device)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (h, w, 2) pixel indices
    points = apply_affine(repeat(grid, "h w i -> n (h w) i", n=n), inverse)  # image pixel indices
    size = torch.tensor([img_w, img_h], dtype=torch.float64, device=inverse.device)
    normalised = (2 * points + 1) / size - 1  # pixel index -> [-1, 1], align_corners=False
    grid = rearrange(normalised, "n (h w) i -> n h w i", h=out_h)
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
    """Mirror ``(..., K, 2)`` points in an image ``width`` pixels wide (``x -> width - 1 - x``:
    pixel ``i`` swaps with pixel ``width - 1 - i``, as reversing the columns does) and swap the
    left/right joints when ``flip_perm`` is given."""
    flipped = torch.stack([width - 1 - points[..., 0], points[..., 1]], dim=-1)
    return flipped if flip_perm is None else flipped[..., flip_perm, :]

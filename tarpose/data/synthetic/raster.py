"""Vectorised 2D rasterisation: capsules and boxes with anti-aliased edges, procedural textures,
and back-to-front compositing. Everything is evaluated at pixel centres, pixel ``i`` covering
``[i, i + 1)`` (the renderer's own coordinates: [tarpose.geometry][tarpose.geometry]'s pixel indices plus 0.5),
for all frames and primitives at once.

A primitive is a segment ``a -> b`` with a half-width ``r``: a *capsule* (every point within ``r``
of the segment: limbs, heads as ``a == b``) or a *box* (the rectangle around the segment with flat
ends: occluders, background shapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

CAPSULE, BOX = 0, 1


@dataclass
class Primitives:
    """``P`` primitives in each of ``F`` frames (pixel units).

    ``a``, ``b``: ``(F, P, 2)`` segment ends; ``radius``: ``(F, P)`` half-widths; ``kind``: ``(P,)``
    ``CAPSULE`` / ``BOX``; ``depth``: ``(F, P)`` (larger = nearer the camera).
    """

    a: Tensor
    b: Tensor
    radius: Tensor
    kind: Tensor
    depth: Tensor

    @staticmethod
    def cat(parts: list[Primitives]) -> Primitives:
        return Primitives(*(torch.cat([getattr(p, k) for p in parts], dim=-1 if k == "kind" else 1)
                            for k in ("a", "b", "radius", "kind", "depth")))


@dataclass
class Paint:
    """How each of ``P`` primitives is coloured: ``color``, ``color2``: ``(P, 3)`` in 0..1;
    ``wave``: ``(P, 2, 2)`` spatial frequencies (cycles per pixel) of the two factors of the
    pattern along (u, v); ``mix``: ``(P,)`` pattern strength (0 = plain ``color``); ``shade``:
    ``(P,)`` darkening towards the edges (a cylinder look)."""

    color: Tensor
    color2: Tensor
    wave: Tensor
    mix: Tensor
    shade: Tensor

    @staticmethod
    def cat(paints: list[Paint]) -> Paint:
        return Paint(*(torch.cat([getattr(p, k) for p in paints], 0)
                       for k in ("color", "color2", "wave", "mix", "shade")))


def pixel_centres(size: tuple[int, int]) -> Tensor:
    """``(H*W, 2)`` (x, y) pixel centres, row-major."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)


def local_coords(points: Tensor, prims: Primitives) -> tuple[Tensor, Tensor, Tensor]:
    """Coordinates of ``points`` ``(F or 1, N, 2)`` in each primitive's frame.

    Returns ``u`` ``(F, N, P)`` (distance along ``a -> b`` from ``a``), ``v`` ``(F, N, P)``
    (signed distance across) and the segment lengths ``(F, 1, P)``.
    """
    d = prims.b - prims.a  # (f, p, 2)
    length = d.norm(dim=-1)
    e = torch.where(length[..., None] > 1e-9, d / length[..., None].clamp_min(1e-9),
                    torch.tensor([1.0, 0.0], dtype=d.dtype))
    rel_x = points[..., 0:1] - prims.a[:, None, :, 0]  # (f, n, p)
    rel_y = points[..., 1:2] - prims.a[:, None, :, 1]
    ex, ey = e[:, None, :, 0], e[:, None, :, 1]
    return rel_x * ex + rel_y * ey, rel_y * ex - rel_x * ey, length[:, None]


def coverage(points: Tensor, prims: Primitives) -> tuple[Tensor, Tensor, Tensor]:
    """Anti-aliased coverage ``(F, N, P)`` in 0..1 of ``points`` ``(F or 1, N, 2)`` (a pixel
    centre exactly on the edge is half covered), with the local coordinates ``u``, ``v``."""
    u, v, length = local_coords(points, prims)
    kind = prims.kind if prims.kind.ndim == 1 else prims.kind[:, None]
    return _shape(u, v, length, prims.radius[:, None], kind == BOX), u, v


def _shape(u: Tensor, v: Tensor, length: Tensor, radius: Tensor, is_box: Tensor) -> Tensor:
    """Anti-aliased coverage from local coordinates (all broadcastable)."""
    along = u - torch.minimum(u.clamp_min(0), length)  # 0 inside the segment's span
    capsule = torch.sqrt(along**2 + v**2) - radius
    box = torch.maximum(along.abs(), v.abs() - radius)
    return (0.5 - torch.where(is_box, box, capsule)).clamp(0, 1)


def paint(u: Tensor, v: Tensor, radius: Tensor, index: Tensor, style: Paint) -> Tensor:
    """Colours ``(E, 3)`` of primitives ``index`` ``(E,)`` (rows of ``style``) at points with
    local coordinates ``u``, ``v`` and half-widths ``radius`` (all ``(E,)``)."""
    w = style.wave[index]  # (e, 2, 2)
    f1 = torch.sin(2 * math.pi * (u * w[:, 0, 0] + v * w[:, 0, 1]))
    f2 = torch.cos(2 * math.pi * (u * w[:, 1, 0] + v * w[:, 1, 1]))
    pattern = (0.5 + 0.5 * torch.tanh(3 * f1 * f2)) * style.mix[index]  # soft stripes / checks
    rel = (v / radius.clamp_min(1e-6)).clamp(-1, 1)
    light = 1 - style.shade[index] * rel**2  # darker towards the edges: a cylinder look
    color = torch.lerp(style.color[index], style.color2[index], pattern[:, None])
    return color * light[:, None]


def rasterize(
    prims: Primitives, style: Paint, size: tuple[int, int], texture_scale: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Paint primitives back to front (ascending ``depth``, the 'over' operator) onto a
    transparent ``(H, W)`` canvas per frame.

    Sparse: each primitive is evaluated only over the pixels of its bounding box, and the
    fragments of a pixel are composited by a segmented product over its depth-sorted fragments.

    Args:
        prims: ``(F, P)`` primitives in canvas pixels.
        style: their paint (``P`` rows; texture frequencies per unscaled pixel).
        size: canvas ``(H, W)``.
        texture_scale: ``(F,)`` canvas pixels per texture pixel (a zoomed view shows the same
            textures larger).

    Returns premultiplied colours ``(F, 3, H*W)`` and opacity ``(F, H*W)``.
    """
    h, w = size
    f, p = prims.radius.shape
    r = prims.radius
    lo = (torch.minimum(prims.a, prims.b) - r[..., None] - 1).floor()
    hi = (torch.maximum(prims.a, prims.b) + r[..., None] + 1).ceil()
    lo = torch.stack([lo[..., 0].clamp(0, w), lo[..., 1].clamp(0, h)], -1).long()
    hi = torch.stack([hi[..., 0].clamp(0, w), hi[..., 1].clamp(0, h)], -1).long()
    span = (hi - lo).clamp_min(0) * (r > -0.5)[..., None]  # unused primitives have radius < 0
    counts = (span[..., 0] * span[..., 1]).flatten()  # (f*p,)
    q = torch.repeat_interleave(torch.arange(f * p), counts)  # fragment -> primitive (flat)
    local = torch.arange(len(q)) - (torch.cumsum(counts, 0) - counts)[q]
    width = span[..., 0].flatten()[q]
    px = lo[..., 0].flatten()[q] + local % width.clamp_min(1)
    py = lo[..., 1].flatten()[q] + local // width.clamp_min(1)
    # local coordinates of each fragment's pixel centre in its primitive
    a, b = prims.a.reshape(-1, 2)[q], prims.b.reshape(-1, 2)[q]
    d = b - a
    length = d.norm(dim=-1)
    e = torch.where(length[:, None] > 1e-9, d / length[:, None].clamp_min(1e-9), torch.tensor([1.0, 0.0], dtype=d.dtype))
    rx, ry = px + 0.5 - a[:, 0], py + 0.5 - a[:, 1]
    u, v = rx * e[:, 0] + ry * e[:, 1], ry * e[:, 0] - rx * e[:, 1]
    radius = r.flatten()[q]
    kind = prims.kind.expand(f, p).flatten()[q]
    alpha = _shape(u, v, length, radius, kind == BOX)
    hit = alpha > 0
    q, px, py, u, v, radius, alpha = q[hit], px[hit], py[hit], u[hit], v[hit], radius[hit], alpha[hit]
    pixel = (q // p) * (h * w) + py * w + px  # flat (frame, y, x)
    # sort fragments by pixel, nearest first within a pixel
    order = prims.depth.flatten()[q].argsort(descending=True, stable=True)
    order = order[pixel[order].argsort(stable=True)]
    pixel, alpha, q, u, v, radius = pixel[order], alpha[order], q[order], u[order], v[order], radius[order]
    # transmittance in front of each fragment: exclusive product of (1 - alpha) within its pixel
    log_keep = torch.log1p(-alpha.double().clamp(max=1 - 1e-7))
    total = torch.cumsum(log_keep, 0) - log_keep  # exclusive, across all pixels
    first = torch.ones_like(pixel, dtype=torch.bool)
    first[1:] = pixel[1:] != pixel[:-1]
    group_start = torch.cummax(torch.where(first, torch.arange(len(pixel)), 0), 0).values
    weight = alpha * torch.exp(total - total[group_start]).to(alpha.dtype)
    scale = 1.0 if texture_scale is None else texture_scale.to(u.dtype)[q // p]
    colors = paint(u / scale, v / scale, radius / scale, q % p, style) * weight[:, None]
    out = torch.zeros(f * h * w, 3, dtype=colors.dtype).index_add_(0, pixel, colors)
    opacity = torch.zeros(f * h * w, dtype=colors.dtype).index_add_(0, pixel, weight)
    return out.view(f, h * w, 3).transpose(1, 2), opacity.view(f, h * w)

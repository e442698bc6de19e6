"""Heatmaps <-> keypoints: Gaussian targets, argmax + DARK sub-pixel decoding, flip test, and the
heatmap <-> image maps of each geometry.

Coordinates follow [tarpose.geometry][tarpose.geometry]: pixel indices (heatmap pixel ``j`` is centred at
``j``). Targets and decoding do not depend on the geometry; where a heatmap sits in its crop
([heatmap_matrix][tarpose.geometry.heatmap_matrix]) and how the flip test lines up do.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from ._checks import expect_shape
from .geometry import apply_affine, check_geometry, compose_affine, heatmap_matrix, invert_affine


def gaussian_targets(
    keypoints: Tensor,
    visible: Tensor,
    size: tuple[int, int],
    sigma: float = 2.0,
    unbiased: bool = True,
) -> tuple[Tensor, Tensor]:
    """Gaussian heatmap targets and per-joint weights.

    Args:
        keypoints: ``(N, K, 2)`` (x, y) in heatmap coordinates (pixel indices).
        visible: ``(N, K)`` bool or 0/1: labelled joints.
        size: heatmap ``(h, w)``.
        sigma: Gaussian standard deviation in heatmap pixels.
        unbiased: centre each Gaussian at the exact sub-pixel location (as UDP and DARK do).
            ``False`` rounds the centre to the nearest pixel, as the classic HRNet/SimpleBaseline
            encoding (and the official TAR-ViTPose code) does.

    Returns:
        heatmaps ``(N, K, h, w)`` with peak 1 at the centre, weights ``(N, K)`` (0 for
        unlabelled joints and for joints more than 3 sigma outside the heatmap).
    """
    expect_shape("keypoints", keypoints, "(N, K, 2)", (None, None, 2))
    n, k, _ = keypoints.shape
    expect_shape("visible", visible, "(N, K)", (n, k))
    h, w = size
    centre = keypoints.to(torch.float32)
    if not unbiased:
        centre = torch.floor(centre + 0.5)
    ys = torch.arange(h, dtype=torch.float32, device=keypoints.device)
    xs = torch.arange(w, dtype=torch.float32, device=keypoints.device)
    gx = torch.exp(-((xs - centre[..., :1]) ** 2) / (2 * sigma**2))  # (n, k, w)
    gy = torch.exp(-((ys - centre[..., 1:]) ** 2) / (2 * sigma**2))  # (n, k, h)
    heatmaps = torch.einsum("nky,nkx->nkyx", gy, gx)  # (n, k, h, w)
    x, y = keypoints[..., 0], keypoints[..., 1]
    margin = 3 * sigma + 0.5  # the map covers [-0.5, w - 0.5)
    inside = (x > -margin) & (x < w - 1 + margin) & (y > -margin) & (y < h - 1 + margin)
    weights = (visible.to(torch.bool) & inside).to(torch.float32)
    return heatmaps * weights[..., None, None], weights


def _gaussian_blur(heatmaps: Tensor, kernel: int) -> Tensor:
    """Separable Gaussian blur with OpenCV's sigma for a ``kernel`` size, reflect borders (only
    values that never reach the border are used: see [decode_heatmaps][tarpose.codec.decode_heatmaps])."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-(taps**2) / (2 * sigma**2))
    g = g / g.sum()
    n, _, h, w = heatmaps.shape
    x = rearrange(heatmaps, "n k h w -> (n k) 1 h w")
    pad = kernel // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect" if min(h, w) > pad else "replicate")
    x = F.conv2d(x, g.view(1, 1, 1, kernel))
    x = F.conv2d(x, g.view(1, 1, kernel, 1))
    return rearrange(x, "(n k) 1 h w -> n k h w", n=n)


def _newton_step(
    gx: Tensor, gy: Tensor, gxx: Tensor, gyy: Tensor, gxy: Tensor, limit: float
) -> tuple[Tensor, Tensor]:
    """``-H^-1 g`` of a quadratic log-heatmap, ``(N, K, 2)``, and whether it is a maximum
    ``(N, K)`` (negative definite Hessian); the step is clamped to ``[-limit, limit]``."""
    det = gxx * gyy - gxy**2
    ok = (det > 1e-12) & (gxx < 0) & (gyy < 0)
    safe = torch.where(ok, det, torch.ones_like(det))
    step = torch.stack([-(gyy * gx - gxy * gy) / safe, -(gxx * gy - gxy * gx) / safe], dim=-1)
    return step.clamp(-limit, limit) * ok[..., None], ok


def _dark_interior(hm: Tensor, scores: Tensor, px: Tensor, py: Tensor, blur_kernel: int) -> Tensor:
    """DARK (Zhang et al., CVPR 2020): Taylor step of the log of the blurred heatmap at the
    argmax, ``(N, K, 2)``. Exact only where the blur never read past the border."""
    w = hm.shape[-1]
    blurred = _gaussian_blur(hm, blur_kernel)
    peak = rearrange(blurred, "n k h w -> n k (h w)").amax(-1).clamp_min(1e-10)
    blurred = blurred * (scores.clamp_min(0) / peak)[..., None, None]  # keep the original maxima
    logs = F.pad(torch.log(blurred.clamp_min(1e-10)), (1, 1, 1, 1), mode="replicate")  # (n, k, h+2, w+2)
    flat = rearrange(logs, "n k h w -> n k (h w)")

    def at(dx: int, dy: int) -> Tensor:
        return flat.gather(-1, ((py + 1 + dy) * (w + 2) + (px + 1 + dx))[..., None])[..., 0]

    c = at(0, 0)
    step, _ = _newton_step(
        0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1)),
        at(1, 0) - 2 * c + at(-1, 0), at(0, 1) - 2 * c + at(0, -1),
        0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)), limit=1.0,
    )
    return step


def _gaussian_fit(hm: Tensor, px: Tensor, py: Tensor, radius: int) -> Tensor:
    """Offset of the vertex of a quadratic fitted to the log heatmap, ``(N, K, 2)``: weighted
    least squares (weights: the squared heatmap, Guo's Gaussian fit) over the
    ``(2 radius + 1)^2`` window around the argmax, clipped to the map. Exact for a Gaussian
    wherever it lies, the border included."""
    n, k, h, w = hm.shape
    side = torch.arange(-radius, radius + 1, device=hm.device)
    dx = rearrange(side, "x -> 1 1 1 x").expand(n, k, len(side), len(side)).to(torch.float64)
    dy = rearrange(side, "y -> 1 1 y 1").expand(n, k, len(side), len(side)).to(torch.float64)
    gx = px[..., None, None] + dx.long()  # (n, k, y, x) pixel columns of the window
    gy = py[..., None, None] + dy.long()
    inside = (gx >= 0) & (gx < w) & (gy >= 0) & (gy < h)
    index = gy.clamp(0, h - 1) * w + gx.clamp(0, w - 1)
    flat = rearrange(hm, "n k h w -> n k (h w)").double()
    values = flat.gather(-1, rearrange(index, "n k y x -> n k (y x)"))
    values = rearrange(values, "n k (y x) -> n k y x", y=len(side)).clamp_min(1e-6)
    weight = values**2 * inside  # (n, k, y, x)
    basis = torch.stack([torch.ones_like(dx), dx, dy, dx * dx, dx * dy, dy * dy], dim=-1)  # (n,k,y,x,6)
    weighted = basis * weight[..., None]
    normal = torch.einsum("nkyxi,nkyxj->nkij", weighted, basis)  # (n, k, 6, 6)
    rhs = torch.einsum("nkyxi,nkyx->nki", weighted, values.log())
    eye = torch.eye(6, dtype=normal.dtype, device=normal.device)
    # log h ~ c0 + c1 x + c2 y + c3 x² + c4 xy + c5 y²
    coef = torch.linalg.solve(normal + 1e-9 * eye, rhs)
    step, _ = _newton_step(
        coef[..., 1], coef[..., 2], 2 * coef[..., 3], 2 * coef[..., 5], coef[..., 4], limit=1.0
    )
    return step.to(hm.dtype)


def decode_heatmaps(
    heatmaps: Tensor, refine: str = "dark", blur_kernel: int = 11
) -> tuple[Tensor, Tensor]:
    """Keypoints from heatmaps.

    ``"dark"``: where the blur window of every pixel the Taylor step reads stays inside the map
    (the argmax at least ``blur_kernel // 2 + 1`` pixels from each border), the DARK step of
    Zhang et al. (CVPR 2020) on the Gaussian-blurred log heatmap, whose blur makes it robust to
    noise; nearer the border, where any padding of the blur would pull the peak toward the edge
    (or away from it), the vertex of a weighted least-squares quadratic fit of the log heatmap
    around the argmax, in a window clipped to the map. Both are exact for Gaussian peaks. The
    step is at most one pixel, and the result stays on the map (``[-0.5, w - 0.5]``).

    Args:
        heatmaps: ``(N, K, h, w)``.
        refine: ``"dark"`` (sub-pixel) or ``"none"`` (the argmax pixel).
        blur_kernel: DARK's Gaussian blur size (odd).

    Returns:
        coordinates ``(N, K, 2)`` (x, y) in heatmap pixel indices, scores ``(N, K)`` (the maxima).
    """
    expect_shape("heatmaps", heatmaps, "(N, K, h, w)", (None, None, None, None))
    if refine not in ("dark", "none"):
        raise ValueError(f"refine must be 'dark' or 'none', got {refine!r}")
    if blur_kernel < 1 or blur_kernel % 2 == 0:
        raise ValueError(f"blur_kernel must be a positive odd number, got {blur_kernel}")
    hm = heatmaps.detach().float()
    h, w = hm.shape[-2:]
    scores, index = rearrange(hm, "n k h w -> n k (h w)").max(dim=-1)
    px, py = index % w, torch.div(index, w, rounding_mode="floor")
    coords = torch.stack([px, py], dim=-1).float()
    if refine == "none" or h < 3 or w < 3:
        return coords, scores
    reach = blur_kernel // 2 + 1
    interior = (px >= reach) & (px < w - reach) & (py >= reach) & (py < h - reach)
    step = _gaussian_fit(hm, px, py, radius=3)
    if bool(interior.any()):
        dark = _dark_interior(hm, scores, px, py, blur_kernel)
        step = torch.where(interior[..., None], dark, step)
    # a heatmap tells nothing of what lies beyond it: stay on the map's area
    low = torch.tensor([-0.5, -0.5], device=hm.device)
    high = torch.tensor([w - 0.5, h - 0.5], device=hm.device)
    return torch.minimum(torch.maximum(coords + step, low), high), scores


def flip_heatmaps(heatmaps: Tensor, flip_perm: Sequence[int], shift: float = 0.0) -> Tensor:
    """Heatmaps of a horizontally mirrored crop -> heatmaps of the original crop ``(N, K, h, w)``.

    Mirroring the crop (pixel ``i`` <-> ``W - 1 - i``) mirrors the heatmap about the heatmap
    image of the crop's centre line. In the ``"udp"`` and ``"biased"`` geometries that is the
    heatmap's own centre line: reversing the columns is exact. Elsewhere it lies ``shift / 2``
    pixels to the right of it ([flip_shift][tarpose.codec.flip_shift]), and the reversed heatmap is moved right by
    ``shift`` pixels, linearly interpolated (HRNet moves it by a whole pixel).

    Args:
        heatmaps: ``(N, K, h, w)`` heatmaps of the mirrored crops.
        flip_perm: left/right joint permutation ([tarpose.keypoints.flip_permutation][tarpose.keypoints.flip_permutation]).
        shift: [flip_shift][tarpose.codec.flip_shift] of the geometry.
    """
    out = heatmaps.flip(-1)[:, list(flip_perm)]
    if shift == 0.0:
        return out
    whole = int(torch.floor(torch.tensor(shift)))
    frac = float(shift) - whole
    w = out.shape[-1]

    def moved(by: int) -> Tensor:  # value at column j - by, the edge column repeated
        cols = (torch.arange(w, device=out.device) - by).clamp(0, w - 1)
        return out.index_select(-1, cols)

    return moved(whole) if frac == 0.0 else (1 - frac) * moved(whole) + frac * moved(whole + 1)


def flip_shift(geometry: str, input_width: int, heatmap_width: int) -> float:
    """How far (heatmap pixels) the mirror image of a heatmap must move right after reversing its
    columns: 0 for ``"udp"`` and ``"biased"``, ``1 - w / W`` for ``"hrnet"`` (0.75 at stride 4)."""
    m = heatmap_matrix((input_width, input_width), (heatmap_width, heatmap_width), geometry)
    k, b = float(m[0, 0]), float(m[0, 2])  # crop column q -> heatmap column k q + b
    return b + (k * (input_width - 1) + b) - (heatmap_width - 1)  # H(0) + H(W - 1) - (w - 1)


def heatmap_matrices(
    matrices: Tensor,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    geometry: str = "udp",
) -> Tensor:
    """Image -> heatmap affine maps ``(N, 2, 3)`` from the crops' image -> crop maps."""
    check_geometry(geometry)
    inner = matrices.to(torch.float64)
    crop_to_heatmap = heatmap_matrix(input_size, heatmap_size, geometry).to(inner.device)
    return compose_affine(crop_to_heatmap, inner)


def heatmap_to_image(
    coords: Tensor,
    matrices: Tensor,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    geometry: str = "udp",
) -> Tensor:
    """Heatmap coordinates -> image coordinates (both pixel indices).

    Args:
        coords: ``(N, K, 2)`` in heatmap pixels.
        matrices: ``(N, 2, 3)`` image -> crop maps the heatmaps' crops were taken with
            ([tarpose.geometry.crop_matrices][tarpose.geometry.crop_matrices]).
        input_size: crop ``(H, W)``.
        heatmap_size: heatmap ``(h, w)``.
        geometry: the geometry the model was trained in.

    Returns:
        ``(N, K, 2)`` float64.
    """
    inverse = invert_affine(heatmap_matrices(matrices, input_size, heatmap_size, geometry))
    return apply_affine(coords.to(torch.float64), inverse)

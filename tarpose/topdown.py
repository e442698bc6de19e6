"""Top-down pre- and post-processing: person boxes -> normalised crops, heatmaps -> image keypoints.

Everything here is a thin composition of [tarpose.geometry][tarpose.geometry] and
[tarpose.codec][tarpose.codec]: boxes and keypoints in pixel-index coordinates (COCO's,
transformers'), and one geometry per model (the model's ``data_config.geometry``,
[DataConfig][tarpose.preprocess.DataConfig]), so a keypoint found at heatmap coordinate ``u``
lands exactly where the crop that produced the heatmap saw it, in the geometry the model was
trained in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .boxes import as_boxes
from .codec import decode_heatmaps, flip_heatmaps, heatmap_to_image
from .geometry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    box_to_center_scale,
    crop_matrices,
    normalize_images,
    warp_crops,
)


def as_image_tensor(frame: Any) -> Tensor:
    """An RGB frame as a ``(3, H, W)`` tensor.

    Accepts a numpy array ``(H, W, 3)`` (uint8, as decoded video gives) or a tensor ``(3, H, W)``
    (uint8, or float in 0..1). The tensor is not copied when it already has that layout. A float
    frame holding values above 1 (0..255 pixels in a float array) is refused, not read as 0..1.
    """
    if isinstance(frame, np.ndarray):
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise ValueError(f"a numpy frame must be (H, W, 3) RGB, got shape {frame.shape}")
        return _unit_range(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1))  # (3, h, w) view
    if isinstance(frame, Tensor):
        if frame.ndim != 3 or frame.shape[0] != 3:
            raise ValueError(f"a tensor frame must be (3, H, W) RGB, got shape {tuple(frame.shape)}")
        return _unit_range(frame)
    raise TypeError(f"a frame must be a numpy array (H, W, 3) or a tensor (3, H, W), got {type(frame).__name__}")


def _unit_range(frame: Tensor) -> Tensor:
    """``frame`` unchanged; a float one must hold 0..1 values."""
    if frame.is_floating_point() and frame.numel() and float(frame.amax()) > 1.0 + 1e-3:
        raise ValueError(
            f"a float frame must hold values in 0..1, but this one reaches {float(frame.amax()):g}: "
            "pass 0..255 pixels as uint8, or divide by 255"
        )
    return frame


def box_matrices(
    boxes: Tensor, input_size: tuple[int, int], padding: float = 1.25, geometry: str = "udp"
) -> Tensor:
    """Image -> crop affine maps ``(N, 2, 3)`` (float64) for boxes ``(N, 4)`` ``x, y, w, h``.

    The box is enlarged to the model's aspect ratio ``W / H`` (never stretched) and by ``padding``,
    and the crop laid over it in ``geometry``.
    """
    height, width = input_size
    center, scale = box_to_center_scale(as_boxes(boxes), aspect_ratio=width / height, padding=padding)
    return crop_matrices(center, scale, (height, width), geometry=geometry)


def crop_images(
    images: Tensor,
    matrices: Tensor,
    input_size: tuple[int, int],
    dtype: torch.dtype = torch.float32,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> Tensor:
    """Normalised crops ``(N, 3, H, W)`` of RGB images.

    Args:
        images: ``(3, Hi, Wi)`` (one frame, cropped once per matrix) or ``(N, 3, Hi, Wi)``; uint8
            or float in 0..1.
        matrices: ``(N, 2, 3)`` image -> crop maps ([box_matrices][tarpose.topdown.box_matrices]).
        input_size: crop ``(H, W)``.
        dtype: floating dtype of the crops.
        mean: RGB mean the model expects (its ``data_config``; ImageNet's by default).
        std: RGB standard deviation the model expects.

    The crop is taken from the raw image (black outside it) and then normalised.
    """
    n = matrices.shape[0]
    images = images.to(dtype) / 255 if images.dtype == torch.uint8 else images.to(dtype)
    if images.ndim == 3:
        images = images.unsqueeze(0).expand(n, -1, -1, -1)  # (n, 3, hi, wi), no copy
    crops = warp_crops(images, matrices, input_size)  # (n, 3, h, w)
    return normalize_images(crops, mean, std)


def flip_crops(crops: Tensor) -> Tensor:
    """Horizontally mirrored crops ``(..., 3, H, W)`` for the flip test."""
    return crops.flip(-1)


def merge_flipped(
    heatmaps: Tensor, flipped: Tensor, flip_perm: Sequence[int], shift: float = 0.0
) -> Tensor:
    """Flip test: the mean of the heatmaps ``(N, J, h, w)`` of the crops and the heatmaps of the
    mirrored crops mapped back (left/right joints swapped, columns reversed, moved by ``shift``:
    [tarpose.codec.flip_shift][tarpose.codec.flip_shift] of the model's geometry, 0 for UDP)."""
    return 0.5 * (heatmaps + flip_heatmaps(flipped, flip_perm, shift))


def heatmaps_to_keypoints(
    heatmaps: Tensor,
    matrices: Tensor,
    input_size: tuple[int, int],
    refine: str = "dark",
    geometry: str = "udp",
) -> tuple[Tensor, Tensor]:
    """Keypoints in image coordinates (pixel indices).

    Args:
        heatmaps: ``(N, J, h, w)``.
        matrices: ``(N, 2, 3)`` image -> crop maps the heatmaps' crops were taken with.
        input_size: crop ``(H, W)``.
        refine: ``"dark"`` (sub-pixel) or ``"none"`` (argmax), see [tarpose.codec.decode_heatmaps][tarpose.codec.decode_heatmaps].
        geometry: the model's (its ``data_config.geometry``).

    Returns:
        keypoints ``(N, J, 2)`` (x, y) float64 on the CPU, scores ``(N, J)`` float32 (heatmap maxima).
    """
    coords, scores = decode_heatmaps(heatmaps, refine=refine)  # (n, j, 2) heatmap coordinates
    keypoints = heatmap_to_image(
        coords.cpu(), matrices.cpu(), input_size, tuple(heatmaps.shape[-2:]), geometry
    )
    return keypoints, scores.float().cpu()

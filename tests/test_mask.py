"""heatmap_mask against a hand-written NumPy statement of the paper's rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tarpose import heatmap_mask


def bilinear_half_pixel(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize with align_corners=False semantics, written out."""
    in_h, in_w = img.shape
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        y = max((i + 0.5) * in_h / out_h - 0.5, 0.0)
        y0 = int(np.floor(y)); y1 = min(y0 + 1, in_h - 1); fy = y - y0
        for k in range(out_w):
            x = max((k + 0.5) * in_w / out_w - 0.5, 0.0)
            x0 = int(np.floor(x)); x1 = min(x0 + 1, in_w - 1); fx = x - x0
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[i, k] = top * (1 - fy) + bottom * fy
    return out


def numpy_mask(heatmap: np.ndarray, size, threshold: float) -> np.ndarray:
    normed = (heatmap - heatmap.min()) / (heatmap.max() - heatmap.min() + 1e-6)
    return bilinear_half_pixel(normed, *size) >= threshold


@pytest.mark.parametrize("size", [(6, 4), (8, 6), (5, 3)])
def test_matches_the_written_out_rule(size):
    rng = np.random.default_rng(0)
    heat = rng.normal(size=(2, 3, 4, 24, 16)).astype(np.float32) ** 2
    mask = heatmap_mask(torch.from_numpy(heat), size, threshold=0.3)
    assert mask.dtype == torch.bool and mask.shape == (2, 3, 4, *size)
    for idx in np.ndindex(2, 3, 4):
        np.testing.assert_array_equal(mask[idx].numpy(), numpy_mask(heat[idx], size, 0.3))


def test_peak_region_only():
    heat = torch.zeros(1, 1, 1, 16, 12)
    heat[..., 4:8, 8:12] = 1.0  # a block covering grid cell (1, 2) of a 4x3 grid
    mask = heatmap_mask(heat, (4, 3), 0.5)[0, 0, 0]
    expected = torch.zeros(4, 3, dtype=torch.bool)
    expected[1, 2] = True
    assert torch.equal(mask, expected)


def test_constant_and_zero_heatmaps_give_empty_masks_not_nan():
    heat = torch.stack([torch.zeros(2, 8, 8), torch.full((2, 8, 8), 3.0)])[None]  # (1, 2, 2, 8, 8)
    assert not heatmap_mask(heat, (4, 4)).any()


def test_scale_and_offset_invariant():
    heat = torch.rand(1, 2, 3, 20, 16)
    assert torch.equal(heatmap_mask(heat, (5, 4)), heatmap_mask(heat * 7.0 - 2.0, (5, 4)))


def test_no_gradient_flows():
    heat = torch.rand(1, 1, 2, 8, 8, requires_grad=True)
    assert not heatmap_mask(heat, (4, 4)).requires_grad


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\(B, T, J, H, W\).*\(2, 8, 8\)"):
        heatmap_mask(torch.rand(2, 8, 8), (4, 4))

"""Heatmap codec: sub-pixel recovery, targets, flip test, heatmap -> image coordinates."""

from __future__ import annotations

import math

import pytest
import torch

from tarpose.codec import decode_heatmaps, flip_heatmaps, gaussian_targets, heatmap_to_image
from tarpose.geometry import apply_affine, crop_matrices, flip_points
from tarpose.keypoints import COCO_FLIP_PAIRS, flip_permutation


def gaussian_at(points: torch.Tensor, size=(64, 48), sigma=2.0) -> torch.Tensor:
    """Written-out continuous Gaussians: value at pixel (j, i) = exp(-|centre(i,j) - p|^2 / 2s^2)."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    dx = xs - points[..., 0, None, None]
    dy = ys - points[..., 1, None, None]
    return torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))


def test_dark_recovers_subpixel_location():
    g = torch.Generator().manual_seed(0)
    points = torch.rand(4, 17, 2, generator=g) * torch.tensor([36.0, 52.0]) + 6  # away from borders
    heat = gaussian_at(points)
    coords, scores = decode_heatmaps(heat, refine="dark")
    assert (coords - points).norm(dim=-1).max() < 0.1
    plain, _ = decode_heatmaps(heat, refine="none")
    assert (plain - points).abs().max() <= 0.5 + 1e-6
    assert (plain - points).norm(dim=-1).mean() > 5 * (coords - points).norm(dim=-1).mean()
    torch.testing.assert_close(scores, heat.flatten(2).amax(-1))


def test_dark_near_borders_stays_finite_and_close():
    points = torch.tensor([[[0.2, 0.3], [47.9, 63.6], [0.4, 30.0], [24.0, 63.9]]])
    coords, _ = decode_heatmaps(gaussian_at(points))
    assert torch.isfinite(coords).all() and (coords - points).abs().max() < 1.0


def test_targets_match_the_written_out_gaussian():
    points = torch.tensor([[[5.3, 3.9], [20.5, 10.5]]])
    heat, weights = gaussian_targets(points, torch.ones(1, 2), (16, 24), sigma=2.0)
    torch.testing.assert_close(heat, gaussian_at(points, (16, 24)))
    assert heat[0, 1, 10, 20] == 1.0 and weights.tolist() == [[1.0, 1.0]]
    rounded, _ = gaussian_targets(points, torch.ones(1, 2), (16, 24), sigma=2.0, unbiased=False)
    assert rounded[0, 0].flatten().argmax() == 3 * 24 + 5 and rounded[0, 0].max() == 1.0


def test_target_weights():
    points = torch.tensor([[[5.0, 5.0], [5.0, 5.0], [-7.0, 5.0], [5.0, 20.0]]])
    visible = torch.tensor([[1, 0, 1, 1]])
    heat, weights = gaussian_targets(points, visible, (16, 12), sigma=2.0)
    # labelled; unlabelled; more than 3 sigma outside; outside but within 3 sigma of the edge
    assert weights.tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert heat[0, 1].abs().sum() == 0 and heat[0, 2].abs().sum() == 0


def test_encode_decode_round_trip():
    points = torch.rand(3, 17, 2) * torch.tensor([36.0, 52.0]) + 6  # DARK's blur needs 6 px of margin
    heat, _ = gaussian_targets(points, torch.ones(3, 17), (64, 48), sigma=2.0)
    coords, _ = decode_heatmaps(heat)
    assert (coords - points).norm(dim=-1).max() < 0.1


def test_flip_test_alignment_is_exact():
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    points = torch.rand(2, 17, 2) * torch.tensor([40.0, 56.0]) + 4
    heat, _ = gaussian_targets(points, torch.ones(2, 17), (64, 48))
    flipped, _ = gaussian_targets(flip_points(points, 48.0, perm), torch.ones(2, 17), (64, 48))
    torch.testing.assert_close(flip_heatmaps(flipped, perm), heat, atol=1e-6, rtol=0)


def test_heatmap_to_image_inverts_the_crop():
    m = crop_matrices(torch.tensor([[300.0, 200.0]]), torch.tensor([[150.0, 200.0]]), (256, 192), rotation=20.0)
    image_points = torch.tensor([[[310.0, 180.0], [260.0, 250.0]]], dtype=torch.float64)
    heat_points = apply_affine(image_points, m) / 4
    torch.testing.assert_close(heatmap_to_image(heat_points, m, (256, 192), (64, 48)), image_points)


def test_bad_input():
    with pytest.raises(ValueError, match=r"heatmaps.*\(N, K, h, w\)"):
        decode_heatmaps(torch.rand(17, 64, 48))
    with pytest.raises(ValueError, match="refine"):
        decode_heatmaps(torch.rand(1, 17, 64, 48), refine="udp")
    with pytest.raises(ValueError, match=r"visible.*\(N, K\)"):
        gaussian_targets(torch.rand(1, 3, 2), torch.ones(1, 4), (8, 8))

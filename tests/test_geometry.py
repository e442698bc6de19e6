"""Top-down crops: hand-computed boxes, exact crops of aligned regions, round trips."""

from __future__ import annotations

import pytest
import torch

from tarpose.geometry import (
    apply_affine, box_to_center_scale, crop_matrices, flip_points, invert_affine, normalize_images,
    warp_crops,
)
from tarpose.keypoints import COCO_FLIP_PAIRS, flip_permutation


def test_box_to_center_scale_fixes_aspect_without_stretching():
    center, scale = box_to_center_scale(torch.tensor([[10.0, 20.0, 30.0, 100.0], [0.0, 0.0, 90.0, 40.0]]), 0.75)
    torch.testing.assert_close(center, torch.tensor([[25.0, 70.0], [45.0, 20.0]], dtype=torch.float64))
    # tall box: width grows to 0.75 * 100; wide box: height grows to 90 / 0.75; then x1.25
    torch.testing.assert_close(scale, torch.tensor([[93.75, 125.0], [112.5, 150.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_to_center_scale(torch.zeros(3), 0.75)


def test_region_corners_map_to_crop_corners():
    m = crop_matrices(torch.tensor([[50.0, 40.0]]), torch.tensor([[30.0, 40.0]]), (64, 48))
    corners = torch.tensor([[[35.0, 20.0], [65.0, 60.0], [50.0, 40.0]]], dtype=torch.float64)
    torch.testing.assert_close(apply_affine(corners, m), torch.tensor([[[0.0, 0.0], [48.0, 64.0], [24.0, 32.0]]], dtype=torch.float64))


def test_rotation_turns_content_counter_clockwise():
    m = crop_matrices(torch.tensor([[50.0, 40.0]]), torch.tensor([[30.0, 30.0]]), (30, 30), rotation=90.0)
    right_of_centre = torch.tensor([[[60.0, 40.0]]], dtype=torch.float64)
    torch.testing.assert_close(apply_affine(right_of_centre, m), torch.tensor([[[15.0, 5.0]]], dtype=torch.float64))
    points = torch.rand(1, 5, 2, dtype=torch.float64) * 100
    torch.testing.assert_close(apply_affine(apply_affine(points, m), invert_affine(m)), points)


def test_aligned_crop_is_an_exact_slice():
    image = torch.arange(3 * 20 * 30, dtype=torch.float32).view(1, 3, 20, 30)
    m = crop_matrices(torch.tensor([[15.0, 10.0]]), torch.tensor([[12.0, 8.0]]), (8, 12))
    torch.testing.assert_close(warp_crops(image, m, (8, 12)), image[:, :, 6:14, 9:21])


def test_scaled_crop_samples_a_linear_image_exactly():
    ys, xs = torch.meshgrid(torch.arange(40.0), torch.arange(60.0), indexing="ij")
    image = (2 * xs + 3 * ys).expand(1, 1, 40, 60)  # value at pixel centre (x+.5, y+.5)
    m = crop_matrices(torch.tensor([[30.0, 20.0]]), torch.tensor([[20.0, 16.0]]), (4, 5))
    crop = warp_crops(image, m, (4, 5))
    cy, cx = torch.meshgrid(torch.arange(4.0) + 0.5, torch.arange(5.0) + 0.5, indexing="ij")
    img_x, img_y = 20 + cx * 4, 12 + cy * 4  # crop centres in image coordinates
    torch.testing.assert_close(crop[0, 0], 2 * (img_x - 0.5) + 3 * (img_y - 0.5))


def test_a_dot_lands_where_the_matrix_says():
    image = torch.zeros(1, 1, 100, 120)
    image[0, 0, 30, 80] = 1.0  # centre (80.5, 30.5)
    m = crop_matrices(torch.tensor([[70.0, 40.0]]), torch.tensor([[48.0, 64.0]]), (64, 48), rotation=30.0)
    crop = warp_crops(image, m, (64, 48))
    flat = crop[0, 0].argmax()
    got = torch.tensor([flat % 48 + 0.5, flat // 48 + 0.5], dtype=torch.float64)
    expected = apply_affine(torch.tensor([[[80.5, 30.5]]], dtype=torch.float64), m)[0, 0]
    assert (got - expected).abs().max() <= 0.75


def test_flip_points_and_permutation():
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    assert perm[:5] == [0, 2, 1, 4, 3] and sorted(perm) == list(range(17))
    pts = torch.rand(2, 17, 2) * 48
    back = flip_points(flip_points(pts, 48.0, perm), 48.0, perm)
    torch.testing.assert_close(back, pts)
    assert torch.allclose(flip_points(pts, 48.0, perm)[:, 1, 0], 48.0 - pts[:, 2, 0])
    with pytest.raises(ValueError, match="out of range"):
        flip_permutation(5, COCO_FLIP_PAIRS)


def test_normalize_images():
    img = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    out = normalize_images(img)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))

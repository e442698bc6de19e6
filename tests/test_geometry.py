"""Top-down crops: hand-computed boxes, each geometry's grid over its region, exact crops of
aligned regions, round trips, and crops equal to transformers' UDP warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tarpose.geometry import (
    GEOMETRIES, apply_affine, box_to_center_scale, crop_matrices, flip_points, heatmap_matrix,
    invert_affine, normalize_images, warp_crops,
)
from tarpose.keypoints import COCO_FLIP_PAIRS, flip_permutation


def test_box_to_center_scale_fixes_aspect_without_stretching():
    center, scale = box_to_center_scale(torch.tensor([[10.0, 20.0, 30.0, 100.0], [0.0, 0.0, 90.0, 40.0]]), 0.75)
    torch.testing.assert_close(center, torch.tensor([[25.0, 70.0], [45.0, 20.0]], dtype=torch.float64))
    # tall box: width grows to 0.75 * 100; wide box: height grows to 90 / 0.75; then x1.25
    torch.testing.assert_close(scale, torch.tensor([[93.75, 125.0], [112.5, 150.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_to_center_scale(torch.zeros(3), 0.75)


@pytest.mark.parametrize("geometry,edges", [
    ("udp", (0.0, 47.0, 0.0, 63.0)),       # first and last pixel centres on the region's edges
    ("biased", (-0.5, 47.5, -0.5, 63.5)),  # the region's edges on the grid's outer pixel edges
    ("hrnet", (0.0, 48.0, 0.0, 64.0)),     # pixel 0 on the left/top edge, spacing S / n
])
def test_each_geometry_lays_its_grid_over_the_region_as_documented(geometry, edges):
    m = crop_matrices(torch.tensor([[50.0, 40.0]]), torch.tensor([[30.0, 40.0]]), (64, 48), geometry=geometry)
    left_right_top_bottom = torch.tensor([[[35.0, 40.0], [65.0, 40.0], [50.0, 20.0], [50.0, 60.0]]], dtype=torch.float64)
    crop = apply_affine(left_right_top_bottom, m)[0]
    got = torch.stack([crop[0, 0], crop[1, 0], crop[2, 1], crop[3, 1]])
    torch.testing.assert_close(got, torch.tensor(edges, dtype=torch.float64))


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_heatmap_matrix_lays_both_grids_over_the_same_region(geometry):
    center, scale = torch.tensor([[120.0, 90.0]]), torch.tensor([[96.0, 128.0]])
    crop = crop_matrices(center, scale, (256, 192), geometry=geometry)
    heat = crop_matrices(center, scale, (64, 48), geometry=geometry)
    composed = heatmap_matrix((256, 192), (64, 48), geometry) @ torch.cat([crop[0], torch.tensor([[0.0, 0, 1]], dtype=torch.float64)])
    torch.testing.assert_close(composed, heat[0])


def test_rotation_turns_content_counter_clockwise():
    m = crop_matrices(torch.tensor([[50.0, 40.0]]), torch.tensor([[30.0, 30.0]]), (30, 30), rotation=90.0, geometry="biased")
    right_of_centre = torch.tensor([[[60.0, 40.0]]], dtype=torch.float64)
    torch.testing.assert_close(apply_affine(right_of_centre, m), torch.tensor([[[14.5, 4.5]]], dtype=torch.float64))
    points = torch.rand(1, 5, 2, dtype=torch.float64) * 100
    torch.testing.assert_close(apply_affine(apply_affine(points, m), invert_affine(m)), points)


@pytest.mark.parametrize("geometry,center,size", [
    ("biased", (14.5, 9.5), (12.0, 8.0)),  # 12 x 8 cells whose centres are pixels 9..20 x 6..13
    ("udp", (14.5, 9.5), (11.0, 7.0)),     # pixel centres 9 and 20 on the region's edges
    ("hrnet", (15.0, 10.0), (12.0, 8.0)),  # pixel 9 on the left edge, spacing 1
])
def test_aligned_crop_is_an_exact_slice(geometry, center, size):
    image = torch.arange(3 * 20 * 30, dtype=torch.float32).view(1, 3, 20, 30)
    m = crop_matrices(torch.tensor([center]), torch.tensor([size]), (8, 12), geometry=geometry)
    torch.testing.assert_close(warp_crops(image, m, (8, 12)), image[:, :, 6:14, 9:21])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_scaled_crop_samples_a_linear_image_exactly(geometry):
    ys, xs = torch.meshgrid(torch.arange(40.0), torch.arange(60.0), indexing="ij")
    image = (2 * xs + 3 * ys).expand(1, 1, 40, 60)  # value at pixel index (x, y)
    m = crop_matrices(torch.tensor([[30.0, 20.0]]), torch.tensor([[20.0, 16.0]]), (4, 5), rotation=10.0, geometry=geometry)
    crop = warp_crops(image, m, (4, 5))
    cy, cx = torch.meshgrid(torch.arange(4.0), torch.arange(5.0), indexing="ij")
    source = apply_affine(torch.stack([cx, cy], -1).view(1, 20, 2).double(), invert_affine(m)).view(4, 5, 2)
    torch.testing.assert_close(crop[0, 0], (2 * source[..., 0] + 3 * source[..., 1]).float())


def test_a_dot_lands_where_the_matrix_says():
    image = torch.zeros(1, 1, 100, 120)
    image[0, 0, 30, 80] = 1.0  # pixel index (80, 30)
    m = crop_matrices(torch.tensor([[70.0, 40.0]]), torch.tensor([[48.0, 64.0]]), (64, 48), rotation=30.0)
    crop = warp_crops(image, m, (64, 48))
    flat = crop[0, 0].argmax()
    got = torch.tensor([flat % 48, flat // 48], dtype=torch.float64)
    expected = apply_affine(torch.tensor([[[80.0, 30.0]]], dtype=torch.float64), m)[0, 0]
    assert (got - expected).abs().max() <= 0.75


def test_crops_equal_transformers_udp_warp_inside_the_frame():
    """transformers' ``VitPoseImageProcessor`` crop (UDP ``get_warp_matrix`` + SciPy's bilinear
    ``affine_transform``) of the same box, on a float image: equal wherever the source point
    lies inside the frame."""
    processing = pytest.importorskip("transformers.models.vitpose.image_processing_pil_vitpose")
    rng = np.random.default_rng(0)
    frame = rng.uniform(0, 1, (120, 160, 3))
    for box in ([30.0, 20.0, 41.0, 77.0], [100.5, 60.25, 70.0, 50.0], [-10.0, 50.0, 40.0, 90.0]):
        center, scale = processing.box_to_center_and_scale(box, image_width=48, image_height=64)
        warp = processing.get_warp_matrix(0, center * 2.0, np.array([48, 64]) - 1.0, scale * 200.0)
        expected = processing.scipy_warp_affine(frame, warp, (64, 48))  # (64, 48, 3)
        c, s = box_to_center_scale(torch.tensor([box]), 48 / 64)
        m = crop_matrices(c, s, (64, 48), geometry="udp")
        torch.testing.assert_close(m[0], torch.from_numpy(warp).double(), atol=1e-4, rtol=1e-5)  # theirs: float32
        got = warp_crops(torch.from_numpy(frame).permute(2, 0, 1)[None], m, (64, 48))[0].permute(1, 2, 0)
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(48.0), indexing="ij")
        source = apply_affine(torch.stack([xs, ys], -1).view(1, -1, 2).double(), invert_affine(m)).view(64, 48, 2)
        inside = (source[..., 0] >= 0) & (source[..., 0] <= 159) & (source[..., 1] >= 0) & (source[..., 1] <= 119)
        assert inside.float().mean() > 0.3
        np.testing.assert_allclose(got[inside].numpy(), expected[inside.numpy()], atol=1e-4)


def test_flip_points_and_permutation():
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    assert perm[:5] == [0, 2, 1, 4, 3] and sorted(perm) == list(range(17))
    pts = torch.rand(2, 17, 2) * 48
    back = flip_points(flip_points(pts, 48.0, perm), 48.0, perm)
    torch.testing.assert_close(back, pts)
    assert torch.allclose(flip_points(pts, 48.0, perm)[:, 1, 0], 47.0 - pts[:, 2, 0])
    image = torch.rand(1, 1, 5, 48)
    assert image.flip(-1)[0, 0, 2, 47 - 10] == image[0, 0, 2, 10]  # column i <-> 47 - i, as flip_points
    with pytest.raises(ValueError, match="out of range"):
        flip_permutation(5, COCO_FLIP_PAIRS)


def test_bad_geometry():
    with pytest.raises(ValueError, match="geometry must be one of"):
        crop_matrices(torch.zeros(1, 2), torch.ones(1, 2), (64, 48), geometry="unbiased")
    with pytest.raises(ValueError, match="at least 2 pixels"):
        heatmap_matrix((64, 1), (16, 1), "udp")


def test_normalize_images():
    img = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    out = normalize_images(img)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))

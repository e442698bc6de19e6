"""Heatmap codec: sub-pixel recovery anywhere (borders included), targets, round trips in every
geometry, flip-test alignment, heatmap -> image maps equal to transformers' and HRNet's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tarpose.codec import (
    decode_heatmaps,
    flip_heatmaps,
    flip_shift,
    gaussian_targets,
    heatmap_matrices,
    heatmap_to_image,
)
from tarpose.geometry import (
    GEOMETRIES,
    apply_affine,
    box_to_center_scale,
    crop_matrices,
    flip_points,
    heatmap_matrix,
    invert_affine,
)
from tarpose.keypoints import COCO_FLIP_PAIRS, flip_permutation


def gaussian_at(points: torch.Tensor, size=(64, 48), sigma=2.0) -> torch.Tensor:
    """Written-out Gaussians: value at pixel (row j, column i) = exp(-|(i, j) - p|^2 / 2s^2)."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    dx = xs - points[..., 0, None, None]
    dy = ys - points[..., 1, None, None]
    return torch.exp(-(dx**2 + dy**2) / (2 * sigma**2)).float()


def border_distance(points: torch.Tensor, size=(64, 48)) -> torch.Tensor:
    h, w = size
    x, y = points[..., 0], points[..., 1]
    return torch.minimum(torch.minimum(x, w - 1 - x), torch.minimum(y, h - 1 - y))


def test_dark_recovers_subpixel_peaks_anywhere_including_the_border():
    g = torch.Generator().manual_seed(0)
    # anywhere on the map [-0.5, w - 0.5) x [-0.5, h - 0.5), then a batch within 3 px of an edge
    anywhere = torch.rand(8, 17, 2, generator=g, dtype=torch.float64) * torch.tensor([48.0, 64.0]) - 0.5
    near = torch.rand(8, 17, 2, generator=g, dtype=torch.float64) * 3.5 - 0.5  # near the top-left
    near = torch.where(torch.rand(8, 17, 2, generator=g) < 0.5, near, torch.tensor([47.0, 63.0]) - near)
    near[:4, :, 1] = torch.rand(4, 17, generator=g, dtype=torch.float64) * 63  # along the left/right edges
    points = torch.cat([anywhere, near])
    assert (border_distance(near) < 3).all()
    coords, scores = decode_heatmaps(gaussian_at(points), refine="dark")
    error = (coords.double() - points).norm(dim=-1)
    assert error.max() < 0.05
    plain, _ = decode_heatmaps(gaussian_at(points), refine="none")
    assert (plain.double() - points).abs().max() <= 0.5 + 1e-6
    assert (plain.double() - points).norm(dim=-1).mean() > 20 * error.mean()
    torch.testing.assert_close(scores, gaussian_at(points).flatten(2).amax(-1))


def test_dark_is_the_blurred_taylor_step_in_the_interior():
    """Away from the border the decoder is DARK on the 11-tap blurred log heatmap, written out
    here with NumPy, so the noise robustness of its blur is kept."""
    g = torch.Generator().manual_seed(1)
    points = torch.rand(3, 17, 2, generator=g, dtype=torch.float64) * torch.tensor([34.0, 50.0]) + 7
    heat = gaussian_at(points) + 0.02 * torch.randn(3, 17, 64, 48, generator=g)
    coords, _ = decode_heatmaps(heat)
    sigma = 0.3 * ((11 - 1) * 0.5 - 1) + 0.8
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * sigma**2))
    taps /= taps.sum()
    for n in range(3):
        for k in range(17):
            hm = heat[n, k].double().numpy()
            y, x = np.unravel_index(hm.argmax(), hm.shape)
            assert 6 <= x < 42 and 6 <= y < 58
            patch = hm[y - 6:y + 7, x - 6:x + 7]  # the blur of the 3x3 neighbourhood reads 13x13
            rows = np.stack([np.convolve(r, taps, mode="valid") for r in patch])  # (13, 3)
            blurred = np.stack([np.convolve(c, taps, mode="valid") for c in rows.T]).T  # (3, 3)
            full = np.stack([np.convolve(r, taps, mode="same") for r in np.pad(hm, 5, mode="reflect")])
            full = np.stack([np.convolve(c, taps, mode="same") for c in full.T]).T[5:-5, 5:-5]
            lg = np.log(np.clip(blurred * hm.max() / full.max(), 1e-10, None))
            gx, gy = (lg[1, 2] - lg[1, 0]) / 2, (lg[2, 1] - lg[0, 1]) / 2
            hxx, hyy = lg[1, 2] - 2 * lg[1, 1] + lg[1, 0], lg[2, 1] - 2 * lg[1, 1] + lg[0, 1]
            hxy = (lg[2, 2] - lg[0, 2] - lg[2, 0] + lg[0, 0]) / 4
            step = -np.linalg.solve([[hxx, hxy], [hxy, hyy]], [gx, gy])
            np.testing.assert_allclose(coords[n, k].numpy(), [x + step[0], y + step[1]], atol=2e-4)


def test_dark_under_noise_is_at_least_as_good_as_transformers_everywhere():
    pytest.importorskip("scipy")
    processing = pytest.importorskip("transformers.models.vitpose.image_processing_pil_vitpose")
    g = torch.Generator().manual_seed(2)
    points = torch.rand(800, 2, generator=g, dtype=torch.float64) * torch.tensor([48.0, 64.0]) - 0.5
    heat = gaussian_at(points[None]) + 0.02 * torch.randn(1, 800, 64, 48, generator=g)
    ours = (decode_heatmaps(heat)[0][0].double() - points).norm(dim=-1)
    start, _ = processing.get_keypoint_predictions(heat.double().numpy())
    theirs = processing.post_dark_unbiased_data_processing(start, heat.double().numpy(), kernel=11)
    theirs = (torch.from_numpy(theirs).reshape(1, 800, 2) - points).norm(dim=-1)[0]
    distance = border_distance(points)
    for lo, hi in ((-0.5, 1), (1, 3), (3, 6), (6, 40)):
        band = (distance >= lo) & (distance < hi)
        assert band.sum() > 30
        assert ours[band].mean() <= theirs[band].mean()


def test_targets_match_the_written_out_gaussian():
    points = torch.tensor([[[5.3, 3.9], [20.0, 10.0]]])
    heat, weights = gaussian_targets(points, torch.ones(1, 2), (16, 24), sigma=2.0)
    torch.testing.assert_close(heat, gaussian_at(points, (16, 24)))
    assert heat[0, 1, 10, 20] == 1.0 and weights.tolist() == [[1.0, 1.0]]
    rounded, _ = gaussian_targets(points, torch.ones(1, 2), (16, 24), sigma=2.0, unbiased=False)
    assert rounded[0, 0].flatten().argmax() == 4 * 24 + 5 and rounded[0, 0].max() == 1.0


def test_target_weights():
    points = torch.tensor([[[5.0, 5.0], [5.0, 5.0], [-7.5, 5.0], [5.0, 19.0]]])
    visible = torch.tensor([[1, 0, 1, 1]])
    heat, weights = gaussian_targets(points, visible, (16, 12), sigma=2.0)
    # labelled; unlabelled; more than 3 sigma outside the map; outside but within 3 sigma of it
    assert weights.tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert heat[0, 1].abs().sum() == 0 and heat[0, 2].abs().sum() == 0


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_encode_decode_round_trip_is_exact(geometry):
    """Image keypoints -> crop -> heatmap targets -> decoded -> image: the keypoints come back,
    anywhere in the crop, its border included, in every geometry."""
    g = torch.Generator().manual_seed(3)
    center, scale = box_to_center_scale(torch.tensor([[310.0, 95.0, 61.0, 173.0], [40.0, 12.0, 90.0, 70.0]]), 0.75)
    matrices = crop_matrices(center, scale, (256, 192), rotation=torch.tensor([0.0, 25.0]), geometry=geometry)
    to_heatmap = heatmap_matrices(matrices, (256, 192), (64, 48), geometry)
    # heatmap positions over the whole map, pulled back into the image
    target = torch.rand(2, 17, 2, generator=g, dtype=torch.float64) * torch.tensor([48.0, 64.0]) - 0.5
    keypoints = apply_affine(target, invert_affine(to_heatmap))
    heat, weights = gaussian_targets(apply_affine(keypoints, to_heatmap), torch.ones(2, 17), (64, 48))
    assert weights.all()
    coords, _ = decode_heatmaps(heat)
    back = heatmap_to_image(coords, matrices, (256, 192), (64, 48), geometry)
    assert (back - keypoints).norm(dim=-1).max() < 1e-3  # image pixels


@pytest.mark.parametrize("geometry", ["udp", "biased"])
def test_flip_alignment_is_exact(geometry):
    """The heatmaps of a mirrored crop, reversed, equal the crop's own heatmaps."""
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    assert flip_shift(geometry, 192, 48) == 0.0
    crop_points = torch.rand(1, 17, 2, dtype=torch.float64) * torch.tensor([191.0, 255.0])
    to_heat = heatmap_matrices(torch.eye(2, 3, dtype=torch.float64)[None], (256, 192), (64, 48), geometry)
    heat, _ = gaussian_targets(apply_affine(crop_points, to_heat), torch.ones(1, 17), (64, 48))
    mirrored, _ = gaussian_targets(apply_affine(flip_points(crop_points, 192, perm), to_heat), torch.ones(1, 17), (64, 48))
    torch.testing.assert_close(flip_heatmaps(mirrored, perm), heat, atol=1e-6, rtol=0)


def test_hrnet_flip_moves_the_mirror_image_by_three_quarters_of_a_pixel():
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    assert flip_shift("hrnet", 192, 48) == pytest.approx(0.75)
    crop_points = torch.rand(1, 17, 2, dtype=torch.float64) * torch.tensor([150.0, 255.0]) + 20
    to_heat = heatmap_matrices(torch.eye(2, 3, dtype=torch.float64)[None], (256, 192), (64, 48), "hrnet")
    heat, _ = gaussian_targets(apply_affine(crop_points, to_heat), torch.ones(1, 17), (64, 48))
    mirrored, _ = gaussian_targets(apply_affine(flip_points(crop_points, 192, perm), to_heat), torch.ones(1, 17), (64, 48))
    plain = decode_heatmaps(flip_heatmaps(mirrored, perm))[0]
    moved = decode_heatmaps(flip_heatmaps(mirrored, perm, shift=0.75))[0]
    truth = decode_heatmaps(heat)[0]
    assert (plain - truth)[..., 0].mean() == pytest.approx(-0.75, abs=0.01)
    assert (moved - truth).norm(dim=-1).max() < 0.05


def test_heatmap_to_image_equals_transformers_udp_transform():
    processing = pytest.importorskip("transformers.models.vitpose.image_processing_pil_vitpose")
    box = [312.0, 97.0, 61.0, 173.0]
    center, scale = processing.box_to_center_and_scale(box, image_width=192, image_height=256)
    coords = np.random.default_rng(0).uniform(-0.5, 47.5, (17, 2))
    expected = processing.transform_preds(coords.copy(), center, scale, output_size=[64, 48])
    ours_c, ours_s = box_to_center_scale(torch.tensor([box]), 192 / 256)
    m = crop_matrices(ours_c, ours_s, (256, 192), geometry="udp")
    got = heatmap_to_image(torch.from_numpy(coords)[None], m, (256, 192), (64, 48), "udp")[0]
    np.testing.assert_allclose(got.numpy(), expected, atol=2e-4)  # transformers rounds to float32


def _hrnet_affine(center, size, output_size) -> np.ndarray:
    """The affine HRNet's ``get_affine_transform`` (the official TAR-ViTPose data pipeline)
    solves for: region centre -> (W/2, H/2), the point size_w/2 above it -> (W/2, H/2 - W/2),
    and a third point at a right angle; written out with a 3-point least-squares solve."""
    (cx, cy), (sw, _), (ow, oh) = center, size, output_size
    src = np.array([[cx, cy], [cx, cy - sw / 2], [cx - sw / 2, cy - sw / 2]])
    dst = np.array([[ow / 2, oh / 2], [ow / 2, oh / 2 - ow / 2], [0.0, oh / 2 - ow / 2]])
    solution, *_ = np.linalg.lstsq(np.c_[src, np.ones(3)], dst, rcond=None)
    return solution.T  # (2, 3)


def test_hrnet_geometry_is_the_official_tar_pipeline_and_neither_other_geometry():
    center, scale = box_to_center_scale(torch.tensor([[400.0, 150.0, 90.0, 200.0]]), 288 / 384)
    c, s = center[0].numpy(), scale[0].numpy()
    ours = {g: crop_matrices(center, scale, (384, 288), geometry=g)[0].numpy() for g in GEOMETRIES}
    np.testing.assert_allclose(ours["hrnet"], _hrnet_affine(c, s, (288, 384)), atol=1e-9)
    # its heatmap mapping: get_affine_transform with the heatmap's size, i.e. heatmap = crop / 4
    image_to_heat = heatmap_matrices(torch.from_numpy(ours["hrnet"])[None], (384, 288), (96, 72), "hrnet")[0]
    np.testing.assert_allclose(image_to_heat.numpy(), _hrnet_affine(c, s, (72, 96)), atol=1e-9)
    # a third geometry: the crop map differs from both others
    for other in ("udp", "biased"):
        assert np.abs(ours[other] - ours["hrnet"]).max() > 0.4


def test_a_udp_network_read_in_the_biased_geometry_is_shrunk_about_the_box_centre():
    """What running a ViTPose checkpoint in tarpose's old geometry did: every keypoint pulled
    toward the centre by W (w - 1) / ((W - 1) w)."""
    center, scale = torch.tensor([[200.0, 150.0]]), torch.tensor([[150.0, 200.0]])
    keypoints = center[:, None] + torch.tensor([[[-60.0, -90.0], [50.0, 80.0]]], dtype=torch.float64)
    biased = crop_matrices(center, scale, (256, 192), geometry="biased")
    learned = heatmap_matrix((256, 192), (64, 48), "udp")[None]  # crop -> heatmap, as trained
    heat = apply_affine(apply_affine(keypoints, biased), learned)  # what it outputs on biased crops
    read = heatmap_to_image(heat, biased, (256, 192), (64, 48), "biased")
    factor = torch.tensor([192 * 47 / (191 * 48), 256 * 63 / (255 * 64)], dtype=torch.float64)
    torch.testing.assert_close(read - center[:, None], (keypoints - center[:, None]) * factor)


def test_bad_input():
    with pytest.raises(ValueError, match=r"heatmaps.*\(N, K, h, w\)"):
        decode_heatmaps(torch.rand(17, 64, 48))
    with pytest.raises(ValueError, match="refine"):
        decode_heatmaps(torch.rand(1, 17, 64, 48), refine="udp")
    with pytest.raises(ValueError, match="blur_kernel"):
        decode_heatmaps(torch.rand(1, 17, 64, 48), blur_kernel=4)
    with pytest.raises(ValueError, match=r"visible.*\(N, K\)"):
        gaussian_targets(torch.rand(1, 3, 2), torch.ones(1, 4), (8, 8))
    with pytest.raises(ValueError, match="geometry must be one of"):
        heatmap_to_image(torch.zeros(1, 1, 2), torch.eye(2, 3)[None], (256, 192), (64, 48), "msra")

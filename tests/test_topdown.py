"""Top-down path end to end: boxes -> crops -> heatmaps -> image keypoints, DARK, flip test,
in the model's geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tarpose
from conftest import tiny_vitpose
from tarpose.geometry import IMAGENET_MEAN, IMAGENET_STD, flip_points
from tarpose.inference import StreamingPredictor
from tarpose.topdown import box_matrices, heatmaps_to_keypoints
from tarpose.keypoints import COCO_FLIP_PAIRS, flip_permutation


def gaussian_at(points: torch.Tensor, size, sigma: float) -> torch.Tensor:
    """Written-out Gaussians ``(N, K, h, w)``: pixel (row j, column i) is centred at (i, j)."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h, dtype=points.dtype), torch.arange(w, dtype=points.dtype), indexing="ij")
    dx = xs - points[..., 0, None, None]
    dy = ys - points[..., 1, None, None]
    return torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))


@pytest.mark.parametrize("geometry,span", [("udp", (47, 63)), ("biased", (48, 64)), ("hrnet", (48, 64))])
def test_heatmap_peak_to_image_point_hand_computed(geometry, span):
    # box x, y, w, h = 100, 50, 60, 80; model input 256x192 (W/H = 0.75 = the box's own aspect)
    # region: centre (130, 90), size 75 x 100 (x1.25), laid over the heatmap's grid:
    # x = 130 + (u - origin) * 75 / span (udp: span 47, origin 23.5; biased: 48, 23.5; hrnet: 48, 24)
    m = box_matrices(torch.tensor([[100.0, 50.0, 60.0, 80.0]]), (256, 192), geometry=geometry)
    heat_points = torch.tensor([[[24.3, 10.7], [40.0, 50.25]]], dtype=torch.float64)
    heat = gaussian_at(heat_points, (64, 48), sigma=2.0).float()
    keypoints, scores = heatmaps_to_keypoints(heat, m, (256, 192), geometry=geometry)
    origin = torch.tensor([24.0, 32.0] if geometry == "hrnet" else [23.5, 31.5], dtype=torch.float64)
    region = torch.tensor([75.0, 100.0], dtype=torch.float64)
    expected = torch.tensor([130.0, 90.0], dtype=torch.float64) + (heat_points - origin) * region / torch.tensor(span)
    assert (keypoints - expected).abs().max() < 0.01 * 1.6  # < 0.01 heatmap px
    plain, _ = heatmaps_to_keypoints(heat, m, (256, 192), refine="none", geometry=geometry)
    assert (plain - expected).abs().max() > 0.3  # argmax alone is off by the sub-pixel part
    torch.testing.assert_close(scores, heat.flatten(2).amax(-1))


def test_wide_box_is_padded_not_stretched():
    # a wide box 120 x 40: height grows to 120 / 0.75 = 160, then x1.25 -> 150 x 200 region
    m = box_matrices(torch.tensor([[0.0, 0.0, 120.0, 40.0]]), (256, 192), geometry="biased")
    assert torch.allclose(m[0, 0, 0], m[0, 1, 1])  # one scale on both axes
    torch.testing.assert_close(m[0, 0, 0], torch.tensor(192 / 150, dtype=torch.float64))
    # UDP spans (W - 1) and (H - 1) pixels over the same 150 x 200 region
    m = box_matrices(torch.tensor([[0.0, 0.0, 120.0, 40.0]]), (256, 192), geometry="udp")
    torch.testing.assert_close(m[0].diagonal(), torch.tensor([191 / 150, 255 / 200], dtype=torch.float64))


class BlobEncoder(torch.nn.Module):
    """Undoes the normalisation of channel 0 and average-pools it to the heatmap grid (1/4),
    so the 'features' are the image's own brightness: a blob in the image becomes a peak."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        red = images[:, :1] * IMAGENET_STD[0] + IMAGENET_MEAN[0]  # (n, 1, H, W) in 0..1
        return F.avg_pool2d(red, 4).expand(-1, 8, -1, -1)  # (n, 8, H/4, W/4)


class BlobDecoder(torch.nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, :1].expand(-1, 17, -1, -1)  # every joint's heatmap is the blob


def blob_frame(point, size=(120, 160), sigma=5.0) -> np.ndarray:
    """A black RGB frame with a bright Gaussian blob centred at ``point`` (pixel indices x, y)."""
    blob = gaussian_at(torch.tensor([[point]], dtype=torch.float64), size, sigma)[0, 0]
    return (blob[..., None].expand(-1, -1, 3) * 255).round().to(torch.uint8).numpy()


def test_blob_is_found_where_it_is_through_the_whole_pipeline():
    """A model that 'sees' a bright blob: the predictor returns the blob's image location, for
    boxes of different sizes and places around it (crop, normalisation, DARK, back-mapping).
    Its 4x4 average pooling centres heatmap pixel j on crop pixels 4j .. 4j+3: the "biased"
    geometry, which the predictor is told (the wrapper of a custom encoder says "udp")."""
    model = tarpose.TemporalWrapper(
        encoder=BlobEncoder(), decoder=BlobDecoder(), num_frames=3, dim=8, num_joints=17, jta_depth=1,
        heatmap_stride=1,  # the blob decoder's heatmaps are at token size
    )
    points = [(71.3, 48.6), (40.8, 80.2), (120.55, 30.1)]
    boxes = [(50.0, 20.0, 40.0, 60.0), (20.0, 40.0, 50.0, 70.0), (95.0, 5.0, 60.0, 60.0)]
    items = [(blob_frame(p), [b], [0]) for p, b in zip(points, boxes)]
    for flip in (False, True):
        predictor = StreamingPredictor(model, input_size=(64, 48), flip=flip, geometry="biased")
        out = list(predictor.run(items))
        for poses, point, box in zip(out, points, boxes):
            region_px_per_heatmap_px = 4 * max(box[2], box[3] * 0.75) * 1.25 / 48
            error = (poses.keypoints[0] - torch.tensor(point, dtype=torch.float64)).norm(dim=-1)
            assert error.max() < 0.1 * region_px_per_heatmap_px, (flip, point, error.max())
    # without sub-pixel refinement the argmax is off by pixels: the check above can fail
    plain = list(StreamingPredictor(model, input_size=(64, 48), refine="none", geometry="biased").run(items))
    errors = [(p.keypoints[0, 0] - torch.tensor(q, dtype=torch.float64)).norm() for p, q in zip(plain, points)]
    assert max(errors) > 1.0


def test_the_predictor_crops_and_decodes_in_the_model_s_geometry():
    """No geometry= argument: the predictor takes the model's data config's, so the blob model
    recorded as "biased" is read right, and read as "udp" (the default of a custom encoder's
    wrapper, or named) it is not; a geometry= argument wins over the model's."""
    model = tarpose.TemporalWrapper(
        encoder=BlobEncoder(), decoder=BlobDecoder(), num_frames=3, dim=8, num_joints=17, jta_depth=1,
        heatmap_stride=1,  # the blob decoder's heatmaps are at token size
    )
    points = [(71.3, 48.6), (40.8, 80.2), (120.55, 30.1)]
    boxes = [(50.0, 20.0, 40.0, 60.0), (20.0, 40.0, 50.0, 70.0), (95.0, 5.0, 60.0, 60.0)]
    items = [(blob_frame(p), [b], [0]) for p, b in zip(points, boxes)]

    def error(predictor: StreamingPredictor) -> float:
        found = torch.stack([poses.keypoints[0, 0] for poses in predictor.run(items)])
        return float((found - torch.tensor(points, dtype=torch.float64)).norm(dim=-1).max())

    assert StreamingPredictor(model, input_size=(64, 48)).data_config.geometry == "udp"
    misread = error(StreamingPredictor(model, input_size=(64, 48)))
    model.data_config = tarpose.DataConfig(input_size=(64, 48), geometry="biased")
    assert StreamingPredictor(model).data_config.geometry == "biased"
    assert error(StreamingPredictor(model)) < 0.01 and misread > 0.3  # image px
    assert error(StreamingPredictor(model, geometry="udp")) == misread


@pytest.mark.parametrize("geometry", ["udp", "biased"])
def test_flip_test_makes_predictions_mirror_equivariant(geometry):
    """With the flip test, a mirrored frame and box give the mirrored keypoints with left and right
    swapped, for any model (the flip-test average is symmetric by construction: the crop of the
    mirrored frame is the mirrored crop, pixel i <-> W - 1 - i, and its heatmap the reversed
    heatmap); without it a random model does not."""
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17, geometry=geometry), num_frames=1).eval()
    assert model.data_config.geometry == geometry
    perm = flip_permutation(17, COCO_FLIP_PAIRS)
    g = torch.Generator().manual_seed(0)
    frame = (torch.rand(90, 110, 3, generator=g) * 255).to(torch.uint8).numpy()
    mirrored = np.ascontiguousarray(frame[:, ::-1])
    box = (20.5, 10.0, 45.0, 70.0)
    mirrored_box = (110 - 1 - box[0] - box[2], box[1], box[2], box[3])  # x -> 109 - x, as flip_points
    for flip, close in ((True, True), (False, False)):
        predictor = StreamingPredictor(model, flip=flip, keep_heatmaps=True)
        (a,) = predictor.run([(frame, [box], [0])])
        (b,) = predictor.run([(mirrored, [mirrored_box], [0])])
        expected = flip_points(a.keypoints, 110.0, perm)
        error = (b.keypoints - expected).abs().max()
        assert (error < 1e-3) if close else (error > 1.0), (flip, error)
    # the flip-test heatmaps are the mean of the plain ones and the mirrored crop's mapped back
    (plain,) = StreamingPredictor(model, keep_heatmaps=True).run([(frame, [box], [0])])
    (of_mirror,) = StreamingPredictor(model, keep_heatmaps=True).run([(mirrored, [mirrored_box], [0])])
    (fused,) = StreamingPredictor(model, flip=True, keep_heatmaps=True).run([(frame, [box], [0])])
    torch.testing.assert_close(
        fused.heatmaps, 0.5 * (plain.heatmaps + of_mirror.heatmaps.flip(-1)[:, perm]), atol=1e-4, rtol=1e-4
    )

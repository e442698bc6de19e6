"""PoseTrack windows: frame selection at video edges, one shared affine, targets, augmentation."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from conftest import SHARED
from torch.utils.data import default_collate

from tarpose.codec import decode_heatmaps, heatmap_matrices
from tarpose.data import build_dataset, list_datasets
from tarpose.data.posetrack import Augmentation, PoseTrackDataset, read_image_region
from tarpose.data.posetrack_format import POSETRACK_KEYPOINTS, posetrack_category
from tarpose.geometry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    apply_affine,
    normalize_images,
    warp_crops,
)

PIL = pytest.importorskip("PIL.Image")
PT18 = SHARED / "data" / "posetrack18"
needs_shared = pytest.mark.skipif(not PT18.is_dir(), reason="needs ../shared/data/posetrack18")

H, W = 120, 160
SIZE = (64, 48)
MARKERS = {  # slot -> (x, y) pixel and colour
    POSETRACK_KEYPOINTS.index("left_wrist"): ((60, 70), (255, 0, 0)),
    POSETRACK_KEYPOINTS.index("right_wrist"): ((100, 70), (0, 255, 0)),
    POSETRACK_KEYPOINTS.index("head_top"): ((80, 28), (0, 0, 255)),
}
OTHER = {
    "nose": (80, 38),
    "head_bottom": (80, 46),
    "left_shoulder": (68, 50),
    "right_shoulder": (92, 50),
    "left_elbow": (62, 60),
    "right_elbow": (98, 60),
    "left_hip": (72, 80),
    "right_hip": (88, 80),
    "left_knee": (72, 95),
    "right_knee": (88, 95),
}


def background(frame: int) -> int:
    return 20 * (frame + 1)


def make_video(root, frames=6, labelled=(0, 2, 5), fmt="png"):
    """Frames whose background encodes their number, with coloured squares at three joints."""
    folder = root / "images" / "val" / "000007_synth"
    folder.mkdir(parents=True)
    kp = np.zeros((17, 3))
    for slot, ((x, y), _) in MARKERS.items():
        kp[slot] = (x, y, 1)  # the centre pixel of the marker square
    for name, (x, y) in OTHER.items():
        kp[POSETRACK_KEYPOINTS.index(name)] = (x, y, 1)
    images, annotations = [], []
    for f in range(frames):
        pixels = np.full((H, W, 3), background(f), np.uint8)
        for (x, y), colour in MARKERS.values():
            pixels[y - 4 : y + 5, x - 4 : x + 5] = colour
        PIL.fromarray(pixels).save(folder / f"{f:06d}.{fmt}")
        image_id = 10000070000 + f
        images.append(
            {
                "id": image_id,
                "file_name": f"images/val/000007_synth/{f:06d}.{fmt}",
                "nframes": frames,
                "is_labeled": f in labelled,
                "width": W,
                "height": H,
            }
        )
        if f in labelled:
            annotations.append(
                {
                    "id": image_id * 100,
                    "image_id": image_id,
                    "track_id": 0,
                    "category_id": 1,
                    "bbox": [55, 20, 50, 85],
                    "bbox_head": [70, 25, 20, 22],
                    "scores": [],
                    "keypoints": kp.reshape(-1).tolist(),
                }
            )
    ann_dir = root / "annotations" / "val"
    ann_dir.mkdir(parents=True)
    (ann_dir / "000007_synth.json").write_text(
        json.dumps(
            {"images": images, "annotations": annotations, "categories": [posetrack_category()]}
        )
    )
    return ann_dir, kp


def unnormalise(clip: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) normalised -> 0..255."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (clip * std + mean) * 255


def colour_at(image: torch.Tensor, point: torch.Tensor) -> list[float]:
    x, y = round(float(point[0])), round(float(point[1]))  # the pixel the point lies in
    return image[:, y, x].tolist()


def sample_for(dataset, frame):
    (index,) = [i for i, r in enumerate(dataset.records) if r.frame == frame]
    return dataset[index]


def target_peak_error(sample, geometry: str = "udp") -> torch.Tensor:
    """``(J, 2)``: the targets' peaks (argmax pixels) minus the labels mapped into the heatmap
    through the sample's matrix, in heatmap pixels (at most 0.5 where they agree)."""
    coords, _ = decode_heatmaps(sample["target"][None], refine="none")
    to_heatmap = heatmap_matrices(sample["matrix"][None], SIZE, tuple(sample["target"].shape[-2:]), geometry)
    return coords[0].double() - apply_affine(sample["keypoints"][None].double(), to_heatmap)[0]


def test_window_frames_edges_and_targets(tmp_path):
    ann_dir, kp = make_video(tmp_path)
    dataset = PoseTrackDataset(ann_dir, input_size=SIZE)
    assert len(dataset) == 3 and dataset.root == tmp_path.resolve()
    middle = sample_for(dataset, 2)
    assert middle["clip"].shape == (5, 3, 64, 48) and middle["frame_valid"].all()
    corner = unnormalise(middle["clip"])[:, :, 2, 2]  # background, far from the markers
    for k, frame in enumerate(range(5)):
        assert corner[k].tolist() == pytest.approx([background(frame)] * 3, abs=0.01)
    start = sample_for(dataset, 0)
    assert start["frame_valid"].tolist() == [False, False, True, True, True]
    assert torch.equal(start["clip"][0], start["clip"][2]) and torch.equal(
        start["clip"][1], start["clip"][2]
    )
    end = sample_for(dataset, 5)
    assert end["frame_valid"].tolist() == [True, True, True, False, False]
    # targets: decoding them and mapping back through the matrix gives the labelled keypoints
    labelled = kp[:, 2] > 0
    assert middle["target_weight"].tolist() == labelled.astype(float).tolist()
    assert target_peak_error(middle)[labelled].abs().max() <= 0.5
    torch.testing.assert_close(
        middle["keypoints"].double(), torch.from_numpy(kp[:, :2]), check_dtype=False
    )
    # the image under each joint's crop location shows that joint's marker
    crop_points = apply_affine(middle["keypoints"][None].double(), middle["matrix"][None])[0]
    frame_t = unnormalise(middle["clip"][2])
    for slot, (_, colour) in MARKERS.items():
        assert colour_at(frame_t, crop_points[slot]) == pytest.approx(list(colour), abs=1.0)
    last = PoseTrackDataset(ann_dir, input_size=SIZE, num_frames=3, target="last")
    assert sample_for(last, 0)["frame_valid"].tolist() == [False, False, True]
    assert unnormalise(sample_for(last, 5)["clip"])[:, 0, 2, 2].tolist() == pytest.approx(
        [background(3), background(4), background(5)], abs=0.01
    )
    batch = default_collate([dataset[0], dataset[1]])
    assert batch["clip"].shape == (2, 5, 3, 64, 48) and batch["meta"]["frame"].tolist() == [0, 2]


@pytest.mark.parametrize("seed", range(3))
def test_augmentation_is_one_affine_for_images_and_labels(tmp_path, seed):
    ann_dir, _ = make_video(tmp_path)
    flips = PoseTrackDataset(
        ann_dir, input_size=SIZE, augment=Augmentation(flip=1.0, half_body=0.0, rotation_prob=1.0)
    )
    torch.manual_seed(seed)
    sample = sample_for(flips, 2)
    assert sample["meta"]["flipped"] and sample["meta"]["rotation"] != 0.0
    crop = apply_affine(sample["keypoints"][None].double(), sample["matrix"][None])[0]
    labelled = sample["target_weight"] > 0
    assert target_peak_error(sample)[labelled].abs().max() <= 0.5  # targets agree
    frame_t = unnormalise(sample["clip"][2])
    left, right = POSETRACK_KEYPOINTS.index("left_wrist"), POSETRACK_KEYPOINTS.index("right_wrist")
    head_top = POSETRACK_KEYPOINTS.index("head_top")
    # mirrored: the joint now labelled left is the person's former right wrist (green) ...
    assert colour_at(frame_t, crop[left]) == pytest.approx([0, 255, 0], abs=2)
    assert colour_at(frame_t, crop[right]) == pytest.approx([255, 0, 0], abs=2)
    # ... and head_top stays head_top (it has no left/right partner)
    assert colour_at(frame_t, crop[head_top]) == pytest.approx([0, 0, 255], abs=2)
    # every frame of the window went through the same map: the markers sit at the same place
    for k in range(5):
        assert colour_at(unnormalise(sample["clip"][k]), crop[left]) == pytest.approx(
            [0, 255, 0], abs=2
        )


def test_half_body_crops_one_half(tmp_path):
    ann_dir, kp = make_video(tmp_path)
    plain = sample_for(PoseTrackDataset(ann_dir, input_size=SIZE, num_frames=1), 2)
    half = PoseTrackDataset(
        ann_dir,
        input_size=SIZE,
        num_frames=1,
        augment=Augmentation(flip=0.0, half_body=1.0, scale=1e-6, rotation_prob=0.0),
    )
    upper = [j for j in range(11) if kp[j, 2] > 0]
    lower = [j for j in range(11, 17) if kp[j, 2] > 0]
    seen = set()
    for seed in range(8):
        torch.manual_seed(seed)
        sample = sample_for(half, 2)
        zoom = sample["matrix"][0, 0] / plain["matrix"][0, 0]
        assert zoom > 1.2  # a tighter region than the whole person's
        points = apply_affine(sample["keypoints"][None].double(), sample["matrix"][None])[0]
        inside = (
            (points[:, 0] >= 0) & (points[:, 0] <= 48) & (points[:, 1] >= 0) & (points[:, 1] <= 64)
        )
        seen.add(
            "upper"
            if inside[upper].all() and not inside[lower].all()
            else "lower"
            if inside[lower].all()
            else "?"
        )
    assert seen == {"upper", "lower"}


def test_region_decoding_equals_whole_image_warp(tmp_path):
    _, _ = make_video(tmp_path, fmt="png")
    path = tmp_path / "images" / "val" / "000007_synth" / "000002.png"
    whole = (
        torch.from_numpy(np.asarray(PIL.open(path).convert("RGB")).copy())
        .permute(2, 0, 1)[None]
        .float()
    )
    g = torch.Generator().manual_seed(0)
    for _ in range(5):  # regions inside, across and beyond the image borders, rotated
        from tarpose.geometry import crop_matrices

        center = (
            torch.rand(1, 2, generator=g, dtype=torch.float64) * torch.tensor([W, H]) * 1.4 - 20
        )
        scale = torch.rand(1, 2, generator=g, dtype=torch.float64) * 120 + 10
        matrix = crop_matrices(center, scale, SIZE, float(torch.rand((), generator=g)) * 90 - 45)[0]
        pixels, shifted = read_image_region(path, matrix, SIZE)
        expected = warp_crops(whole, matrix[None], SIZE)
        torch.testing.assert_close(  # values 0..255; float32 sampling grids of two image sizes
            warp_crops(pixels[None].float(), shifted[None], SIZE), expected, atol=3e-3, rtol=0
        )


def test_missing_neighbours(tmp_path):
    ann_dir, _ = make_video(tmp_path)
    (tmp_path / "images" / "val" / "000007_synth" / "000003.png").unlink()
    dataset = PoseTrackDataset(ann_dir, input_size=SIZE)
    with pytest.raises(FileNotFoundError, match=r"000003\.png.*missing_frames='invalid'"):
        sample_for(dataset, 2)
    lenient = PoseTrackDataset(ann_dir, input_size=SIZE, missing_frames="invalid")
    sample = sample_for(lenient, 2)
    assert sample["frame_valid"].tolist() == [True, True, True, False, True]
    assert torch.equal(sample["clip"][3], sample["clip"][2])


def test_registry_and_bad_input(tmp_path):
    ann_dir, _ = make_video(tmp_path)
    assert "posetrack" in list_datasets()
    assert len(build_dataset("posetrack", annotations=ann_dir, input_size=SIZE)) == 3
    with pytest.raises(FileNotFoundError, match="no PoseTrack annotation"):
        PoseTrackDataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="odd"):
        PoseTrackDataset(ann_dir, num_frames=4)
    data = json.loads((ann_dir / "000007_synth.json").read_text())
    data["images"][0]["file_name"] = "elsewhere/000007_synth/000000.png"
    (tmp_path / "moved.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="pass root="):
        PoseTrackDataset(tmp_path / "moved.json")


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    ann_dir, _ = make_video(tmp_path)
    dataset = PoseTrackDataset(ann_dir, input_size=SIZE)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'pip install "tarpose\[data\]"'):
        dataset[0]


def test_posetrack17_annotations_load(tmp_path):
    from test_posetrack_eval import to_posetrack17

    ann_dir, _ = make_video(tmp_path)
    data = json.loads((ann_dir / "000007_synth.json").read_text())
    (tmp_path / "pt17.json").write_text(json.dumps(to_posetrack17(data)))
    converted = PoseTrackDataset(tmp_path / "pt17.json", root=tmp_path, input_size=SIZE)
    original = PoseTrackDataset(ann_dir, input_size=SIZE)
    assert [r.frame for r in converted.records] == [r.frame for r in original.records] == [0, 2, 5]
    assert [r.image_id for r in converted.records] == [r.image_id for r in original.records]
    for a, b in zip(converted.records, original.records):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.visible, b.visible)
    assert sample_for(converted, 0)["frame_valid"].tolist() == [False, False, True, True, True]


@needs_shared
def test_real_posetrack18_files():
    dataset = PoseTrackDataset(
        PT18 / "annotations" / "val", input_size=(256, 192), missing_frames="invalid"
    )
    assert len(dataset) == 14 and dataset.root == PT18.resolve()
    sample = dataset[0]
    # the labelled frames are each video's frame 0 and only they are on disk: left clamped, right missing
    assert sample["frame_valid"].tolist() == [False, False, True, False, False]
    whole = torch.from_numpy(
        np.asarray(PIL.open(PT18 / sample["meta"]["file_name"]).convert("RGB")).copy()
    )
    expected = normalize_images(
        warp_crops(whole.permute(2, 0, 1)[None].float() / 255, sample["matrix"][None], (256, 192))
    )
    torch.testing.assert_close(sample["clip"][2], expected[0], atol=1e-3, rtol=0)  # float32 grids
    assert (sample["target_weight"] == sample["visible"]).sum() >= 10
    with pytest.raises(FileNotFoundError, match="000001.jpg"):
        PoseTrackDataset(PT18 / "annotations" / "val")[0]
    detections = json.loads(
        (PT18 / "annotations" / "test_posetrack18_human_detections.json").read_text()
    )
    detected = PoseTrackDataset(
        PT18 / "annotations" / "val", detections=detections, min_score=0.5, missing_frames="invalid"
    )
    assert len(detected) == sum(d["score"] >= 0.5 for d in detections)
    sample = detected[0]
    assert (
        sample["visible"].sum() == 0
        and sample["target_weight"].sum() == 0
        and sample["meta"]["score"] >= 0.5
    )


@needs_shared
def test_real_consecutive_frames(tmp_path):
    # the five consecutive frames of a fourth real video, with a hand-made annotation on frame 2
    folder = "videos/000001_mpiinew_test"
    images = [{"id": 100 + f, "file_name": f"{folder}/{f:06d}.jpg", "nframes": 5} for f in range(5)]
    kp = np.zeros((17, 3))
    kp[0] = (300, 200, 1)
    gt = {
        "images": images,
        "annotations": [
            {
                "id": 1,
                "image_id": 102,
                "bbox": [250, 150, 120, 300],
                "keypoints": kp.reshape(-1).tolist(),
            }
        ],
        "categories": [posetrack_category()],
    }
    (tmp_path / "v.json").write_text(json.dumps(gt))
    sample = PoseTrackDataset(tmp_path / "v.json", root=PT18, input_size=(128, 96))[0]
    assert sample["frame_valid"].all()
    for k in range(5):
        whole = torch.from_numpy(
            np.asarray(PIL.open(PT18 / folder / f"{k:06d}.jpg").convert("RGB")).copy()
        )
        expected = normalize_images(
            warp_crops(
                whole.permute(2, 0, 1)[None].float() / 255, sample["matrix"][None], (128, 96)
            )
        )
        torch.testing.assert_close(sample["clip"][k], expected[0], atol=1e-3, rtol=0)
    assert not torch.equal(sample["clip"][0], sample["clip"][4])  # real motion between the frames

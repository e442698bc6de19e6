"""The procedural video-pose generator and the "synthetic" dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from tarpose.codec import decode_heatmaps, heatmap_matrices, heatmap_to_image
from tarpose.data import build_dataset, list_datasets
from tarpose.data.synthetic import KINDS, SPLITS, SyntheticPoseDataset, SyntheticVideo, split_seeds
from tarpose.data.synthetic.corruptions import DROP
from tarpose.data.synthetic.raster import BOX, Primitives, rasterize
from tarpose.data.synthetic.video import JOINT_PARTS, PART_NAMES
from tarpose.geometry import apply_affine, crop_matrices, warp_crops

SIZE = (96, 128)  # small frames keep these tests fast


def video(seed: int = 3, **kw) -> SyntheticVideo:
    kw.setdefault("num_frames", 12)
    kw.setdefault("image_size", SIZE)
    return SyntheticVideo(seed, **kw)


def test_deterministic_by_seed():
    a, b, c = video(5, corruption=0.5), video(5, corruption=0.5), video(6, corruption=0.5)
    for name in ("keypoints", "visibility", "boxes", "corruption", "occluded"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(a.render()[0], b.render()[0])
    assert not torch.allclose(a.keypoints, c.keypoints)
    assert not torch.equal(a.render([0])[0], c.render([0])[0])


def same_image(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to float rounding: at most 1 level off in a handful of pixels."""
    diff = (a.int() - b.int()).abs()
    return int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3


def test_a_frame_looks_the_same_whichever_frames_are_rendered_with_it():
    v = video(corruption=0.5)
    alone, _ = v.render([4])
    together, _ = v.render([9, 4, 0])
    assert same_image(alone[0], together[1])
    assert same_image(v.render()[0][4], alone[0])


def test_clean_footage_is_the_uncorrupted_video():
    """Corruptions come from their own random stream: the same seed with fraction 0 is the same
    footage, and ``render(corrupt=False)`` shows it."""
    clean, dirty = video(8, corruption=0.0), video(8, corruption=0.6)
    assert torch.equal(clean.keypoints, dirty.keypoints)
    assert same_image(clean.render()[0], dirty.render(corrupt=False)[0])
    assert not torch.equal(clean.render()[0], dirty.render()[0])


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_corruption_fraction_is_exact_and_nested(fraction):
    v = video(11, num_frames=32, corruption=fraction)
    corrupted = v.corruption != 0
    assert int(corrupted.sum()) == round(fraction * 32)
    more = video(11, num_frames=32, corruption=min(1.0, fraction + 0.25))
    assert bool((more.corruption[corrupted] == v.corruption[corrupted]).all())  # a superset


def test_corruption_kinds_can_be_chosen():
    v = video(2, num_frames=40, corruption=1.0, kinds={"drop": 1.0})
    assert bool((v.corruption == DROP).all())
    images, _ = v.render()
    # a dropped frame carries no trace of the scene: one flat colour plus faint grain
    assert float(images.float().std(dim=(-1, -2)).max()) < 0.05 * 255
    assert bool((v.visibility[v.visibility > 0] == 1).all())  # every joint in the frame is hidden
    mixed = video(2, num_frames=200, corruption=1.0)
    for bit in KINDS.values():
        assert bool(((mixed.corruption & bit) != 0).any())


def _numpy_coverage(points: np.ndarray, a: np.ndarray, b: np.ndarray, r: float, box: bool) -> np.ndarray:
    """Written-out signed distance of points (N, 2) to one capsule / box, as coverage >= 0.5."""
    d = b - a
    length = np.linalg.norm(d)
    e = d / length if length > 1e-9 else np.array([1.0, 0.0])
    rel = points - a
    u = rel @ e
    v = rel[:, 1] * e[0] - rel[:, 0] * e[1]
    along = u - np.clip(u, 0, length)
    dist = np.maximum(np.abs(along), np.abs(v) - r) if box else np.hypot(along, v) - r
    return dist <= 0


def test_occluded_flags_match_occluder_geometry():
    v = video(4, num_frames=64, corruption=1.0, kinds={"occlude": 1.0})
    occ = v.plan.occluders
    checked = 0
    for f in range(v.num_frames):
        inside = v.visibility[f] > 0
        hit = np.zeros(17, dtype=bool)
        for k in range(occ.radius.shape[1]):
            r = float(occ.radius[f, k])
            if r > 0:
                # primitives live in the renderer's pixel-centre coordinates: labels + 0.5
                hit |= _numpy_coverage(v.keypoints[f].double().numpy() + 0.5, occ.a[f, k].numpy(),
                                       occ.b[f, k].numpy(), r, int(occ.kind[k]) == BOX)
        assert np.array_equal(v.occluded[f].numpy(), hit & inside.numpy()), f
        checked += int(hit.sum())
    assert checked > 50  # occluders do sit over joints
    # and the pixels agree: an occluded joint's pixel changes when the occluders are drawn
    images, _ = v.render(corrupt=True)
    clean, _ = v.render(corrupt=False)
    changed = (images.int() - clean.int()).abs().sum(1) > 0  # (f, h, w)
    xy = (v.keypoints + 0.5).floor().long()  # the pixel each label lies in
    h, w = SIZE
    ok = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    f_idx, j_idx = torch.nonzero(v.occluded & ok, as_tuple=True)
    at = changed[f_idx, xy[f_idx, j_idx, 1], xy[f_idx, j_idx, 0]]
    assert float(at.float().mean()) > 0.97


def test_joint_labels_sit_on_the_rendered_limbs():
    """Each limb is a capsule between two joint labels: the centroid of its rendered pixels
    (rasterised alone, 4x finer through a crop matrix) is the labels' midpoint; each face marker
    is a disc centred on its label."""
    v = video(9, num_frames=6)
    scale = 4.0
    matrix = torch.tensor([[scale, 0, 0], [0, scale, 0]], dtype=torch.float64)
    prims = v.body_primitives()
    names = {n: i for i, n in enumerate(PART_NAMES)}
    pairs = {
        "l_upper_arm": (5, 7), "r_upper_arm": (6, 8), "l_forearm": (7, 9), "r_forearm": (8, 10),
        "l_thigh": (11, 13), "r_thigh": (12, 14), "l_shin": (13, 15), "r_shin": (14, 16),
        "nose": (0, 0), "l_eye": (1, 1), "r_eye": (2, 2), "l_ear": (3, 3), "r_ear": (4, 4),
    }
    h, w = SIZE[0] * 4, SIZE[1] * 4
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    for name, (i, j) in pairs.items():
        p = names[name]
        one = Primitives(prims.a[:, p:p + 1] * scale, prims.b[:, p:p + 1] * scale,
                         prims.radius[:, p:p + 1] * scale, prims.kind[p:p + 1], prims.depth[:, p:p + 1])
        style = v._paint
        from tarpose.data.synthetic.raster import Paint

        paint = Paint(style.color[p:p + 1], style.color2[p:p + 1], style.wave[p:p + 1],
                      style.mix[p:p + 1], style.shade[p:p + 1])
        _, alpha = rasterize(one, paint, (h, w))
        alpha = alpha.view(-1, h, w).double()
        mass = alpha.sum((-1, -2))
        full = mass > 0.9 * float(mass.max())  # limb entirely inside the frame
        centroid = torch.stack([(alpha * xs).sum((-1, -2)), (alpha * ys).sum((-1, -2))], -1) / mass[:, None]
        expected = ((v.keypoints[:, i] + v.keypoints[:, j]).double() / 2 + 0.5) * scale  # renderer coords
        err = (centroid - expected).norm(dim=-1)[full]
        assert len(err) and float(err.max()) < 0.05 * scale, (name, err)
    del matrix


def test_self_occlusion_follows_depth_order():
    """A joint is visible exactly when one of its own parts is the front-most part covering it."""
    v = video(21, num_frames=40)
    hidden_by_body = v.self_occluded & (v.visibility > 0)
    assert bool((v.visibility[hidden_by_body] == 1).all())
    assert bool(hidden_by_body.any())  # turning figures hide joints behind themselves
    assert len(JOINT_PARTS) == 17


def test_visibility_zero_outside_the_frame():
    h, w = SIZE
    for seed in range(30):
        v = video(seed)
        kp = v.keypoints
        outside = (kp[..., 0] < -0.5) | (kp[..., 0] >= w - 0.5) | (kp[..., 1] < -0.5) | (kp[..., 1] >= h - 0.5)
        assert torch.equal(v.visibility == 0, outside)


def test_boxes_hold_the_figure():
    v = video(12, num_frames=8)
    x, y, bw, bh = v.boxes.unbind(-1)
    inside = v.visibility > 0
    kp = v.keypoints
    assert bool(((kp[..., 0] >= x[:, None] - 1e-4) | ~inside).all())
    assert bool(((kp[..., 0] <= (x + bw)[:, None] + 1e-4) | ~inside).all())
    assert bool(((kp[..., 1] >= y[:, None] - 1e-4) | ~inside).all())
    assert bool(((kp[..., 1] <= (y + bh)[:, None] + 1e-4) | ~inside).all())
    # the silhouette fills a good part of its box, and its area is what was drawn
    _, area = v.render(corrupt=False)
    ratio = area / (bw * bh)
    assert bool(((ratio > 0.1) & (ratio < 0.9)).all())


def test_rendering_a_crop_equals_cropping_the_frame():
    """``render(matrix=...)`` draws straight into a crop what ``warp_crops`` of the whole frame
    shows, up to resampling (compared after a 5x5 box blur); a crop half a pixel off is clearly
    further away, so the two agree on the pixel convention."""
    v = video(7, num_frames=4, corruption=0.0)
    frames, _ = v.render(corrupt=False)
    box = v.boxes[2:3].double()
    centre = box[:, :2] + box[:, 2:] / 2
    matrix = crop_matrices(centre, torch.tensor([[30.0, 40.0]]), (64, 48), rotation=20.0)[0]
    direct, _ = v.render([1, 2], corrupt=False, matrix=matrix, size=(64, 48))
    blur = torch.ones(3, 1, 5, 5) / 25

    def distance(shift: float) -> float:
        moved = matrix.clone()
        moved[:, 2] += torch.tensor([shift, -shift], dtype=torch.float64)
        warped = warp_crops(frames[1:3].float(), moved[None].expand(2, -1, -1).float(), (64, 48))
        a = torch.nn.functional.conv2d(direct.float(), blur, groups=3)
        b = torch.nn.functional.conv2d(warped, blur, groups=3)
        return float((a - b).abs().mean())  # of 255

    aligned = distance(0.0)
    assert aligned < 2.5
    assert distance(0.5) > 1.5 * aligned


def test_render_rejects_bad_input():
    v = video()
    with pytest.raises(ValueError, match="frames must be in"):
        v.render([12])
    with pytest.raises(ValueError, match="similarity"):
        v.render([0], matrix=torch.tensor([[2.0, 0, 0], [0, 1.0, 0]]), size=(8, 8))
    with pytest.raises(ValueError, match="both matrix"):
        v.render([0], size=(8, 8))
    with pytest.raises(ValueError, match="fraction"):
        video(corruption=1.5)
    with pytest.raises(ValueError, match="unknown corruption"):
        video(corruption=0.5, kinds={"rain": 1.0})
    with pytest.raises(ValueError, match="unknown action"):
        video(action="swim")


# -- the dataset ------------------------------------------------------------------------------


def small_dataset(**kw) -> SyntheticPoseDataset:
    kw = {"split": "test", "num_videos": 2, "video_length": 8, "image_size": SIZE,
          "input_size": (64, 48), **kw}
    return build_dataset("synthetic", **kw)


def test_registered():
    assert "synthetic" in list_datasets()
    assert isinstance(small_dataset(), SyntheticPoseDataset)


def test_sample_format():
    ds = small_dataset(num_frames=5, corruption=0.5)
    assert len(ds) == 16
    s = ds[8]  # video 1, frame 0: the window runs past the start
    assert s["clip"].shape == (5, 3, 64, 48) and s["clip"].dtype == torch.float32
    assert s["frame_valid"].tolist() == [False, False, True, True, True]
    assert s["target"].shape == (17, 16, 12) and s["target_weight"].shape == (17,)
    assert s["keypoints"].shape == (17, 2) and s["visible"].shape == (17,)
    assert s["matrix"].shape == (2, 3) and s["matrix"].dtype == torch.float64
    v = ds.video(1)
    assert s["meta"]["video"] == v.seed == SPLITS["test"] + 1 and s["meta"]["frame"] == 0
    assert torch.equal(s["keypoints"], v.keypoints[0])
    assert s["meta"]["corrupted"] == bool(v.corruption[0])
    # clamped frames repeat the edge frame
    assert torch.equal(s["clip"][0], s["clip"][2]) and torch.equal(s["clip"][1], s["clip"][2])
    batch = default_collate([ds[i] for i in range(3)])
    assert batch["clip"].shape == (3, 5, 3, 64, 48)
    last = small_dataset(num_frames=3, target="last")[7]
    assert last["frame_valid"].tolist() == [True, True, True]


def test_targets_decode_to_the_keypoints():
    ds = small_dataset(num_frames=1, input_size=(128, 96), sigma=2.0)
    checked = 0
    for i in (0, 5, 11):
        s = ds[i]
        to_heatmap = heatmap_matrices(s["matrix"][None], (128, 96), (32, 24), ds.geometry)
        expected = apply_affine(s["keypoints"][None].double(), to_heatmap)[0]  # heatmap px
        coords, _ = decode_heatmaps(s["target"][None], refine="dark")
        on_map = ((expected > -0.5) & (expected < torch.tensor([23.5, 31.5]))).all(-1)
        ok = (s["target_weight"] > 0) & on_map
        err = (coords[0].double() - expected).norm(dim=-1)[ok]
        assert float(err.max()) < 0.02
        checked += len(err)
        image = heatmap_to_image(coords, s["matrix"][None], (128, 96), (32, 24), ds.geometry)[0]
        assert float((image - s["keypoints"]).norm(dim=-1)[ok].max()) < 0.1
    assert checked > 20


def test_neighbours_are_cropped_with_the_target_box():
    ds = small_dataset(num_frames=3, corruption=0.0)
    s = ds[4]
    v = ds.video(0)
    matrix = ds.matrix(v.boxes[4].double())
    assert torch.equal(s["matrix"], matrix)
    crops, _ = v.render([3, 4, 5], matrix=matrix, size=(64, 48))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert torch.allclose(s["clip"], (crops.float() / 255 - mean) / std, atol=1e-5)


def test_splits_never_share_a_video():
    ranges = [split_seeds(name, 1_000_000) for name in SPLITS]
    for i, a in enumerate(ranges):
        for b in ranges[i + 1:]:
            assert a.stop <= b.start or b.stop <= a.start
    train = small_dataset(split="train", num_videos=3)
    test = small_dataset(split="test", num_videos=3)
    assert not set(train.seeds) & set(test.seeds)
    assert set(SPLITS) == {"train", "val", "test", "demo"}  # val: for choosing settings, never test
    with pytest.raises(ValueError, match="outside split"):
        split_seeds("train", 10, first_video=999_995)
    with pytest.raises(ValueError, match="unknown split"):
        small_dataset(split="validation")


def test_dataset_rejects_bad_options():
    with pytest.raises(ValueError, match="num_frames"):
        small_dataset(num_frames=4)
    with pytest.raises(ValueError, match="multiples of 4"):
        small_dataset(input_size=(66, 48))
    with pytest.raises(IndexError):
        small_dataset()[16]


def test_actions_all_move():
    from tarpose.data.synthetic import ACTIONS

    for action in ACTIONS:
        v = video(1, num_frames=20, action=action)
        assert v.action == action
        speed = (v.keypoints[1:] - v.keypoints[:-1]).norm(dim=-1)  # pixels / frame
        assert float(speed.mean()) > 0.2
        assert float(speed.max()) < 0.25 * v.figure_height  # smooth: no jumps between frames
        assert math.isfinite(float(v.keypoints.sum()))


def test_disk_cache_gives_the_same_samples(tmp_path):
    plain = small_dataset(num_frames=3, corruption=0.5)
    cached = small_dataset(num_frames=3, corruption=0.5, cache=str(tmp_path))
    for i in (0, 7, 9):
        first, again, reference = cached[i], cached[i], plain[i]
        for sample in (first, again):
            for key in ("clip", "frame_valid", "target", "target_weight", "keypoints", "visible", "matrix"):
                assert torch.equal(sample[key], reference[key]), key
            assert sample["meta"] == reference["meta"]
    # another process (a pickled copy, as a DataLoader worker) reads what this one wrote
    import pickle

    clone = pickle.loads(pickle.dumps(cached))
    assert clone._store()["done"][7] == 1
    assert torch.equal(clone[7]["clip"], reference_clip := plain[7]["clip"]) and reference_clip.ndim == 4
    # other options, other folder
    small_dataset(num_frames=3, corruption=0.25, cache=str(tmp_path))[0]
    assert len(list(tmp_path.iterdir())) == 2


def test_fill_cache_renders_everything_once(tmp_path):
    ds = small_dataset(num_frames=3, corruption=0.5, cache=str(tmp_path))
    assert ds.fill_cache() == 2
    assert bool(ds._store()["done"].all())
    assert ds.fill_cache() == 0  # nothing left to do
    plain = small_dataset(num_frames=3, corruption=0.5)
    assert torch.equal(ds[5]["clip"], plain[5]["clip"])
    with pytest.raises(ValueError, match="cache"):
        plain.fill_cache()

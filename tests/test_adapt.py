"""Label-free adaptation (tarpose.training.adaptation): corruptions of real crops, the window
cache, the cached training step, resume, bad input, and that no keypoint label is ever read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import tiny_vitpose
from torch.utils.data import default_collate

import tarpose
from tarpose.data.synthetic import SyntheticVideo
from tarpose.data.synthetic.corruptions import CHAINS, DROP, KINDS, NOISE, OCCLUDE, STRENGTH
from tarpose.data.synthetic.raster import BOX, CAPSULE, Primitives, coverage
from tarpose.geometry import box_to_center_scale, crop_matrices, normalize_images, warp_crops
from tarpose.training import (
    AdaptConfig,
    HeatmapLoss,
    Track,
    adapt,
    cached_encoding,
    freeze_base,
    load_checkpoint,
    train,
)
from tarpose.training.adaptation import (
    CropCorruptor,
    Teacher,
    UnlabelledWindows,
    WindowCache,
    as_tracks,
    holdout_windows,
    self_consistency,
)

FRAME = (96, 128)  # small synthetic frames (H, W)


def crops_like(n: int = 6, seed: int = 0, size=(64, 48)) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, *size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- corruptions of crops ---------------------------------------------------------------------


def test_corruptions_are_deterministic_per_generator():
    crops, size = crops_like(), torch.full((6,), 40.0)
    corrupt = CropCorruptor()
    a, b, c = corrupt(crops, size, gen(3)), corrupt(crops, size, gen(3)), corrupt(crops, size, gen(4))
    assert torch.equal(a.images, b.images) and torch.equal(a.code, b.code) and torch.equal(a.chains, b.chains)
    assert not torch.equal(a.images, c.images)
    assert a.images.dtype == torch.uint8 and a.images.shape == crops.shape
    as_float = corrupt(crops.float() / 255, size, gen(3))  # float in, float out, the same corruption
    assert as_float.images.dtype == torch.float32 and float(as_float.images.min()) >= 0 and float(as_float.images.max()) <= 1
    assert (as_float.images * 255 - a.images.float()).abs().max() <= 0.5 + 1e-3


def test_kinds_are_selected_by_weight():
    crops, size = crops_like(400, size=(16, 12)), 10.0
    only = CropCorruptor({"drop": 1.0})(crops, size, gen(0))
    assert bool((only.code == DROP).all())
    flat = only.images.float().flatten(2).std(-1)  # a dropped frame is one colour and faint noise
    assert float(flat.max()) < 0.06 * 255
    mixed = CropCorruptor({"noise": 3.0, "occlude": 1.0})(crops, size, gen(1))
    share = float((mixed.code == NOISE).float().mean())
    assert set(mixed.code.tolist()) == {NOISE, OCCLUDE}
    assert abs(share - 0.75) < 0.07  # 400 draws: 3 standard deviations
    with pytest.raises(ValueError, match="unknown corruption kinds"):
        CropCorruptor({"rain": 1.0})
    with pytest.raises(ValueError, match="not all 0"):
        CropCorruptor({"noise": 0.0})


def test_strengths_follow_the_persons_size_within_the_benchmark_ranges():
    crops = crops_like(200, size=(32, 24))
    size = torch.linspace(10, 60, 200, dtype=torch.float64)
    out = CropCorruptor()(crops, size, gen(2))
    for key, name in (("blur_length", "motion_blur"), ("defocus_radius", "defocus")):
        relative = out.strength[key] / size
        low, high = STRENGTH[name]
        assert float(relative.min()) >= low - 1e-9 and float(relative.max()) <= high + 1e-9
        assert float(relative.max() - relative.min()) > 0.5 * (high - low)  # drawn across the range
    for key, name in (("noise_sigma", "noise"), ("gain", "gain")):
        assert STRENGTH[name][0] <= float(out.strength[key].min()) <= float(out.strength[key].max()) <= STRENGTH[name][1]
    radius = out.occluders[2]
    drawn = radius > 0
    width = radius[drawn] / size[:, None].expand_as(radius)[drawn]
    assert float(width.min()) >= STRENGTH["occluder_width"][0] - 1e-9
    assert float(width.max()) <= STRENGTH["occluder_width"][1] + 1e-9


def test_blur_and_noise_do_what_they_say():
    y, x = torch.meshgrid(torch.arange(64), torch.arange(48), indexing="ij")
    checks = ((y // 8 + x // 8) % 2).float().expand(1, 3, 64, 48).clone()  # edges both ways
    edge = lambda z: float((z[..., 1:, :] - z[..., :-1, :]).square().sum() + (z[..., 1:] - z[..., :-1]).square().sum())
    for kind in ("motion_blur", "defocus"):
        out = CropCorruptor({kind: 1.0})(checks, 30.0, gen(0))
        assert edge(out.images) < 0.5 * edge(checks), kind  # sharp edges spread out
    noisy = CropCorruptor({"noise": 1.0})(torch.full((1, 3, 64, 48), 0.5), 30.0, gen(0))
    sigma, gain = float(noisy.strength["noise_sigma"][0]), float(noisy.strength["gain"][0])
    residual = noisy.images - 0.5 * gain  # before clamping the noise is sigma * N(0, 1)
    inside = (noisy.images > 0) & (noisy.images < 1)
    assert abs(float(residual[inside].std()) - sigma) < 0.35 * sigma  # clamping trims the tails


def test_blur_through_the_fourier_transform_equals_the_direct_convolution():
    from tarpose.data.synthetic.corruptions import convolve, disc_kernel, line_kernel

    images = torch.rand(4, 3, 40, 30, generator=gen(0))
    kernels = [line_kernel(21.0, 0.7), disc_kernel(6.3), line_kernel(2.2, 2.0), disc_kernel(0.4)]
    torch.testing.assert_close(convolve(images, kernels, fft=True), convolve(images, kernels), rtol=0, atol=1e-5)


def test_occluders_land_over_the_given_joints():
    n = 64
    g = gen(5)
    keypoints = torch.stack([torch.rand(n, 17, generator=g) * 30 + 9, torch.rand(n, 17, generator=g) * 44 + 10], -1)
    scores = torch.ones(n, 17)
    black = torch.zeros(n, 3, 64, 48, dtype=torch.uint8)
    out = CropCorruptor({"occlude": 1.0})(black, 40.0, gen(6), keypoints, scores)
    a, b, radius = out.occluders
    assert bool((out.chains[:, 0] >= 0).all())  # the first occluder always, over a chain
    for i in range(n):
        for k in range(out.chains.shape[1]):
            chain = int(out.chains[i, k])
            if chain < 0:
                continue
            centre = keypoints[i, list(CHAINS[chain])].mean(0)  # the chain's mean point
            prims = Primitives(a[i : i + 1, k : k + 1] + 0.5, b[i : i + 1, k : k + 1] + 0.5,
                               radius[i : i + 1, k : k + 1], torch.tensor([[BOX, CAPSULE][k]]),
                               torch.zeros(1, 1, dtype=torch.float64))
            covered, _, _ = coverage((centre.double() + 0.5)[None, None], prims)
            assert float(covered) >= 0.5, (i, k)  # (the raster draws a box's inside at 0.5)
            x, y = (round(float(v)) for v in centre)
            assert bool(out.images[i, :, y, x].any()), (i, k)  # painted over the black crop
    # only chains the base is confident of: here the left arm (5, 7, 9) and its parts
    confident = torch.zeros(n, 17)
    confident[:, [5, 7, 9]] = 1.0
    only = CropCorruptor({"occlude": 1.0})(black, 40.0, gen(6), keypoints, confident)
    used = {int(c) for c in only.chains.flatten() if c >= 0}
    assert used and used <= {i for i, c in enumerate(CHAINS) if set(c) <= {5, 7, 9}}
    # no confident chain, or random placement: occluders anywhere, never over a chain
    for placement, scores in (("joints", torch.zeros(n, 17)), ("random", torch.ones(n, 17))):
        anywhere = CropCorruptor({"occlude": 1.0}, placement=placement)(black, 40.0, gen(6), keypoints, scores)
        assert bool((anywhere.chains == -1).all()) and bool(anywhere.images.flatten(1).any(1).all())


def test_corruptor_rejects_bad_input():
    corrupt = CropCorruptor()
    with pytest.raises(ValueError, match=r"crops must have 4 dims"):
        corrupt(torch.zeros(3, 64, 48, dtype=torch.uint8), 10.0, gen(0))
    with pytest.raises(TypeError, match="uint8 or float"):
        corrupt(torch.zeros(1, 3, 8, 8, dtype=torch.int32), 10.0, gen(0))
    with pytest.raises(ValueError, match="must be finite and > 0"):
        corrupt(torch.zeros(2, 3, 8, 8), torch.tensor([1.0, 0.0]), gen(0))
    with pytest.raises(ValueError, match="placement"):
        CropCorruptor(placement="anywhere")


# -- footage, cache, dataset ------------------------------------------------------------------


class Frames:
    """A synthetic video's clean frames as (H, W, 3) uint8, rendered on access."""

    def __init__(self, video: SyntheticVideo) -> None:
        self.video = video
        self.reads = 0

    def __len__(self) -> int:
        return self.video.num_frames

    def __getitem__(self, i: int) -> torch.Tensor:
        self.reads += 1
        return self.video.render([i], corrupt=False)[0][0].permute(1, 2, 0)


def synthetic_tracks(count: int = 3, frames: int = 8, first: int = 700) -> list[Track]:
    tracks = []
    for seed in range(first, first + count):
        video = SyntheticVideo(seed, frames, image_size=FRAME)
        tracks.append(Track(Frames(video), video.boxes.clone()))
    return tracks


def tiny_tar(**kw) -> tarpose.TemporalWrapper:
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17, **kw), num_frames=3, jta_depth=1)
    freeze_base(model)
    return model


def test_cache_equals_recomputation(tmp_path):
    tracks = synthetic_tracks(count=2, frames=5)
    model = tiny_tar()
    cache = WindowCache.build(model, tracks, folder=tmp_path, dtype="float32")
    assert len(cache) == 10 and cache.input_size == (64, 48) and cache.geometry == "udp"
    data = model.data_config
    for row in range(len(cache)):
        track_id, t = (int(v) for v in cache.index[row])
        track = tracks[track_id]
        frames = [max(0, min(len(track) - 1, t + d)) for d in (-1, 0, 1)]
        centre, scale = box_to_center_scale(track.boxes[t][None], 48 / 64)
        matrix = crop_matrices(centre, scale, (64, 48), geometry="udp")
        images = torch.stack([track.frame(f).float() for f in frames])
        crops = warp_crops(images, matrix.expand(3, 2, 3), (64, 48)).round().clamp(0, 255).to(torch.uint8)
        assert torch.equal(torch.from_numpy(np.array(cache["crops"][row])), crops)
        with torch.no_grad():
            features, heatmaps = model.encode(normalize_images(crops, data.mean, data.std))
        torch.testing.assert_close(torch.from_numpy(np.array(cache["features"][row])), features, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(torch.from_numpy(np.array(cache["heatmaps"][row])), heatmaps, rtol=1e-5, atol=1e-5)
        assert cache["valid"][row].tolist() == [t + d in range(len(track)) for d in (-1, 0, 1)]
        torch.testing.assert_close(torch.from_numpy(np.array(cache["matrix"][row])), matrix[0])
    # built again: found on disk, nothing encoded again, the same arrays
    calls = []
    model.encoder.register_forward_hook(lambda *_: calls.append(1))
    again = WindowCache.build(model, tracks, folder=tmp_path, dtype="float32")
    assert again.folder == cache.folder and calls == []
    assert np.array_equal(again["features"], cache["features"])
    # in memory: the same; half precision: the same to float16's precision
    memory = WindowCache.build(model, tracks, dtype="float32")
    assert memory.folder is None and np.array_equal(memory["heatmaps"], cache["heatmaps"])
    half = WindowCache.build(model, tracks, folder=tmp_path, dtype="float16")
    assert half.folder != cache.folder and half["features"].dtype == np.float16
    np.testing.assert_allclose(half["features"].astype(np.float32), cache["features"], rtol=2e-3, atol=2e-3)


def test_samples_carry_no_keypoints_and_corrupt_what_they_say():
    model = tiny_tar()
    cache = WindowCache.build(model, synthetic_tracks(count=2, frames=6), dtype="float32")
    data = UnlabelledWindows(cache, corruptor=CropCorruptor(), teacher=Teacher(), target_rate=1.0,
                             neighbour_rate=0.5, seed=3)
    for i in range(len(data)):
        sample = data[i]
        assert not {"keypoints", "visible", "visibility"} & set(sample)
        encode, valid = sample["encode"], sample["frame_valid"]
        assert bool(encode[1]) and bool((encode <= valid).all())  # the target always, never a clamped copy
        assert bool(((sample["corruption"] != 0) == encode).all())
        clean = normalize_images(torch.from_numpy(np.array(cache["crops"][i])), *_norm(model))
        changed = (sample["clip"] - clean).abs().flatten(1).amax(1) > 1e-6
        assert bool((changed <= encode).all())  # only corrupted frames differ from the cache
        torch.testing.assert_close(sample["target"], torch.from_numpy(np.array(cache["heatmaps"][i, 1])).float())
        peak = torch.from_numpy(np.array(cache["base_scores"][i, 1]))
        assert torch.equal(sample["target_weight"], (peak >= 0.1).float())
    again = UnlabelledWindows(cache, corruptor=CropCorruptor(), teacher=Teacher(), seed=3, target_rate=1.0,
                              neighbour_rate=0.5)
    assert torch.equal(again[4]["clip"], data[4]["clip"])  # a seed fixes the corruptions


def _norm(model):
    return model.data_config.mean, model.data_config.std


def test_teachers():
    g = gen(0)
    heatmaps = torch.rand(3, 17, 16, 12, generator=g)
    keypoints = torch.rand(3, 17, 2, generator=g) * torch.tensor([11.0, 15.0])
    scores = torch.rand(3, 17, generator=g)
    valid = torch.tensor([True, True, False])
    target, weight = Teacher("heatmaps", weighting="peak", floor=0.3)(heatmaps, keypoints, scores, valid, 1)
    assert torch.equal(target, heatmaps[1])
    assert torch.equal(weight, torch.where(scores[1] >= 0.3, scores[1], 0.0))
    target, weight = Teacher("keypoints")(heatmaps, keypoints, scores, valid, 1)
    peak = target.flatten(1).argmax(1)  # a Gaussian at the base's keypoint, rounded to a pixel
    assert torch.equal(torch.stack([peak % 12, peak // 12], -1), keypoints[1].round().long())
    # filtered: the median over the window's valid, confident frames (numpy's median)
    teacher = Teacher("filtered", filter="median:window=3", floor=0.0)
    for valid in (torch.tensor([True, True, True]), torch.tensor([True, True, False])):
        target, _ = teacher(heatmaps, keypoints, scores, valid, 1)
        expected = torch.from_numpy(np.median(keypoints[valid].numpy(), axis=0))
        peak = target.flatten(1).argmax(1)
        assert torch.equal(torch.stack([peak % 12, peak // 12], -1), expected.round().long())
    with pytest.raises(ValueError, match="teacher must be one of"):
        Teacher("labels")
    with pytest.raises(ValueError, match="unknown filter"):
        Teacher("filtered", filter="gauss")


def test_a_cached_step_equals_an_uncached_step():
    """The same windows and corruptions, encoded from the cache (only the corrupted frames) or
    all of them: the same loss and gradients."""
    model = tiny_tar()
    model.train()
    cache = WindowCache.build(model, synthetic_tracks(count=2, frames=6), dtype="float32")
    options = {"corruptor": CropCorruptor(), "teacher": Teacher(), "target_rate": 0.9, "neighbour_rate": 0.3, "seed": 1}
    loss_fn = HeatmapLoss("coco")
    results = []
    for cached in (True, False):
        batch = default_collate([UnlabelledWindows(cache, cached=cached, **options)[i] for i in range(8)])
        model.zero_grad()
        clip, valid = batch["clip"], batch["frame_valid"]
        if cached:
            assert 0 < int(batch["encode"].sum()) < batch["encode"].numel()
            features, heatmaps = cached_encoding(model, batch, clip, torch.device("cpu"))
            out = model(features=features, heatmaps=heatmaps, frame_valid=valid)
        else:
            out = model(clip, frame_valid=valid)
        loss = loss_fn(out, batch["target"], batch["target_weight"])
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.new_parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-7)
    assert any(float(g.abs().max()) > 0 for g in grads_a)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    # and through the training engine: the same losses step by step
    losses = {}
    for cached in (True, False):
        run_model = tiny_tar()
        data = UnlabelledWindows(cache, cached=cached, **{**options, "seed": None})
        losses[cached] = []
        train(run_model, data, AdaptConfig(steps=3, batch_size=4, warmup_steps=0).train_config(),
              on_step=lambda step, loss, cached=cached: losses[cached].append(loss), log=None)
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)


def test_cached_samples_need_a_frozen_base():
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17), num_frames=3, jta_depth=1)
    cache = WindowCache.build(model, synthetic_tracks(count=1, frames=4))
    batch = default_collate([UnlabelledWindows(cache, corruptor=CropCorruptor(), teacher=Teacher(), seed=0)[0]])
    with pytest.raises(ValueError, match="need a frozen base"):
        cached_encoding(model, batch, batch["clip"], torch.device("cpu"))


def test_holdout_blocks():
    index = torch.tensor([(0, t) for t in range(10)] + [(1, t) for t in range(6)])
    # blocks 0-4: track 0 frames 0-3, 4-7, 8-9, track 1 frames 0-3, 4-5; every second held out
    trained, held = holdout_windows(index, 0.5, 4)
    assert held == [4, 5, 6, 7, 10, 11, 12, 13]
    assert sorted(trained + held) == list(range(16))
    assert holdout_windows(index, 0.0, 4) == (list(range(16)), [])


# -- the entry point --------------------------------------------------------------------------


LABELS = ("keypoints", "visibility", "occluded", "self_occluded", "corruption", "depth", "points")


def spied(video: SyntheticVideo) -> SyntheticVideo:
    """The video, any read of one of its labels failing the test."""

    def fail(name):
        def read(self):
            pytest.fail(f"adaptation read the label {name!r} of a synthetic video")

        return property(read)

    cls = type("SpiedVideo", (SyntheticVideo,), {name: fail(name) for name in LABELS if name != "points"})
    video.__class__ = cls
    return video


class SpiedSample(dict):
    """A sample that fails the test when a keypoint field is looked up."""

    FIELDS = ("keypoints", "visible", "visibility")

    def __getitem__(self, key):
        if key in self.FIELDS:
            pytest.fail(f"the training read the sample field {key!r}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self.FIELDS:
            pytest.fail(f"the training read the sample field {key!r}")
        return super().get(key, default)


def test_adapt_reads_no_label_and_writes_a_loadable_model_with_a_card(tmp_path, monkeypatch):
    videos = [SyntheticVideo(seed, 12, image_size=FRAME) for seed in range(710, 714)]
    tracks = [Track(Frames(v), v.boxes.clone()) for v in videos]
    for video in videos:
        spied(video)
    with pytest.raises(pytest.fail.Exception):  # the spy works
        videos[0].keypoints  # noqa: B018
    getitem = UnlabelledWindows.__getitem__
    seen_keys: set[str] = set()

    def spied_getitem(self, index):
        sample = SpiedSample(getitem(self, index))
        seen_keys.update(sample)
        return sample

    monkeypatch.setattr(UnlabelledWindows, "__getitem__", spied_getitem)
    base = tiny_vitpose(num_joints=17)
    config = AdaptConfig(steps=4, batch_size=4, warmup_steps=0, temporal=tarpose.TARConfig(num_frames=3, jta_depth=1),
                         holdout=0.25, holdout_block=6, log_every=2, save_every=2)
    lines: list[str] = []
    model = adapt(base, tracks, tmp_path / "run", config, log=lines.append)
    assert seen_keys and not seen_keys & set(SpiedSample.FIELDS)
    assert isinstance(model, tarpose.TemporalWrapper) and model.freeze_base
    loaded = tarpose.load_model(tmp_path / "run")
    assert isinstance(loaded, tarpose.TemporalWrapper) and loaded.config == config.temporal
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.cpu())
    renamed = {"backbone.": "encoder.", "keypoint_head.": "decoder."}
    for key, value in base.state_dict().items():  # the base did not move
        prefix = next(p for p in renamed if key.startswith(p))
        assert torch.equal(loaded.state_dict()[renamed[prefix] + key[len(prefix):]], value), key
    report = json.loads((tmp_path / "run" / "adapt.json").read_text())
    card = (tmp_path / "run" / "README.md").read_text()
    assert "## Label-free adaptation" in card and card.index("## Label-free") < card.index("## Citation")
    assert report["footage"]["sha256"][:16] in card and report["base"]["sha256"][:16] in card
    before, after = report["self_consistency"]["before"], report["self_consistency"]["after"]
    assert before["clean"] == 100.0  # the untrained wrapper is the base
    assert after["windows"] == before["windows"] == 12 and 0 <= after["corrupted"] <= 100
    assert f"| corrupted target frame | {before['corrupted']:.2f} | {after['corrupted']:.2f} |" in card
    assert report["steps"] == 4 and report["seconds_per_step"] > 0
    assert any("self-consistency after adaptation" in line for line in lines)


def test_self_consistency_of_the_base_is_its_agreement_with_itself():
    model = tiny_tar()
    cache = WindowCache.build(model, synthetic_tracks(count=2, frames=6), dtype="float32")
    result = self_consistency(model, cache, list(range(len(cache))), CropCorruptor({"drop": 1.0}), seed=0)
    assert result["clean"] == 100.0 and result["windows"] == 12
    assert result["corrupted"] < 100.0 and set(result["by_kind"]) == {"drop"}
    assert math.isclose(result["by_kind"]["drop"], result["corrupted"])


def test_adapt_resumes_bit_for_bit(tmp_path):
    tracks = synthetic_tracks(count=2, frames=8, first=720)
    config = AdaptConfig(steps=6, batch_size=4, warmup_steps=2, temporal=tarpose.TARConfig(num_frames=3, jta_depth=1),
                         holdout=0.0, save_every=2, log_every=1, seed=4)
    reference = adapt(tiny_vitpose(num_joints=17), tracks, tmp_path / "a", config, log=None)

    def crash(step, loss):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapt(tiny_vitpose(num_joints=17), tracks, tmp_path / "b", config, on_step=crash, log=None)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.safetensors").info["step"] == 4
    with pytest.raises(FileExistsError, match="resume it"):
        adapt(tiny_vitpose(num_joints=17), tracks, tmp_path / "b", config, log=None)
    with pytest.raises(ValueError, match="cannot resume"):  # other corruptions: another run
        adapt(tiny_vitpose(num_joints=17), tracks, tmp_path / "b",
              AdaptConfig(**{**vars(config), "kinds": {"noise": 1.0}}), resume=True, log=None)
    resumed = adapt(tiny_vitpose(num_joints=17), tracks, tmp_path / "b", config, resume=True, log=None)
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    log = lambda run: [json.loads(line)["loss"] for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
    assert log("a") == log("b")


def test_adapt_rejects_bad_input(tmp_path):
    tracks = synthetic_tracks(count=1, frames=4)
    base = tiny_vitpose(num_joints=17)
    config = AdaptConfig(steps=1, temporal=tarpose.TARConfig(num_frames=3, jta_depth=1))
    cases = [
        ([], base, config, ValueError, "no tracks given"),
        ([(tracks[0].frames, torch.zeros(4, 5))], base, config, ValueError, r"boxes must be \(F, 4\)"),
        ([(tracks[0].frames, tracks[0].boxes[:3])], base, config, ValueError, "has 4 frames but 3 boxes"),
        ([(tracks[0].frames, tracks[0].boxes * torch.tensor([1, 1, 0, 1]))], base, config, ValueError,
         "positive width and height"),
        (tracks, torch.nn.Linear(3, 3), config, ValueError, "not a ViTPose-style model"),
        (tracks, tiny_tar(), config, ValueError, "already a TemporalWrapper"),
        (tracks, base, AdaptConfig(steps=1, temporal=tarpose.TARConfig(num_frames=5, jta_depth=1)), ValueError,
         "every track is shorter than 5 frames"),
        ([(np.zeros((4, 96, 128, 3), np.float32), tracks[0].boxes)], base, config, ValueError,
         r"frame 0 must be an RGB uint8 image \(H, W, 3\)"),
    ]
    for i, (given, model, cfg, error, message) in enumerate(cases):
        with pytest.raises(error, match=message):
            adapt(model, given, tmp_path / f"run{i}", cfg, log=None)
    for bad, message in (({"target_rate": 1.5}, "target_rate"), ({"kinds": {"fog": 1.0}}, "unknown corruption"),
                         ({"teacher": "labels"}, "teacher must be"), ({"holdout": 1.0}, "holdout"),
                         ({"cache_dtype": "int8"}, "cache_dtype")):
        with pytest.raises(ValueError, match=message):
            AdaptConfig(**bad)
    # a short track among longer ones is left out, with a note
    lines: list[str] = []
    short = synthetic_tracks(count=1, frames=2, first=730) + synthetic_tracks(count=1, frames=4, first=731)
    cache = WindowCache.build(tiny_tar(), as_tracks(short), log=lines.append)
    assert cache.index[:, 0].unique().tolist() == [1] and any("left out 1 track" in line for line in lines)
    assert set(KINDS) >= set(config.kinds)


@pytest.mark.slow
def test_two_gloo_processes_adapt_as_one_process_with_the_global_batch(tmp_path):
    """torchrun, 2 CPU processes x 2 windows == 1 process x 4 windows: rank 0 builds the window
    cache while the other waits, the same corruptions are drawn whatever the rank."""
    import os
    import subprocess
    import sys

    from conftest import ROOT
    from safetensors.torch import load_file

    tests = ROOT / "tests"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tests)]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(tests / "ddp_adapt_worker.py"), str(tmp_path), "2", "ddp"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    from ddp_adapt_worker import run

    single = run(str(tmp_path), 4, "single")
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one cache, built once, shared
    initial = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17), tarpose.TARConfig(num_frames=3, jta_depth=1))
    assert any(not torch.equal(single[k], v) for k, v in initial.state_dict().items())  # it trained
    for key in single:
        assert torch.equal(rank0[key], rank1[key]), key
        torch.testing.assert_close(rank0[key], single[key], atol=2e-5, rtol=1e-4)
    assert (tmp_path / "ddp" / "model.safetensors").exists()

"""The bundled demo models, `tarpose demo`, the gain benchmark and the script that trains them."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from conftest import ROOT
from safetensors import safe_open

import tarpose
from tarpose.cli import main
from tarpose.demo.pictures import caption
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.demo import (
    ASSETS,
    DEMO_MODELS,
    FILTER_CANDIDATES,
    FILTERED,
    SINGLE,
    SPEED_EDGES,
    TEMPORAL,
    VideoPredictions,
    apply_filters,
    compare,
    frame_speed,
    predict_video,
    select_filter,
    speed_buckets,
)
from tarpose.eval import bbox_size, pck
from tarpose.filters import build_filter

KEYS = {"pck_clean", "pck_corrupted", "pck_all", "ap_clean", "ap_corrupted", "ap_all", "jitter"}


@pytest.fixture(scope="module")
def models():
    return tarpose.load_model("vitpose-demo"), tarpose.load_model("tar-vitpose-demo")


def test_bundled_weights_are_small_and_load_strictly(models):
    single, temporal = models
    assert isinstance(single, tarpose.ViTPose) and isinstance(temporal, tarpose.TemporalWrapper)
    for name in DEMO_MODELS:
        path = ASSETS / name / "model.safetensors"
        assert path.stat().st_size < 6e6  # a few MB
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
        config = json.loads((ASSETS / name / "config.json").read_text())
        assert config["name"] == name  # the directory says how to rebuild it (tarpose.load_model)
        assert keys == set(tarpose.create_model(name).state_dict())
    assert temporal.num_frames == 5 and not temporal.training
    # a registered name loads its weights; an architecture without any says how to build it
    with pytest.raises(ValueError, match=r"'vitpose-s' is an architecture without pretrained weights: "
                                         r"tarpose.create_model\('vitpose-s'\)"):
        tarpose.load_model("vitpose-s")


@pytest.mark.slow
def test_temporal_model_beats_the_single_frame_one_on_corrupted_frames(models):
    """Measured here, on held-out videos (test-split seeds): TAR is clearly better on corrupted
    frames and no worse on clean ones."""
    single, temporal = models
    videos = [SyntheticVideo(seed, 24, corruption=0.5) for seed in split_seeds("test", 3, first_video=500)]
    with torch.inference_mode():
        scores = compare([predict_video(v, single, temporal) for v in videos])
    s, t = scores[SINGLE], scores[TEMPORAL]
    assert t["pck_corrupted"] > s["pck_corrupted"] + 2
    assert t["pck_clean"] > s["pck_clean"] - 3


def test_predict_video_matches_running_the_models_on_the_dataset(models):
    """The demo's predictions are the models' outputs on the dataset's own windows."""
    from tarpose.codec import decode_heatmaps, heatmap_to_image
    from tarpose.data.synthetic import SyntheticPoseDataset

    single, temporal = models
    assert single.data_config.geometry == temporal.data_config.geometry == "biased"  # what their config records
    ds = SyntheticPoseDataset("demo", num_videos=1, video_length=6, num_frames=5, corruption=0.5, geometry="biased")
    with torch.inference_mode():
        result = predict_video(ds.video(0), single, temporal, batch_size=4)
        for t in (0, 3, 5):
            s = ds[t]
            heat = temporal(s["clip"][None], frame_valid=s["frame_valid"][None])
            coords, _ = decode_heatmaps(heat)
            expected = heatmap_to_image(coords, s["matrix"][None], (128, 96), (32, 24), "biased")[0].float()
            assert torch.allclose(result.predictions[TEMPORAL][t], expected, atol=1e-3)
            heat = single(s["clip"][None, 2])
            coords, _ = decode_heatmaps(heat)
            expected = heatmap_to_image(coords, s["matrix"][None], (128, 96), (32, 24), "biased")[0].float()
            assert torch.allclose(result.predictions[SINGLE][t], expected, atol=1e-3)
    assert torch.equal(result.keypoints, ds.video(0).keypoints)


def test_demo_command_end_to_end(tmp_path, capsys, models):
    av = pytest.importorskip("av")
    out = tmp_path / "demo"
    code = main(["demo", "--frames", "10", "--seed", "3", "--val-videos", "1", "--out", str(out),
                 "--json", str(tmp_path / "r.json")])
    assert code == 0
    printed = capsys.readouterr().out
    for label in ("single-frame", "single + filter", "TAR (temporal)", "TAR + filter", "PCK@0.05", "by motion speed"):
        assert label in printed
    scores = json.loads((tmp_path / "r.json").read_text())
    rows = [SINGLE, SINGLE + FILTERED, TEMPORAL, TEMPORAL + FILTERED]
    assert list(scores) == [*rows, "filters", "latency_frames"]
    # the filters were chosen on the validation split, the numbers are those of the clip, computed here
    with torch.inference_mode():
        val = [predict_video(SyntheticVideo(split_seeds("val", 1)[0], 32, corruption=0.3), *models)]
        chosen = {m: select_filter(val, m).filter for m in (SINGLE, TEMPORAL)}
        video = SyntheticVideo(split_seeds("demo", 1, 3)[0], 10, corruption=0.3)
        expected = compare([predict_video(video, *models, filters=chosen)], kinds=True, speeds=True)
    for model in (SINGLE, TEMPORAL):
        assert scores["filters"][model]["spec"] == chosen[model].spec()
    # frames each row waits for: the centred window's look-ahead (2) plus its filter's half-window
    assert scores["latency_frames"] == {SINGLE: 0, SINGLE + FILTERED: chosen[SINGLE].latency, TEMPORAL: 2,
                                        TEMPORAL + FILTERED: 2 + chosen[TEMPORAL].latency}
    for model in rows:
        assert KEYS | {"pck_slow", "pck_fast", "pck_occlude"} <= set(scores[model])
        for key in expected[model]:
            assert scores[model][key] == pytest.approx(expected[model][key], nan_ok=True), (model, key)
    with av.open(str(out / "demo.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    h, w = video.image_size
    band = caption(8, [("X", (0, 0, 0))]).shape[0]  # a title over each side, a legend under both
    zoom = (frames[0].shape[0] - 2 * band) // h  # the frames are enlarged by a whole factor
    assert len(frames) == 10 and frames[0].shape[0] == zoom * h + 2 * band and frames[0].shape[1] >= 2 * zoom * w
    png = (out / "contact_sheet.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_command_without_pyav_still_writes_the_contact_sheet(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # the core install: no video extra
    assert main(["demo", "--frames", "6", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert 'pip install "tarpose[video]"' in printed and "TAR (temporal)" in printed
    assert (tmp_path / "contact_sheet.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "demo.mp4").exists()


def test_demo_command_rejects_bad_options(capsys):
    assert main(["demo", "--frames", "2", "--no-video"]) == 2
    assert "--frames" in capsys.readouterr().err
    assert main(["demo", "--corruption", "1.5", "--no-video"]) == 2
    assert main(["demo", "--seed", "-1", "--no-video"]) == 2


def test_gain_benchmark_smoke(tmp_path, models):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_demo_gain.py"), "--videos", "1", "--val-videos", "1",
         "--frames", "8", "--threads", "1", "--json", str(tmp_path / "gain.json")],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "PCK@0.05 corrupted" in result.stdout and "TAR+filt" in result.stdout
    scores = json.loads((tmp_path / "gain.json").read_text())
    for model in (SINGLE, SINGLE + FILTERED, TEMPORAL, TEMPORAL + FILTERED):
        assert KEYS | {"pck_slow", "pck_medium_clean", "pck_fast_corrupted", "pck_drop"} <= set(scores[model])
    # the filters come from the validation split (video 0 of "val"), not from the test video
    assert scores["selection"]["videos"] == [split_seeds("val", 1).start, split_seeds("val", 1).stop]
    with torch.inference_mode():
        val = [predict_video(SyntheticVideo(split_seeds("val", 1)[0], 8, corruption=0.3), *models)]
    for model in (SINGLE, TEMPORAL):
        assert scores["filters"][model]["spec"] == select_filter(val, model).filter.spec()
    assert scores["threads"] == 1


def test_frame_speed_of_a_constant_translation():
    """A pose sliding 3 px right and 4 px down per frame in a 50-px-tall box moves 5 px = 10% of
    the box per frame, at every frame (the ends use one-sided differences)."""
    from tarpose.demo import frame_speed

    base = torch.rand(17, 2) * 40
    keypoints = base + torch.arange(6.0)[:, None, None] * torch.tensor([3.0, 4.0])  # (6, 17, 2)
    boxes = torch.tensor([[0.0, 0.0, 20.0, 50.0]]).repeat(6, 1)
    assert torch.allclose(frame_speed(keypoints, boxes), torch.full((6,), 10.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="F >= 2"):
        frame_speed(keypoints[:1], boxes[:1])


def test_speed_buckets_partition_the_frames(models):
    """Every frame falls in exactly one speed bucket, so PCK over all frames is the bucket PCKs
    weighted by their labelled joints."""
    from tarpose.demo import frame_speed, speed_buckets

    videos = [SyntheticVideo(seed, 12, corruption=0.3) for seed in split_seeds("test", 2, first_video=40)]
    with torch.inference_mode():
        results = [predict_video(v, *models) for v in videos]
    scores = compare(results, speeds=True)
    buckets = speed_buckets(torch.cat([frame_speed(r.keypoints, r.boxes) for r in results]))
    joints = torch.cat([r.visible for r in results]).sum(-1)
    for model in (SINGLE, TEMPORAL):
        total, count = 0.0, 0
        for name, sel in buckets.items():
            n = int(joints[sel].sum())
            if n:
                total += scores[model][f"pck_{name}"] * n
                count += n
        assert count == int(joints.sum())
        assert total / count == pytest.approx(scores[model]["pck_all"])

# ------------------------------------------------------------------ filters in the comparison


def fake_video(seed: int, frames: int = 24, corrupted=(), outlier: float = 40.0) -> VideoPredictions:
    """A figure translating at a varying speed; the "single-frame" prediction is the truth plus
    small noise and a large error on the corrupted frames, the "temporal" one the truth plus
    noise everywhere."""
    g = torch.Generator().manual_seed(seed)
    speed = torch.linspace(0.2, 4.0, frames)  # px per frame, accelerating
    path = torch.cumsum(speed, 0)
    base = torch.rand(17, 2, generator=g) * 40 + 30
    truth = base + torch.stack([path, 0.5 * path], -1)[:, None, :]  # (F, 17, 2)
    bad = torch.zeros(frames, dtype=torch.bool)
    bad[list(corrupted)] = True
    noisy = truth + torch.randn(frames, 17, 2, generator=g)
    single = noisy + bad[:, None, None] * outlier * torch.randn(frames, 17, 2, generator=g).sign()
    boxes = torch.cat([truth.amin(1) - 10, torch.full((frames, 2), 100.0)], -1)  # (F, 4), longer side 100
    return VideoPredictions(
        predictions={SINGLE: single, TEMPORAL: truth + 0.8 * torch.randn(frames, 17, 2, generator=g)},
        scores={SINGLE: torch.where(bad[:, None], 0.2, 0.9).expand(frames, 17).clone(),
                TEMPORAL: torch.full((frames, 17), 0.8)},
        keypoints=truth, visible=torch.ones(frames, 17, dtype=torch.bool), boxes=boxes,
        areas=torch.full((frames,), 5000.0), corrupted=bad, corruption=bad.int() * 16,
    )


def test_apply_filters_adds_each_models_filtered_track():
    video = fake_video(0, corrupted=(5, 11))
    out = apply_filters(video, {SINGLE: "median:window=5", TEMPORAL: "mean:window=3"})
    assert list(out.predictions) == [SINGLE, SINGLE + FILTERED, TEMPORAL, TEMPORAL + FILTERED]
    torch.testing.assert_close(out.predictions[SINGLE + FILTERED], build_filter("median")(video.predictions[SINGLE]))
    mean = build_filter("mean:window=3")(video.predictions[TEMPORAL], video.scores[TEMPORAL])
    torch.testing.assert_close(out.predictions[TEMPORAL + FILTERED], mean)
    assert torch.equal(out.scores[SINGLE + FILTERED], video.scores[SINGLE])
    assert out.filters[SINGLE + FILTERED] == build_filter("median:window=5")
    assert list(video.predictions) == [SINGLE, TEMPORAL]  # the input is left alone
    with pytest.raises(ValueError, match="no predictions of"):
        apply_filters(video, {"other": "median"})


def test_select_filter_maximises_the_metric_over_the_candidates():
    videos = [fake_video(k, corrupted=(3, 9, 10, 17)) for k in range(3)]
    choice = select_filter(videos, SINGLE, metric="pck_all")
    assert choice.score == max(choice.scores.values()) and set(choice.scores) == {
        build_filter(c).spec() for c in FILTER_CANDIDATES}
    # every candidate's score is what compare says of its filtered tracks
    for spec in ("median:window=5,causal=false", choice.filter.spec()):
        rows = compare([apply_filters(v, {SINGLE: spec}) for v in videos])
        assert choice.scores[spec] == pytest.approx(rows[SINGLE + FILTERED]["pck_all"])
    assert choice.unfiltered == pytest.approx(compare(videos)[SINGLE]["pck_all"])
    assert choice.score > choice.unfiltered + 10  # the outliers are isolated frames: a filter removes them
    # a metric of its own, and the first of equal candidates
    ap = select_filter(videos, TEMPORAL, candidates=["median:window=3", "mean:window=3"], metric="ap_clean")
    assert ap.metric == "ap_clean" and set(ap.scores) == {"median:window=3,causal=false", "mean:window=3,causal=false"}
    same = select_filter(videos, SINGLE, candidates=["median:window=3", "median:window=3,causal=false"])
    assert same.filter.spec() == "median:window=3,causal=false" and len(same.scores) == 1
    with pytest.raises(ValueError, match="metric"):
        select_filter(videos, SINGLE, metric="jitter")


def test_frame_speed_and_buckets():
    video = fake_video(1)
    speed = frame_speed(video.keypoints, video.boxes)
    # the figure moves (s, s/2) px per frame with a box of longer side 100: speed = |(s, s/2)| %
    s = torch.linspace(0.2, 4.0, 24).double()
    step = torch.cat([s[1:2], (s[1:-1] + s[2:]) / 2, s[-1:]])  # central differences of the cumulative path
    torch.testing.assert_close(speed, step * math.sqrt(1.25), rtol=1e-5, atol=1e-6)
    buckets = speed_buckets(speed)
    assert torch.equal(buckets["slow"] ^ buckets["medium"] ^ buckets["fast"], torch.ones(24, dtype=torch.bool))
    assert bool(speed[buckets["fast"]].min() >= SPEED_EDGES[1]) and bool(speed[buckets["slow"]].max() < SPEED_EDGES[0])
    rows = compare([video], speeds=True)
    norm = bbox_size(video.boxes)
    for name, sel in buckets.items():
        expected = 100 * pck(video.predictions[SINGLE][sel], video.keypoints[sel], video.visible[sel], norm[sel])
        assert rows[SINGLE][f"pck_{name}"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="F >= 2"):
        frame_speed(video.keypoints[:1], video.boxes[:1])


@pytest.mark.slow
def test_speed_edges_are_the_terciles_of_the_validation_split():
    """SPEED_EDGES as documented: the terciles of 256 validation videos x 32 frames, rounded."""
    speeds = torch.cat([
        frame_speed(v.keypoints, v.boxes)
        for v in (SyntheticVideo(seed, 32, corruption=0.3) for seed in split_seeds("val", 256))
    ])
    terciles = torch.quantile(speeds, torch.tensor([1 / 3, 2 / 3], dtype=speeds.dtype))
    assert terciles.tolist() == pytest.approx(list(SPEED_EDGES), abs=0.05)

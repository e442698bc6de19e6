"""The bundled demo models, `tarpose demo`, the gain benchmark and the script that trains them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import ROOT
from safetensors import safe_open

import tarpose
from tarpose.cli import main
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.demo import (
    ASSETS,
    DEMO_WEIGHTS,
    SINGLE,
    TEMPORAL,
    compare,
    load_demo_model,
    load_demo_models,
    predict_video,
)

KEYS = {"pck_clean", "pck_corrupted", "pck_all", "ap_clean", "ap_corrupted", "ap_all", "jitter"}


@pytest.fixture(scope="module")
def models():
    return load_demo_models()


def test_bundled_weights_are_small_and_load_strictly(models):
    single, temporal = models
    assert isinstance(single, tarpose.ViTPose) and isinstance(temporal, tarpose.TemporalWrapper)
    for name, directory in DEMO_WEIGHTS.items():
        path = ASSETS / directory / "model.safetensors"
        assert path.stat().st_size < 6e6  # a few MB
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
        config = json.loads((ASSETS / directory / "config.json").read_text())
        assert config["name"] == name  # the directory says how to rebuild it (tarpose.load_model)
        assert keys == set(tarpose.create_model(name).state_dict())
    assert temporal.num_frames == 5 and not temporal.training
    with pytest.raises(ValueError, match="unknown demo model"):
        load_demo_model("vitpose-b")


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
    ds = SyntheticPoseDataset("demo", num_videos=1, video_length=6, num_frames=5, corruption=0.5)
    with torch.inference_mode():
        result = predict_video(ds.video(0), single, temporal, batch_size=4)
        for t in (0, 3, 5):
            s = ds[t]
            heat = temporal(s["clip"][None], frame_valid=s["frame_valid"][None])
            coords, _ = decode_heatmaps(heat)
            expected = heatmap_to_image(coords, s["matrix"][None], (128, 96), (32, 24))[0].float()
            assert torch.allclose(result.predictions[TEMPORAL][t], expected, atol=1e-3)
            heat = single(s["clip"][None, 2])
            coords, _ = decode_heatmaps(heat)
            expected = heatmap_to_image(coords, s["matrix"][None], (128, 96), (32, 24))[0].float()
            assert torch.allclose(result.predictions[SINGLE][t], expected, atol=1e-3)
    assert torch.equal(result.keypoints, ds.video(0).keypoints)


def test_demo_command_end_to_end(tmp_path, capsys, models):
    av = pytest.importorskip("av")
    out = tmp_path / "demo"
    code = main(["demo", "--frames", "10", "--seed", "3", "--out", str(out), "--json", str(tmp_path / "r.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "single-frame" in printed and "TAR (temporal)" in printed and "PCK@0.05" in printed
    scores = json.loads((tmp_path / "r.json").read_text())
    assert set(scores) == {SINGLE, TEMPORAL}
    assert KEYS <= set(scores[SINGLE]) and KEYS <= set(scores[TEMPORAL])
    # the numbers are the comparison of the same clip, computed here
    video = SyntheticVideo(split_seeds("demo", 1, 3)[0], 10, corruption=0.3)
    with torch.inference_mode():
        expected = compare([predict_video(video, *models)])
    for model in (SINGLE, TEMPORAL):
        for key in KEYS:
            assert scores[model][key] == pytest.approx(expected[model][key], nan_ok=True), (model, key)
    with av.open(str(out / "demo.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    h, w = video.image_size
    zoom = frames[0].shape[0] // h  # the frames are enlarged by a whole factor
    assert len(frames) == 10 and frames[0].shape[0] == zoom * h and frames[0].shape[1] >= 2 * zoom * w
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


def test_gain_benchmark_smoke(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_demo_gain.py"), "--videos", "1", "--frames", "8",
         "--json", str(tmp_path / "gain.json")],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "PCK@0.05 corrupted" in result.stdout and "gain" in result.stdout
    scores = json.loads((tmp_path / "gain.json").read_text())
    assert KEYS <= set(scores[TEMPORAL])

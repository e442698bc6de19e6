"""`tarpose predict` end to end: a video the test writes, real footage, and every kind of bad input."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import tarpose
from conftest import ROOT, SHARED, tiny_vitpose
from reference_tar import activate_temporal_
from tarpose.cli import main
from tarpose.inference import SingleFrameModel, StreamingPredictor
from tarpose.io import VideoReader, VideoWriter
from test_topdown import BlobDecoder, BlobEncoder, blob_frame

pytest.importorskip("av")

VTEST = SHARED / "data" / "vtest.avi"
TINY = "tiny-tar-test"  # a 17-joint tiny TemporalWrapper (T=3), loadable by name in these tests
BLOB = "blob-tar-test"  # a model that finds a bright blob (see test_topdown)


def _tiny(**_: object) -> tarpose.TemporalWrapper:
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17), num_frames=3, jta_depth=1)
    return activate_temporal_(model, torch.Generator().manual_seed(0)).eval()


def _blob(**_: object) -> tarpose.TemporalWrapper:
    encoder = BlobEncoder()
    encoder.input_size = (64, 48)
    model = tarpose.TemporalWrapper(encoder=encoder, decoder=BlobDecoder(), num_frames=3, dim=8,
                                    num_joints=17, jta_depth=1, heatmap_stride=1)  # heatmaps at token size
    model.input_size = (64, 48)
    return model.eval()


@contextlib.contextmanager
def registered_test_models(**more: Callable[[], torch.nn.Module]) -> Iterator[None]:
    """TINY and BLOB (and ``more``: name -> builder) loadable by name for the duration:
    ``tarpose predict --model TINY`` (and PoseInferencer) get them as ``tarpose.load_model`` would
    a trained model; other sources load as usual."""
    from tarpose.inference import source

    real = source.load_model
    models = {TINY: _tiny, BLOB: _blob, **more}

    def load(name, **kwargs):
        return models[name]() if name in models else real(name, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(source, "load_model", load)
        yield


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with registered_test_models():
        yield


def leftovers(directory: Path) -> list[str]:
    """Temporary files an output writer left behind."""
    return sorted(p.name for p in directory.iterdir() if ".partial" in p.name)


def blob_video(path: Path, n: int = 10) -> list[tuple[float, float]]:
    """A video of a bright blob moving along a line; returns the blob's centre per frame."""
    points = [(40.0 + 6.3 * t, 50.0 + 2.1 * t) for t in range(n)]
    with VideoWriter(path, fps=10) as writer:
        for p in points:
            writer.write(blob_frame(p, size=(120, 160), sigma=6.0))
    return points


def test_predict_finds_the_blob_in_a_video_it_wrote(tmp_path, capsys):
    video = tmp_path / "blob.mp4"
    points = blob_video(video)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([
        {"frame": t, "bbox": [x - 22.0, y - 30.0, 44.0, 60.0], "track_id": 5} for t, (x, y) in enumerate(points)
    ]))
    out, render = tmp_path / "keypoints.json", tmp_path / "overlay.mp4"
    code = main(["predict", str(video), "--model", BLOB, "--boxes", str(boxes), "--out", str(out),
                 "--render", str(render), "--quiet"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["width"] == 160 and doc["height"] == 120 and doc["mode"] == "centred"
    assert doc["keypoint_names"][0] == "nose" and len(doc["predictions"]) == len(points)
    for record, (x, y) in zip(doc["predictions"], points):
        assert record["track_id"] == 5
        keypoints = np.array(record["keypoints"])  # (17, 3): x, y, score
        assert keypoints.shape == (17, 3)
        # through H.264 compression, the crop, the heatmap and back: within half a pixel
        assert np.abs(keypoints[:, :2] - [x, y]).max() < 0.5
    with VideoReader(render) as rendered:
        frames = list(rendered)
    assert len(frames) == len(points) and frames[0].shape == (120, 160, 3)
    with VideoReader(video) as original:
        first = next(iter(original))
    assert np.abs(frames[0].astype(int) - first.astype(int)).max() > 100  # a skeleton is drawn
    assert leftovers(tmp_path) == []
    assert "10 frames, 10 poses" in capsys.readouterr().err


def test_predict_flip_causal_exact_and_tracking(tmp_path, capsys):
    """The options run, and --boxes without track ids are linked by the tracker."""
    video = tmp_path / "blob.mp4"
    points = blob_video(video, n=6)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([
        {"frame": t, "bbox": [x - 22.0, y - 30.0, 44.0, 60.0]} for t, (x, y) in enumerate(points)
    ] + [{"frame": t, "bbox": [5.0, 5.0, 30.0, 40.0]} for t in range(6)]))
    for extra in (["--flip"], ["--exact"], []):
        out = tmp_path / "k.json"
        assert main(["predict", str(video), "--model", TINY, "--boxes", str(boxes), "--out", str(out),
                     "--quiet", *extra]) == 0, capsys.readouterr().err
        records = json.loads(out.read_text())["predictions"]
        assert len(records) == 12 and {r["track_id"] for r in records} == {0, 1}
        first = {r["track_id"]: r["bbox"][0] for r in records if r["frame"] == 0}
        assert all(r["bbox"][0] == first[r["track_id"]] for r in records if r["bbox"][0] == 5.0)
    code = main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--causal", "--quiet"])
    assert code == 2 and "target='last'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not VTEST.exists(), reason="../shared/data/vtest.avi is not here")
def test_predict_on_real_footage(tmp_path, capsys):
    """vtest.avi (MS-MPEG4, 768x576): 60 frames with the pedestrians' boxes of
    tests/data/vtest_boxes.json (background subtraction, checked by eye; no track ids: the IoU
    tracker links them)."""
    boxes = ROOT / "tests" / "data" / "vtest_boxes.json"
    out, render = tmp_path / "vtest.json", tmp_path / "vtest.mp4"
    code = main(["predict", str(VTEST), "--model", TINY, "--boxes", str(boxes), "--out", str(out),
                 "--render", str(render), "--max-frames", "60", "--quiet"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    given = [r for r in json.loads(boxes.read_text()) if r["frame"] < 60]
    records = doc["predictions"]
    assert len(records) == len(given) and {r["frame"] for r in records} == set(range(60))
    # several people tracked for a long stretch each
    lengths = {}
    for r in records:
        lengths[r["track_id"]] = lengths.get(r["track_id"], 0) + 1
    assert sum(n >= 20 for n in lengths.values()) >= 3
    for r in records:  # keypoints lie on the heatmap of their box's padded crop region
        x, y, w, h = r["bbox"]
        side = max(w, h * 0.75) * 1.25 / 2, max(w / 0.75, h) * 1.25 / 2
        # UDP: the 12 x 16 heatmap's outer pixel centres lie on the region's edges
        beyond = side[0] / 11, side[1] / 15  # half a heatmap pixel
        k = np.array(r["keypoints"])
        assert np.isfinite(k).all()
        assert (np.abs(k[:, 0] - (x + w / 2)) <= side[0] + beyond[0] + 1e-3).all()  # 3 decimals
        assert (np.abs(k[:, 1] - (y + h / 2)) <= side[1] + beyond[1] + 1e-3).all()
    with VideoReader(render) as rendered:
        assert rendered.width == 768 and rendered.height == 576
        assert sum(1 for _ in rendered) == 60


def test_predict_output_equals_the_library(tmp_path, capsys):
    """The command's keypoints are StreamingPredictor's on the decoded frames."""
    video = tmp_path / "blob.mp4"
    points = blob_video(video, n=5)
    out = tmp_path / "k.json"
    assert main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--quiet"]) == 0
    with VideoReader(video) as reader:
        frames = list(reader)
    expected = list(StreamingPredictor(_tiny()).run((f, [[0, 0, 160, 120]], [0]) for f in frames))
    records = json.loads(out.read_text())["predictions"]
    assert len(records) == len(points)
    for record, poses in zip(records, expected):
        got = np.array(record["keypoints"])
        np.testing.assert_allclose(got[:, :2], poses.keypoints[0].numpy(), atol=2e-3)
        np.testing.assert_allclose(got[:, 2], poses.scores[0].numpy(), atol=1e-4)


@pytest.mark.parametrize("spec,latency", [("savgol:window=5,order=2", 2), ("one-euro:beta=0.1", 0)])
def test_predict_smoothing_records_the_filter_and_equals_the_library(spec, latency, tmp_path, capsys):
    from tarpose.filters import build_filter

    video = tmp_path / "blob.mp4"
    blob_video(video, n=7)
    out = tmp_path / "k.json"
    assert main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--quiet",
                 "--filter", spec]) == 0
    document = json.loads(out.read_text())
    smooth = build_filter(spec, fps=document["fps"])  # one-euro's frame rate: the video's (10)
    assert document["filter"] == smooth.describe() and document["filter"]["latency_frames"] == latency
    assert document["latency_frames"] == 1 + latency  # the model's look-ahead (T=3) plus the filter's
    if smooth.name == "one-euro":
        assert smooth.fps == 10.0
    with VideoReader(video) as reader:
        frames = list(reader)
    expected = list(StreamingPredictor(_tiny(), keypoint_filter=smooth).run((f, [[0, 0, 160, 120]], [0]) for f in frames))
    raw = list(StreamingPredictor(_tiny()).run((f, [[0, 0, 160, 120]], [0]) for f in frames))
    records = document["predictions"]
    assert [r["frame"] for r in records] == list(range(7))
    for record, poses, plain in zip(records, expected, raw):
        np.testing.assert_allclose(np.array(record["keypoints"])[:, :2], poses.keypoints[0].numpy(), atol=2e-3)
    assert max(float((p.keypoints - r.keypoints).abs().max()) for p, r in zip(expected, raw)) > 1e-2
    assert main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["filter"] is None


def test_predict_help_states_the_smoothing_latency(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--filter" in text and "W//2 frames of latency" in text and "--causal accepts only" in text


def _fails(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    out = tmp_path / "out.json"
    code = main(["predict", *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists() and leftovers(tmp_path) == []


def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    blob_video(video, n=3)
    junk = tmp_path / "junk.mp4"
    junk.write_text("this is not a video\n")
    model = ["--model", TINY]
    _fails(tmp_path, capsys, [str(tmp_path / "missing.avi"), *model, "--full-frame"], "does not exist")
    _fails(tmp_path, capsys, [str(junk), *model, "--full-frame"], "cannot read video")
    _fails(tmp_path, capsys, [str(tmp_path), *model, "--full-frame"], "holds no images")
    _fails(tmp_path, capsys, [str(video), "--model", "no-such-model", "--full-frame"], "no such checkpoint")
    cases = {
        "{not json": "not valid JSON",
        '{"frame": 0}': "must hold a list",
        '[{"frame": 0, "bbox": [1, 2, 3]}]': '"bbox" must be [x, y, w, h]',
        '[{"frame": 0, "bbox": [1, 2, 0, 5]}]': '"bbox" must be [x, y, w, h]',
        '[{"frame": -1, "bbox": [1, 2, 3, 4]}]': '"frame" must be an integer',
        '[{"frame": 0, "bbox": [1, 2, 3, 4], "track_id": 1}, {"frame": 0, "bbox": [1, 2, 3, 4]}]': "for every record or for none",
        '[{"frame": 0, "bbox": [1, 2, 3, 4], "track_id": 1}, {"frame": 0, "bbox": [1, 2, 3, 4], "track_id": 1}]': "appears twice",
        '[["frame", 0]]': 'must be an object with "frame" and "bbox"',
    }
    for text, message in cases.items():
        boxes = tmp_path / "boxes.json"
        boxes.write_text(text)
        _fails(tmp_path, capsys, [str(video), *model, "--boxes", str(boxes)], message)
    _fails(tmp_path, capsys, [str(video), *model, "--boxes", str(tmp_path / "none.json")], "does not exist")
    _fails(tmp_path, capsys, [str(video), *model, "--full-frame", "--render", str(tmp_path / "no" / "r.mp4")],
           "does not exist")
    _fails(tmp_path, capsys, [str(video), *model, "--full-frame", "--filter", "gauss"], "--filter: unknown filter")
    _fails(tmp_path, capsys, [str(video), *model, "--full-frame", "--filter", "median:window=4"], "must be odd")
    _fails(tmp_path, capsys, [str(video), *model, "--full-frame", "--causal"],
           "causal mode needs a model whose target frame is the last of its window")


def test_interrupted_run_leaves_no_partial_output(tmp_path, capsys, monkeypatch):
    video = tmp_path / "v.mp4"
    blob_video(video, n=6)
    calls = {"n": 0}
    push = StreamingPredictor.push

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return push(self, *args, **kwargs)

    monkeypatch.setattr(StreamingPredictor, "push", interrupted)
    out, render = tmp_path / "k.json", tmp_path / "r.mp4"
    code = main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out),
                 "--render", str(render), "--quiet"])
    assert code == 130 and calls["n"] == 4
    assert not out.exists() and not render.exists() and leftovers(tmp_path) == []


def test_command_line_exit_status(tmp_path):
    """Through a real process: exit status 2 and one line on stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "tarpose", "predict", str(tmp_path / "missing.mp4"), "--model", "vitpose-demo",
         "--full-frame", "--out", str(tmp_path / "o.json")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tarpose predict: error: video {str(tmp_path / 'missing.mp4')!r} does not exist"
    ]


@pytest.mark.parametrize("kind", ["save_pretrained", "tarpose train", "single-frame ViTPose"])
def test_predict_loads_model_directories(kind, tmp_path, capsys):
    """--model DIR goes through tarpose.load_model: a save_pretrained directory, the output of
    `tarpose train`, or a plain ViTPose (run frame by frame); the weights are the saved ones."""
    from tarpose.training import export_trained

    if kind == "single-frame ViTPose":
        model = tiny_vitpose(num_joints=17, seed=3)
        tarpose.save_pretrained(model, tmp_path / "run")
        untrained = tiny_vitpose(num_joints=17)
        model, untrained = SingleFrameModel(model), SingleFrameModel(untrained)
    else:
        model, untrained = _tiny(), _tiny()
        with torch.no_grad():
            model.gra.attn.out_proj.weight.mul_(1.5)  # differs from the registered factory's weights
            model.jta.query_embed.mul_(-1)
        if kind == "save_pretrained":
            tarpose.save_pretrained(model, tmp_path / "run")
        else:
            export_trained(tmp_path / "run", model, TINY)  # what `tarpose train` writes at its end
    video = tmp_path / "blob.mp4"
    blob_video(video, n=4)
    out = tmp_path / "k.json"
    assert main(["predict", str(video), "--model", str(tmp_path / "run"), "--full-frame", "--out", str(out),
                 "--quiet"]) == 0, capsys.readouterr().err
    with VideoReader(video) as reader:
        frames = list(reader)
    expected = list(StreamingPredictor(model).run((f, [[0, 0, 160, 120]], [0]) for f in frames))
    other = list(StreamingPredictor(untrained).run((f, [[0, 0, 160, 120]], [0]) for f in frames))
    assert max(float((a.keypoints - b.keypoints).abs().max()) for a, b in zip(expected, other)) > 0.1
    doc = json.loads(out.read_text())
    assert doc["num_frames_window"] == (1 if kind == "single-frame ViTPose" else 3)
    for record, poses in zip(doc["predictions"], expected):
        np.testing.assert_allclose(np.array(record["keypoints"])[:, :2], poses.keypoints[0].numpy(), atol=2e-3)
    capsys.readouterr()
    _fails(tmp_path, capsys, [str(video), "--model", str(tmp_path), "--full-frame"], "holds no model.safetensors")

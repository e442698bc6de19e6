"""PoseInferencer: one call from any frame source to tracked poses, the same poses as the
streaming predictor, and `tarpose predict` a thin layer over it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tarpose
from conftest import ROOT, SHARED
from tarpose.cli import main
from tarpose.inference import FramePoses, PoseInferencer, StreamingPredictor
from tarpose.io import open_frames, write_png
from test_cli_predict import TINY, _tiny, blob_video, registered_test_models

VTEST = SHARED / "data" / "vtest.avi"


@pytest.fixture(autouse=True)
def _registered():
    with registered_test_models():
        yield


def frames_of(n: int = 5, size=(120, 160), seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    low = g.integers(0, 256, (n, size[0] // 8, size[1] // 8, 3)).astype(np.uint8)
    return low.repeat(8, 1).repeat(8, 2)  # (n, h, w, 3) blocky frames


def expected(frames, box=None) -> list[FramePoses]:
    h, w = frames[0].shape[:2]
    box = box or [0.0, 0.0, float(w), float(h)]
    return list(StreamingPredictor(_tiny()).run((f, [box], [0]) for f in frames))


def assert_same(got: list[FramePoses], want: list[FramePoses]) -> None:
    assert [p.index for p in got] == [p.index for p in want]
    for a, b in zip(got, want):
        assert a.track_ids == b.track_ids
        torch.testing.assert_close(a.keypoints, b.keypoints)


@pytest.mark.parametrize("kind", ["array", "list", "tensors", "folder", "image", "video"])
def test_every_source_gives_the_predictor_poses(kind, tmp_path):
    frames = frames_of(4)
    if kind == "array":
        source = frames
    elif kind == "list":
        source = list(frames)
    elif kind == "tensors":
        source = [torch.from_numpy(f).permute(2, 0, 1) for f in frames]
    elif kind == "folder":  # natural order: 2 before 10
        for i, frame in zip([1, 2, 10, 11], frames):
            write_png(tmp_path / f"frame{i}.png", frame)
        source = tmp_path
    elif kind == "image":
        write_png(tmp_path / "one.png", frames[0])
        source, frames = tmp_path / "one.png", frames[:1]
    else:
        video = tmp_path / "v.mp4"
        blob_video(video, n=4)
        source = video
        with tarpose.io.VideoReader(video) as reader:
            frames = np.stack(list(reader))
    inferencer = PoseInferencer(TINY, detector="full-frame")
    got = list(inferencer(source))
    assert_same(got, expected(frames))
    assert all(np.array_equal(p.image, f) for p, f in zip(got, frames))  # each frame rides along
    assert inferencer.summary.frames == len(frames) and inferencer.summary.poses == len(frames)


def test_detector_and_tracker_in_the_loop():
    """Boxes from a detector function, linked by the tracker: the poses equal the predictor's on
    the same boxes; a box the detector scores too low for a new track gets no pose."""
    frames = frames_of(5)
    a, b = [10.0, 10.0, 40.0, 60.0], [100.0, 30.0, 40.0, 60.0]

    def detector(frame):
        return [a, b], [0.9, 0.3]

    got = list(PoseInferencer(TINY, detector=detector)(frames))
    want = list(StreamingPredictor(_tiny()).run((f, [a], [0]) for f in frames))
    assert_same(got, want)
    assert all(p.box_scores.tolist() == [0.9] for p in got)
    record = json.loads(got[0].to_json())[0]
    assert record["bbox_score"] == 0.9 and record["bbox"] == a and record["frame"] == 0


def test_max_frames_and_bad_sources(tmp_path):
    inferencer = PoseInferencer(TINY, detector="full-frame")
    assert len(list(inferencer(frames_of(6), max_frames=3))) == 3
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(inferencer(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError, match="holds no images"):
        list(inferencer(tmp_path))
    with pytest.raises(ValueError, match=r"RGB \(H, W, 3\) uint8"):
        list(inferencer([np.zeros((4, 4), np.uint8)]))
    with pytest.raises(TypeError, match="cannot read frames"):
        open_frames(3.5)


def test_cli_is_the_inferencer(tmp_path, capsys):
    """`tarpose predict` writes what PoseInferencer.predict writes, byte for byte."""
    video = tmp_path / "blob.mp4"
    blob_video(video, n=5)
    out = tmp_path / "cli.json"
    assert main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--quiet",
                 "--threads", "1"]) == 0
    assert "frames/s, 1 thread)" in capsys.readouterr().err  # the count asked for, in the summary
    PoseInferencer(TINY, detector="full-frame", threads=1).predict(video, out=tmp_path / "api.json")
    assert out.read_text() == (tmp_path / "api.json").read_text()
    doc = json.loads(out.read_text())
    assert doc["detector"] == "FullFrame" and len(doc["predictions"]) == 5


def test_render_to_images(tmp_path, capsys):
    frames = frames_of(3)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        write_png(folder / f"{i}.png", frame)
    summary = PoseInferencer(TINY, detector="full-frame").predict(
        folder, out=tmp_path / "k.json", render=tmp_path / "drawn.png"
    )
    names = sorted(p.name for p in summary.outputs[1:])
    assert names == ["drawn_000000.png", "drawn_000001.png", "drawn_000002.png"]
    # a folder's records name each frame's file; the rendering alone is enough
    records = json.loads((tmp_path / "k.json").read_text())["predictions"]
    assert [r["image"] for r in records] == ["0.png", "1.png", "2.png"]
    alone = PoseInferencer(TINY, detector="full-frame").predict(folder, render=tmp_path / "only.png")
    assert [p.name for p in alone.outputs] == ["only_000000.png", "only_000001.png", "only_000002.png"]
    with pytest.raises(ValueError, match="nothing to write"):
        PoseInferencer(TINY, detector="full-frame").predict(folder)
    one = tmp_path / "single"
    one.mkdir()
    write_png(one / "in.png", frames[0])
    code = main(["predict", str(one / "in.png"), "--model", TINY, "--full-frame", "--out", str(one / "k.json"),
                 "--render", str(one / "out.png"), "--quiet"])
    assert code == 0 and (one / "out.png").is_file(), capsys.readouterr().err
    drawn = open_frames(one / "out.png")
    assert not np.array_equal(next(iter(drawn)), frames[0])  # a skeleton is drawn on it


@pytest.mark.slow
@pytest.mark.skipif(not VTEST.exists(), reason="../shared/data/vtest.avi is not here")
def test_vtest_with_the_hog_detector_end_to_end(tmp_path, capsys):
    """The issue's command, offline: tarpose predict vtest.avi --model tar-vitpose-demo
    --detector hog --out kp.json --render o.mp4 (on its first frames)."""
    pytest.importorskip("cv2")
    out, render = tmp_path / "kp.json", tmp_path / "o.mp4"
    code = main(["predict", str(VTEST), "--model", "tar-vitpose-demo", "--detector", "hog", "--out", str(out),
                 "--render", str(render), "--max-frames", "8", "--quiet"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["detector"] == "HOGDetector" and doc["width"] == 768
    records = doc["predictions"]
    per_track: dict[int, int] = {}
    for r in records:
        per_track[r["track_id"]] = per_track.get(r["track_id"], 0) + 1
        x, y, w, h = r["bbox"]
        k = np.array(r["keypoints"])[:, :2]
        assert 0 <= r["bbox_score"] <= 1 and np.isfinite(k).all()
        assert (np.abs(k - [x + w / 2, y + h / 2]) <= [0.9 * max(w, 0.75 * h), 0.9 * max(h, w / 0.75)]).all()
    assert sum(n >= 6 for n in per_track.values()) >= 3  # several pedestrians tracked throughout
    with tarpose.io.VideoReader(render) as rendered:
        assert sum(1 for _ in rendered) == 8
    truth = [r for r in json.loads((ROOT / "tests" / "data" / "vtest_boxes.json").read_text()) if r["frame"] < 8]
    found = torch.tensor([r["bbox"] for r in records if r["frame"] == 0], dtype=torch.float64)
    given = torch.tensor([r["bbox"] for r in truth if r["frame"] == 0], dtype=torch.float64)
    assert (tarpose.boxes.box_iou(given, found).max(1).values >= 0.3).float().mean() >= 0.6

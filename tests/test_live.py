"""Live video: a causal model's poses come out with the frame that was just read (zero latency),
from a source that behaves like a camera, and a camera that goes away mid-stream, or a stop asked
with Ctrl-C, ends the run cleanly: every frame read has its poses and the outputs are written."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import numpy as np
import pytest
import torch

import tarpose
from conftest import tiny_vitpose
from reference_tar import activate_temporal_
from tarpose.cli import main
from tarpose.inference import PoseInferencer, StreamingPredictor
from tarpose.io import FrameSource

SIZE = (120, 160)


def causal_model() -> tarpose.TemporalWrapper:
    """A tiny causal TemporalWrapper (frames t-2..t), its temporal part active."""
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17), num_frames=3, target="last", jta_depth=1)
    return activate_temporal_(model, torch.Generator().manual_seed(0)).eval()


def camera_frames(seed: int = 0) -> Iterator[np.ndarray]:
    """An endless stream of frames, as a camera gives them."""
    g = np.random.default_rng(seed)
    while True:
        yield g.integers(0, 256, (SIZE[0] // 8, SIZE[1] // 8, 3)).astype(np.uint8).repeat(8, 0).repeat(8, 1)


def test_a_causal_model_answers_each_frame_before_the_next_is_read():
    read = []

    def camera() -> Iterator[np.ndarray]:
        for t, frame in enumerate(camera_frames()):
            read.append(t)
            yield frame

    inferencer = PoseInferencer(causal_model(), detector="full-frame")
    assert inferencer.predictor.mode == "causal" and inferencer.predictor.latency == 0
    for poses in inferencer(FrameSource("camera", "webcam", camera()), max_frames=6):
        assert read[-1] == poses.index  # frame t's poses before frame t+1 is read
    frames = [f for _, f in zip(range(6), camera_frames())]
    box = [0.0, 0.0, float(SIZE[1]), float(SIZE[0])]
    by_hand = list(StreamingPredictor(causal_model()).run((f, [box], [0]) for f in frames))
    ours = list(PoseInferencer(causal_model(), detector="full-frame")(frames))
    for a, b in zip(ours, by_hand, strict=True):
        torch.testing.assert_close(a.keypoints, b.keypoints)


def test_ctrl_c_on_a_camera_ends_the_run_cleanly(tmp_path):
    """Ctrl-C during a live run stops reading; the frames read so far all get their poses and the
    keypoints file is written (a second Ctrl-C would abort)."""
    out = tmp_path / "k.json"
    inferencer = PoseInferencer(causal_model(), detector="full-frame")
    before = signal.getsignal(signal.SIGINT)  # default_int_handler; SIG_IGN under nohup or `&`

    def on_frame(poses):
        if poses.index == 4:
            signal.raise_signal(signal.SIGINT)

    summary = inferencer.predict(FrameSource("camera", "webcam", camera_frames()), out=out, on_frame=on_frame)
    assert summary.stopped == "interrupted" and summary.frames == 5 and summary.poses == 5
    records = json.loads(out.read_text())["predictions"]
    assert [r["frame"] for r in records] == [0, 1, 2, 3, 4]
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored


class FakeCapture:
    """OpenCV's VideoCapture on a camera that gives ``frames`` frames and is then unplugged."""

    def __init__(self, index: int, frames: int = 7) -> None:
        self.left = frames
        self.stream = camera_frames(index)
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, next(self.stream)[..., ::-1].copy()  # OpenCV gives BGR

    def get(self, prop: int) -> float:
        return 30.0

    def release(self) -> None:
        self.released = True


def test_predict_from_a_webcam_that_goes_away_mid_stream(tmp_path, capsys, monkeypatch):
    """`tarpose predict 0 --causal` reads OpenCV's camera 0; when the camera stops giving frames
    the run ends cleanly: rc 0, every frame read has its poses, the outputs are written."""
    cv2 = pytest.importorskip("cv2")
    from test_cli_predict import registered_test_models

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    out = tmp_path / "k.json"
    with registered_test_models(**{"causal-test": causal_model}):
        code = main(["predict", "0", "--model", "causal-test", "--causal", "--full-frame", "--out", str(out),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "the source stopped after 7 frames (the camera gave no more frames)" in err
    document = json.loads(out.read_text())
    assert document["mode"] == "causal" and document["latency_frames"] == 0 and document["fps"] == 30.0
    assert sorted({r["frame"] for r in document["predictions"]}) == list(range(7))


def test_the_bundled_causal_model_runs_live_and_reads_no_later_frame(tmp_path, capsys, monkeypatch):
    """`tarpose predict 0 --model tar-vitpose-demo-causal --causal`: the bundled causal TAR answers
    every frame the camera gave, with zero latency, and a frame's poses do not depend on any later
    frame (the same poses when the later frames are different)."""
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    out = tmp_path / "k.json"
    code = main(["predict", "0", "--model", "tar-vitpose-demo-causal", "--causal", "--full-frame", "--out",
                 str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["mode"] == "causal" and document["latency_frames"] == 0
    live = {r["frame"]: np.asarray(r["keypoints"]) for r in document["predictions"]}
    assert sorted(live) == list(range(7))

    model = tarpose.load_model("tar-vitpose-demo-causal")
    frames = [f for _, f in zip(range(7), camera_frames(0))]
    other = [f for _, f in zip(range(7), camera_frames(1))]
    box = [0.0, 0.0, float(SIZE[1]), float(SIZE[0])]
    for t in (2, 5):
        # frames 0..t as the camera gave them, then different frames after t
        changed = frames[: t + 1] + other[t + 1 :]
        poses = list(StreamingPredictor(model).run((f, [box], [0]) for f in changed))
        np.testing.assert_allclose(poses[t].keypoints[0].numpy(), live[t][:, :2], atol=1e-3)
    assert not np.allclose(live[5], live[2])  # the poses follow the frames: the check can fail

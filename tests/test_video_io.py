"""Video reading/writing through PyAV, skeleton drawing, the PNG writer, atomic outputs."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tarpose.inference import FramePoses
from tarpose.io import VideoReader, VideoWriter, draw_pose, draw_poses, encode_png, read_video, write_png, write_video
from tarpose.atomic import atomic_output
from tarpose.keypoints import COCO_SKELETON

av = pytest.importorskip("av")


def smooth_frames(n: int, h: int, w: int) -> np.ndarray:
    """Frames of smooth gradients (they survive lossy compression nearly unchanged)."""
    ys, xs = np.mgrid[0:h, 0:w]
    frames = [
        np.stack([(xs * 255 / w + 9 * t) % 256, ys * 255 / h, np.full((h, w), 40 + 20 * t)], -1)
        for t in range(n)
    ]
    return np.array(frames, dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv"])
def test_write_then_read_round_trip(tmp_path, suffix):
    frames = smooth_frames(6, 48, 64)
    path = tmp_path / f"clip{suffix}"
    assert write_video(path, frames, fps=12.5) == 6
    back, fps = read_video(path)
    assert back.shape == frames.shape and fps == pytest.approx(12.5)
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4  # lossy, but close
    with VideoReader(path) as video:
        assert (video.width, video.height) == (64, 48)
    assert read_video(path, max_frames=2)[0].shape[0] == 2


def test_odd_sizes_are_padded_for_420(tmp_path):
    frames = smooth_frames(3, 37, 51)
    write_video(tmp_path / "odd.mp4", frames, fps=10)
    back, _ = read_video(tmp_path / "odd.mp4")
    assert back.shape == (3, 38, 52, 3)
    assert np.abs(back[:, :37, :51].astype(int) - frames.astype(int)).mean() < 4


def test_writer_removes_partial_file_on_error(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=10) as writer:
            writer.write(smooth_frames(1, 32, 32)[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="frame of size"):
        with VideoWriter(path, fps=10) as writer:
            writer.write(smooth_frames(1, 32, 32)[0])
            writer.write(smooth_frames(1, 32, 48)[0])
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(path, fps=10):
            pass
    assert list(tmp_path.iterdir()) == []


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoReader(tmp_path / "nope.mp4")
    (tmp_path / "text.avi").write_text("hello")
    with pytest.raises(ValueError, match="cannot read video"):
        VideoReader(tmp_path / "text.avi")
    write_png(tmp_path / "still.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "audio.wav").write_bytes(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
                                         b"@\x1f\x00\x00@\x1f\x00\x00\x01\x00\x08\x00data\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="no video stream"):
        VideoReader(tmp_path / "audio.wav")


def test_png_is_read_back_exactly_by_ffmpeg(tmp_path):
    g = np.random.default_rng(0)
    for shape in [(5, 7, 3), (6, 3), (4, 9, 4)]:
        image = g.integers(0, 256, shape, dtype=np.uint8)
        path = tmp_path / f"img{len(shape)}{shape[-1]}.png"
        write_png(path, image)
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
        fmt = {3: "rgb24", 4: "rgba"}.get(shape[-1], "gray") if len(shape) == 3 else "gray"
        np.testing.assert_array_equal(frame.to_ndarray(format=fmt), image)
    data = encode_png(np.zeros((2, 2), np.uint8))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and zlib.crc32(data[12:29]) == int.from_bytes(data[29:33], "big")
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((2, 2), np.float32))


def test_draw_pose():
    frame = np.zeros((80, 180, 3), np.uint8)
    keypoints = np.array([[10.5 + 20 * (j % 8), 10.5 + 25 * (j // 8)] for j in range(17)])
    scores = np.ones(17)
    scores[16] = 0.1
    out = draw_pose(frame, keypoints, scores, color=(255, 0, 0))
    assert frame.max() == 0  # the input is untouched
    for j in range(16):  # every confident joint is drawn where it is
        x, y = keypoints[j].astype(int)
        assert out[y, x].max() > 200
    x, y = keypoints[16].astype(int)
    assert out[y, x].max() == 0  # a joint below the threshold is not
    a, b = COCO_SKELETON[4]  # limb 11-12: its midpoint is painted in the limb colour
    mx, my = ((keypoints[a] + keypoints[b]) / 2).astype(int)
    assert tuple(out[my, mx]) == (255, 0, 0)
    with pytest.raises(ValueError, match=r"\(J, 2\)"):
        draw_pose(frame, np.zeros((17, 3)))


def test_draw_poses_colours_tracks_and_survives_points_off_frame():
    import torch

    frame = np.full((40, 40, 3), 90, np.uint8)
    keypoints = torch.tensor([[[5.0, 5.0]] * 17, [[-50.0, 300.0]] * 17], dtype=torch.float64)
    poses = FramePoses(0, [0, 1], torch.tensor([[2.0, 2.0, 10.0, 10.0], [-30.0, 50.0, 5.0, 5.0]]),
                       keypoints, torch.ones(2, 17))
    out = draw_poses(frame, poses)
    assert out.shape == frame.shape and (out != frame).any()


def test_atomic_output(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("done")
        assert not target.exists() and tmp.name.startswith(".a.txt.")
    assert target.read_text() == "done"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "b.txt") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_output(tmp_path / "missing" / "c.txt"):
            pass

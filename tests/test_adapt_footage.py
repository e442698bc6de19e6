"""Footage to person tracks for label-free adaptation (tarpose.training.adaptation.footage) and the
`tarpose adapt` command: the stored regions crop exactly as the frames do, tracks split at gaps,
a second run reads its record instead of detecting again, and the command turns a folder of frames
and a boxes file into a model directory that `load_model` and `tarpose predict` use."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tiny_vitpose

import tarpose
from tarpose.cli import main
from tarpose.data.synthetic import SyntheticVideo
from tarpose.detection import Detections, PersonDetector
from tarpose.io.render import write_png
from tarpose.training import Track, freeze_base
from tarpose.training.adaptation import WindowCache
from tarpose.training.adaptation.footage import FootageOptions, footage_tracks

FRAME = (96, 128)  # (H, W)


class Truth(PersonDetector):
    """The synthetic figure's own box, with its track id; ``missing`` frames find nobody."""

    def __init__(self, video: SyntheticVideo, missing: tuple[int, ...] = ()) -> None:
        self.video, self.missing, self.calls = video, set(missing), 0

    def detect(self, frames, indices):
        self.calls += len(indices)
        return [Detections([], [], []) if i in self.missing else Detections(self.video.boxes[i][None], [1.0], [7])
                for i in indices]


def frames_of(video: SyntheticVideo) -> list[np.ndarray]:
    images = video.render(list(range(video.num_frames)), corrupt=False)[0]  # (f, 3, h, w) uint8
    return [np.ascontiguousarray(image.permute(1, 2, 0).numpy()) for image in images]


def frames_folder(folder, video: SyntheticVideo):
    """The video's clean frames as PNG files in ``folder``."""
    folder.mkdir()
    for i, frame in enumerate(frames_of(video)):
        write_png(folder / f"{i:03d}.png", frame)
    return folder


def tiny_tar() -> tarpose.TemporalWrapper:
    model = tarpose.TemporalWrapper(tiny_vitpose(num_joints=17), num_frames=3, jta_depth=1)
    freeze_base(model)
    return model


def options(model: tarpose.TemporalWrapper, **kw) -> FootageOptions:
    return FootageOptions(input_size=tuple(model.data_config.input_size), padding=1.25, window=3,
                          detector="truth", **kw)


def test_stored_regions_crop_exactly_as_the_frames(tmp_path):
    """Windows cropped from the stored regions equal those cropped from the full frames, though
    the regions hold a fraction of the frames' pixels."""
    video = SyntheticVideo(720, 10, image_size=FRAME)
    frames = frames_of(video)
    model = tiny_tar()
    tracks = footage_tracks([frames], tmp_path / "footage", options(model), detectors=Truth(video))
    assert len(tracks) == 1 and torch.equal(tracks[0].boxes, video.boxes.to(torch.float64))
    full = [Track(frames, video.boxes.clone())]
    ours = WindowCache.build(model, tracks, dtype="float32")
    reference = WindowCache.build(model, full, dtype="float32")
    assert np.array_equal(ours["crops"], reference["crops"])
    np.testing.assert_array_equal(ours["features"], reference["features"])
    stored = (tmp_path / "footage" / "regions.u8").stat().st_size
    assert stored < 0.9 * sum(f.nbytes for f in frames)  # only what the crops read
    rebuilt = tracks[0].frame(4).permute(1, 2, 0).numpy()
    assert rebuilt.shape == frames[4].shape and (rebuilt == 0).any()  # zeros where no crop reads


def test_tracks_split_at_gaps_and_a_second_run_reads_the_record(tmp_path):
    video = SyntheticVideo(721, 14, image_size=FRAME)
    folder = frames_folder(tmp_path / "frames", video)
    model = tiny_tar()
    detector = Truth(video, missing=(6,))
    tracks = footage_tracks([folder], tmp_path / "footage", options(model), detectors=detector)
    assert [len(t) for t in tracks] == [6, 7] and detector.calls == 14
    assert torch.equal(tracks[1].boxes[0], video.boxes[7].to(torch.float64))
    again = Truth(video, missing=(6,))
    reread = footage_tracks([folder], tmp_path / "footage", options(model), detectors=again)
    assert again.calls == 0 and [t.key for t in reread] == [t.key for t in tracks]
    assert all(torch.equal(a.frame(2), b.frame(2)) for a, b in zip(reread, tracks))
    # other options, or changed footage: detected again
    longer = footage_tracks([folder], tmp_path / "footage", options(model, min_length=7), detectors=again)
    assert again.calls == 14 and [len(t) for t in longer] == [7]
    with pytest.raises(ValueError, match="no person was tracked for 20 consecutive frames"):
        footage_tracks([folder], tmp_path / "f2", options(model, min_length=20), detectors=Truth(video))
    with pytest.raises(ValueError, match="2 detectors .* for 1 sources"):
        footage_tracks([folder], tmp_path / "f3", options(model), detectors=[Truth(video)] * 2)


def test_tarpose_adapt_turns_footage_into_a_model_directory(tmp_path, capsys):
    """`tarpose adapt vitpose-demo FOLDER --boxes B.json --out DIR`: the adapted model loads,
    keeps the base, and `tarpose predict` runs it; the card names the base and the footage."""
    video = SyntheticVideo(722, 12, image_size=(128, 160))
    folder = frames_folder(tmp_path / "frames", video)
    boxes = [{"frame": i, "bbox": box.tolist()} for i, box in enumerate(video.boxes.to(torch.float64))]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "run"
    args = ["adapt", "vitpose-demo", str(folder), "--boxes", str(tmp_path / "boxes.json"), "--out", str(out),
            "--steps", "3", "--batch-size", "2", "--warmup-steps", "0", "--holdout", "0.3", "--holdout-block", "4",
            "--log-every", "1", "--save-every", "2", "--threads", "1"]
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "self-consistency after adaptation" in printed and f"--model {out}" in printed
    model = tarpose.load_model(out)
    base = tarpose.load_model("vitpose-demo")
    assert isinstance(model, tarpose.TemporalWrapper) and model.config.num_frames == 5
    for key, value in base.state_dict().items():  # the base is frozen
        torch.testing.assert_close(model.encoder.state_dict().get(key.removeprefix("backbone."), value), value)
    card = (out / "README.md").read_text()
    report = json.loads((out / "adapt.json").read_text())
    assert "vitpose-demo" in card and report["footage"]["sha256"][:16] in card and report["steps"] == 3
    # resuming the finished run detects nothing again and trains no further
    assert main([*args, "--resume"]) == 0
    assert "read 1 person tracks" in capsys.readouterr().out
    assert main(["predict", str(folder), "--model", str(out), "--boxes", str(tmp_path / "boxes.json"),
                 "--out", str(tmp_path / "k.json"), "--quiet"]) == 0
    assert len(json.loads((tmp_path / "k.json").read_text())["predictions"]) == 12


@pytest.mark.parametrize(("extra", "message"), [
    (["--boxes", "a.json", "--boxes", "b.json"], "got 2 --boxes files for 1 footage item"),
    (["--kinds", "occlude=1,sparkle=2"], "sparkle"),
    (["--temporal-opt", "num_frames=4"], "num_frames"),
    (["--max-frames", "0"], "--max-frames must be >= 1"),
])
def test_tarpose_adapt_bad_options_are_one_line(tmp_path, capsys, extra, message):
    folder = tmp_path / "frames"
    folder.mkdir()
    code = main(["adapt", "vitpose-demo", str(folder), "--out", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_tarpose_adapt_missing_footage(tmp_path, capsys):
    assert main(["adapt", "vitpose-demo", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "run")]) == 2
    assert "no such footage" in capsys.readouterr().err


def test_a_waiting_process_reads_what_another_detected(tmp_path):
    """Under torchrun only rank 0 detects: the others wait for its record and read the same
    tracks, or give up after ``wait`` seconds with a clear error."""
    video = SyntheticVideo(723, 8, image_size=FRAME)
    folder = frames_folder(tmp_path / "frames", video)
    model = tiny_tar()
    with pytest.raises(TimeoutError, match="no person tracks of this footage appeared"):
        footage_tracks([folder], tmp_path / "footage", options(model), detectors=Truth(video), wait=0.5)
    first = footage_tracks([folder], tmp_path / "footage", options(model), detectors=Truth(video))
    reader = Truth(video)
    second = footage_tracks([folder], tmp_path / "footage", options(model), detectors=reader, wait=5.0)
    assert reader.calls == 0 and [t.key for t in second] == [t.key for t in first]
    # frames in memory cannot be matched to another process's record: an error, not a wait
    with pytest.raises(ValueError, match="frames in memory have no identity"):
        footage_tracks([frames_of(video)], tmp_path / "memory", options(model), detectors=Truth(video), wait=5.0)


def test_tarpose_adapt_on_a_transformers_checkpoint(tmp_path, capsys):
    """BASE may be a ViTPose tarpose did not build: a transformers VitPoseForPoseEstimation saved
    with its own save_pretrained adapts, and its weights stay as they were."""
    from conftest import hf_vitpose

    hf_vitpose("classic", input_size=(64, 48), num_joints=17).save_pretrained(tmp_path / "hf")
    video = SyntheticVideo(724, 10, image_size=(96, 128))
    folder = frames_folder(tmp_path / "frames", video)
    boxes = [{"frame": i, "bbox": box.tolist()} for i, box in enumerate(video.boxes.to(torch.float64))]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "run"
    code = main(["adapt", str(tmp_path / "hf"), str(folder), "--boxes", str(tmp_path / "boxes.json"), "--out",
                 str(out), "--steps", "2", "--batch-size", "2", "--warmup-steps", "0", "--holdout", "0",
                 "--threads", "1"])
    assert code == 0, capsys.readouterr().err
    adapted, base = tarpose.load_model(out), tarpose.load_model(tmp_path / "hf")
    assert isinstance(adapted, tarpose.TemporalWrapper)
    for key, value in base.backbone.state_dict().items():
        assert torch.equal(adapted.encoder.state_dict()[key], value), key

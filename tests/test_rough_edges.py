"""What a new user ran into, each fixed: an offline Hub fails at once and says so, a mistyped
model name gets suggestions, --render checks its extension, `tarpose models | head` ends quietly,
`tarpose train --help` shows each default once, `tarpose demo`'s output is ignored by git, the
demo's pictures are labelled, track ids sit above the boxes (--threads' default: test_threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import tarpose
from conftest import ROOT
from hub_cache import populate
from tarpose.cli import build_parser, main
from tarpose.inference import FramePoses
from tarpose.io import draw_poses, label_size
from tarpose.weights import sources


@pytest.fixture
def unreachable_hub(tmp_path, monkeypatch):
    """A Hub endpoint nobody answers at (connection refused at once), an empty cache, downloads
    allowed; every hf_hub_download call is recorded."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    calls = []
    import huggingface_hub

    real = huggingface_hub.hf_hub_download

    def recorded(*args, **kwargs):
        calls.append(kwargs.get("local_files_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", recorded)
    return calls


def test_unreachable_hub_fails_at_once_naming_the_offline_switch(unreachable_hub):
    with pytest.raises(FileNotFoundError) as error:
        sources.resolve_source("usyd-community/vitpose-base-simple")
    message = str(error.value)
    assert "cannot be reached" in message and "HF_HUB_OFFLINE=1" in message
    assert "pass filename=" not in message
    assert unreachable_hub and all(unreachable_hub)  # only the cache was read: no retries


def test_unreachable_hub_still_loads_from_the_cache(unreachable_hub, tmp_path):
    from conftest import tiny_vitpose

    tarpose.save_pretrained(tiny_vitpose(), tmp_path / "saved")
    populate(tmp_path / "hub", "org/tiny", tmp_path / "saved")
    resolved = sources.resolve_source("org/tiny")
    assert resolved.weights.name == "model.safetensors" and all(unreachable_hub)


def test_mistyped_model_name_gets_suggestions(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    from test_cli_predict import blob_video

    blob_video(video, n=2)
    code = main(["predict", str(video), "--model", "tar-vitpose-dem", "--full-frame", "--out",
                 str(tmp_path / "o.json"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "did you mean 'tar-vitpose-demo'" in err and "`tarpose models`" in err
    import tarpose

    with pytest.raises(ValueError, match="did you mean 'vitpose-b'"):
        tarpose.create_model("vitpose-bb")


@pytest.mark.parametrize("name", ["out.gif", "out.jpg", "out"])
def test_render_extension_is_checked_before_any_work(name, tmp_path, capsys):
    code = main(["predict", str(tmp_path / "missing.mp4"), "--model", "vitpose-demo", "--full-frame",
                 "--out", str(tmp_path / "o.json"), "--render", str(tmp_path / name)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot render to" in err and ".mp4" in err and ".png" in err


def test_models_into_a_closed_pipe_ends_quietly():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tarpose", "models"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT, env=env)
    assert process.stdout.readline().startswith(b"name")
    process.stdout.close()  # as `head -1` does
    _, err = process.communicate(timeout=300)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert process.returncode in (0, 141)


def test_train_help_shows_each_default_once():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    helps = train.format_help()
    assert "(default: None)" not in helps and "(default: [])" not in helps
    for action in train._actions:
        text = train._get_formatter()._expand_help(action) if action.help else ""
        assert text.count("default") <= 1, text


def test_demo_output_is_ignored_by_git():
    gitignore = ROOT / ".gitignore"
    if not gitignore.exists():
        pytest.skip("not a checkout")
    default = next(a.default for a in build_parser()._subparsers._group_actions[0].choices["demo"]._actions
                   if a.dest == "out")
    assert f"{default}/" in gitignore.read_text().splitlines()


def test_track_id_sits_above_the_box():
    frame = np.zeros((120, 100, 3), np.uint8)
    box = [30.0, 50.0, 40.0, 60.0]
    poses = FramePoses(0, [7], torch.tensor([box], dtype=torch.float64), torch.full((1, 17, 2), -100.0,
                       dtype=torch.float64), torch.ones(1, 17))
    drawn = draw_poses(frame, poses)
    height, width = label_size("7")
    above = drawn[50 - height - 1 : 49, 30 : 30 + width]
    inside = drawn[52:50 + height, 32:68]
    assert (above > 0).any() and not (inside > 0).any()  # the head stays visible
    top = FramePoses(0, [7], torch.tensor([[30.0, 0.0, 40.0, 60.0]], dtype=torch.float64),
                     poses.keypoints, poses.scores)
    assert (draw_poses(frame, top)[1 : 1 + height, 30 : 30 + width] > 0).any()  # no room above: inside


def test_demo_pictures_are_labelled(tmp_path):
    """The contact sheet names its rows and each frame's corruption, with a legend; the video
    names its sides, the frame, its corruption, and has a legend."""
    from tarpose.demo.pictures import (
        COLORS,
        CORRUPTED_RED,
        TITLES,
        caption,
        corruption_text,
        fit_scale,
        sheet_rows,
        write_sheet,
    )
    from tarpose.data.synthetic import SyntheticVideo
    from tarpose import load_model
    from tarpose.demo import predict_video
    from tarpose.io import open_frames

    video = SyntheticVideo(2_000_001, 12, corruption=0.4)
    single, temporal = (load_model("vitpose-demo"), load_model("tar-vitpose-demo"))
    with torch.inference_mode():
        result = predict_video(video, single, temporal)
    sheet = next(iter(open_frames(write_sheet(video, result, tmp_path / "sheet.png"))))
    chosen = [t for t in range(12) if bool(result.corrupted[t])][:8]
    heads = [[(f"FRAME {t}", (200, 200, 200)), (corruption_text(int(result.corruption[t])), CORRUPTED_RED)]
             for t in chosen]
    scale = min(fit_scale(194, items) for items in heads)  # one letter size over every column
    bands = [caption(194, items, scale=scale) for items in heads]
    assert np.array_equal(sheet[: bands[0].shape[0]], np.concatenate(bands, axis=1))
    assert all(corruption_text(int(result.corruption[t])) != "CLEAN" for t in chosen)
    for key in ("truth", "single_frame", "temporal"):
        band = caption(sheet.shape[1], [(TITLES[key], COLORS[key])])
        assert any(np.array_equal(sheet[y : y + band.shape[0]], band) for y in range(sheet.shape[0] - 21))
    assert (sheet[-22:] != 24).any(axis=-1).sum() > 500  # the legend's letters
    # with filtered tracks: a fourth row, single-frame after its filter, titled with the filter,
    # under the TAR row (as in the docs' contact sheet), drawing the filtered keypoints
    with torch.inference_mode():
        filtered = predict_video(video, single, temporal, filters={"single_frame": "median:window=5"})
    sheet4 = next(iter(open_frames(write_sheet(video, filtered, tmp_path / "sheet4.png"))))
    rows = sheet_rows(filtered)
    assert [key for key, _ in rows] == ["truth", "single_frame", "temporal", "single_frame+filter"]
    assert rows[3][1] == "SINGLE-FRAME + MEDIAN 5" and sheet_rows(result) == rows[:3]
    tops = []
    for key, title in rows:
        band = caption(sheet4.shape[1], [(title, COLORS[key])])
        found = [y for y in range(sheet4.shape[0] - 21) if np.array_equal(sheet4[y : y + band.shape[0]], band)]
        assert len(found) == 1, key
        tops.append(found[0])
    assert tops == sorted(tops) and sheet4.shape[0] > sheet.shape[0]
    cell = slice(tops[3] + 22, tops[3] + 22 + 256)
    assert not np.array_equal(sheet4[cell], sheet[tops[1] + 22 : tops[1] + 22 + 256])  # not the raw tracks
    pytest.importorskip("av")
    from tarpose.demo.pictures import write_movie

    movie = list(open_frames(write_movie(video, result, tmp_path / "demo.mp4", fps=10)))
    t = chosen[0]
    panel = movie[t].shape[1] // 2 - 2
    title = caption(panel, [(TITLES["temporal"], COLORS["temporal"]), (f"FRAME {t}", (200, 200, 200)),
                            (corruption_text(int(result.corruption[t])), CORRUPTED_RED)])
    wrong = caption(panel, [(TITLES["temporal"], COLORS["temporal"]), (f"FRAME {t + 1}", (200, 200, 200)),
                            ("CLEAN", (150, 150, 150))])
    gray = lambda x: x[2:-3].astype(float).mean(-1)  # brightness: H.264 keeps it, not thin colours
    got = gray(movie[t][: title.shape[0], -panel:])
    assert np.abs(got - gray(title)).mean() < 0.5 * np.abs(got - gray(wrong)).mean()


def test_default_detector_offline_names_the_offline_one(unreachable_hub, tmp_path, capsys):
    """No box option: RT-DETR; with the Hub out of reach and nothing cached, one line that says so
    and names --detector hog."""
    pytest.importorskip("transformers")
    from test_cli_predict import blob_video

    video = tmp_path / "v.mp4"
    blob_video(video, n=2)
    code = main(["predict", str(video), "--model", "vitpose-demo", "--out", str(tmp_path / "o.json"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "RT-DETR" in err and "cannot be reached" in err and "--detector hog" in err

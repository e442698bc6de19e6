"""Every script in examples/ runs as a user would run it (tiny settings, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, SHARED, hf_vitpose

import tarpose
from tarpose.demo import DEMO_MODELS

EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_retrofit_transformers(tmp_path):
    hf_vitpose("simple").save_pretrained(tmp_path / "vitpose")  # transformers' own save
    out = run_example("retrofit_transformers.py", "--model", str(tmp_path / "vitpose"), "--frames", "3")
    lines = {line.split("=")[0].strip(): line for line in out.splitlines()}
    for key in ("max |wrapped - single-frame|", "max |tarpose ViTPose - single|"):
        assert float(lines[key].split("=")[1]) < 1e-4, out


def test_convert_official(tmp_path):
    from test_convert import reference_checkpoint

    reference_checkpoint(tmp_path / "tar.pt", width=384)  # a ViT-S width (its heads are known)
    out = run_example("convert_official.py", str(tmp_path / "tar.pt"), str(tmp_path / "converted"),
                      "--input-size", "64", "48")
    assert "token_layout='official'" in out and "finite: True" in out
    assert (tmp_path / "converted" / "model.safetensors").is_file()


@pytest.mark.slow
def test_training_script_reproduces_loadable_models(tmp_path):
    """examples/train_demo.py end to end with tiny settings: three `tarpose train` runs, then the
    exported half-precision files load into the registered architectures."""
    run_example("train_demo.py", "--work", str(tmp_path / "work"), "--export", str(tmp_path / "assets"),
                "--base-steps", "2", "--base-videos", "2", "--base-batch", "4", "--single-steps", "2",
                "--temporal-steps", "3", "--temporal-videos", "1", "--temporal-batch", "2")
    from safetensors.torch import load_file

    for name in DEMO_MODELS:
        state = load_file(str(tmp_path / "assets" / name / "model.safetensors"))
        assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
        model = tarpose.create_model(name)
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    trained = json.loads((tmp_path / "work" / "temporal" / "train.json").read_text())
    baseline = json.loads((tmp_path / "work" / "single" / "train.json").read_text())
    assert (baseline["config"]["steps"], trained["config"]["steps"]) == (2, 3)  # each stage its own steps
    assert trained["config"]["batch_size"] == baseline["config"]["batch_size"]  # the same windows
    # the temporal model's base is the single-frame model, bit for bit (trained frozen on top of it)
    single = tarpose.load_model(tmp_path / "assets" / "vitpose-demo")
    temporal = tarpose.load_model(tmp_path / "assets" / "tar-vitpose-demo")
    for mine, theirs in zip(temporal.base_parameters(), single.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_stream_video_equals_the_predict_command(tmp_path):
    """The example's keypoints, per track and frame, are what `tarpose predict` writes for the same
    video, boxes and weights (both link the boxes with the default tracker)."""
    from tarpose.cli import main as cli

    torch.manual_seed(0)
    base = tarpose.create_model("vitpose-s", input_size=(64, 48), embed_dim=64, depth=1, num_heads=2,
                                deconv_channels=16)
    tarpose.save_pretrained(tarpose.TemporalWrapper(base, num_frames=3, jta_depth=1), tmp_path / "model")
    video, boxes = str(SHARED / "data" / "vtest.avi"), str(ROOT / "tests" / "data" / "vtest_boxes.json")
    out = run_example("stream_video.py", video, boxes, "--model", str(tmp_path / "model"), "--max-frames", "6",
                      "--out", str(tmp_path / "out"), "--render", str(tmp_path / "overlay.mp4"))
    assert cli(["predict", video, "--model", str(tmp_path / "model"), "--boxes", boxes, "--max-frames", "6",
                "--out", str(tmp_path / "predict.json"), "--quiet"]) == 0
    expected = json.loads((tmp_path / "predict.json").read_text())["predictions"]
    tracks = json.loads((tmp_path / "out" / "tracks.json").read_text())
    got = {(r["frame"], r["track_id"]): r for records in tracks.values() for r in records}
    assert len(got) == len(expected) > 6  # several people per frame
    for record in expected:
        mine = got[(record["frame"], record["track_id"])]
        assert mine["bbox"] == record["bbox"]
        assert torch.allclose(torch.tensor(mine["keypoints"]), torch.tensor(record["keypoints"]), atol=1e-3)
    assert out.count("track ") == len(tracks) and (tmp_path / "overlay.mp4").stat().st_size > 0


def test_adapt_unlabelled_adapts_on_the_first_frames_and_compares_on_the_rest(tmp_path):
    """examples/adapt_unlabelled.py on the first 40 frames of vtest.avi (the boxes file's people,
    tracked), 2 steps; the run directory loads as a temporal model over the frozen base."""
    video, boxes = str(SHARED / "data" / "vtest.avi"), str(ROOT / "tests" / "data" / "vtest_boxes.json")
    out = run_example("adapt_unlabelled.py", video, "--boxes", boxes, "--split", "40", "--held-out", "12",
                      "--steps", "2", "--batch-size", "4", "--out", str(tmp_path / "run"))
    assert "base: 12 held-out frames" in out and "adapted: 12 held-out frames" in out and "px apart" in out
    model = tarpose.load_model(tmp_path / "run")
    base = tarpose.load_model("vitpose-demo")
    assert isinstance(model, tarpose.TemporalWrapper)
    for key, value in base.backbone.state_dict().items():  # the base did not move
        assert torch.equal(model.encoder.state_dict()[key], value), key
    assert "Label-free adaptation" in (tmp_path / "run" / "README.md").read_text()


def test_adapt_unlabelled_makes_its_footage_and_prints_before_and_after(tmp_path):
    """Without a video the example renders its own footage (a synthetic person, clean, with
    boxes), adapts for 2 steps and prints the self-consistency table before and after."""
    out = run_example("adapt_unlabelled.py", "--steps", "2", "--batch-size", "4", "--out", str(tmp_path / "run"))
    lines = out.splitlines()
    before = next(line for line in lines if line.strip().startswith("before")).split()
    after = next(line for line in lines if line.strip().startswith("after")).split()
    assert float(before[2]) == 100.0  # clean windows: the untrained wrapper is the base
    assert 0 <= float(after[1]) <= 100 and "held-out frames" in out
    assert len(list((tmp_path / "run" / "made" / "frames").glob("*.png"))) == 96


def git_status() -> str | None:
    """``git status --porcelain --ignored`` of the checkout (None outside a git checkout)."""
    try:
        result = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return None
    return result.stdout if result.returncode == 0 else None


def test_stream_video_leaves_the_repository_clean(tmp_path):
    """Run from the repository root without --out, the example writes its tracks.json into a new
    temporary folder, not into the current directory: the checkout is as it was."""
    import shutil

    import numpy as np

    from tarpose.io import write_video

    before = git_status()
    if before is None:
        pytest.skip("not a git checkout")
    rng = np.random.default_rng(0)
    write_video(tmp_path / "clip.mp4", rng.integers(0, 256, (5, 96, 128, 3), dtype=np.uint8), fps=10)
    boxes = [{"frame": t, "bbox": [20.0 + 2 * t, 10.0, 40.0, 80.0]} for t in range(5)]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "stream_video.py"), str(tmp_path / "clip.mp4"), str(tmp_path / "boxes.json"),
         "--model", "tar-vitpose-demo"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = ROOT / result.stdout.strip().splitlines()[-1].removeprefix("wrote ")  # (ROOT / an absolute path: it)
    try:
        assert written.name == "tracks.json" and written.is_file()
        assert not written.resolve().is_relative_to(ROOT.resolve()), f"wrote {written} inside the checkout"
        assert len(json.loads(written.read_text())["0"]) == 5  # one track, every frame
        assert git_status() == before
    finally:
        if written.resolve().is_relative_to(ROOT.resolve()):
            written.unlink(missing_ok=True)  # a broken example's file, not a folder of the checkout
        else:
            shutil.rmtree(written.parent, ignore_errors=True)


@pytest.mark.slow
def test_train_temporal_synthetic_trains_only_the_new_modules(tmp_path):
    out = run_example("train_temporal_synthetic.py", "--steps", "3", "--batch-size", "4", "--videos", "1",
                      "--test-videos", "1", "--out", str(tmp_path / "run"))
    assert "pck_corrupted" in out and "base frozen" in out
    trained = tarpose.load_model(tmp_path / "run")
    bundled = tarpose.TemporalWrapper(tarpose.create_model("vitpose-demo", pretrained=True))
    for mine, theirs in zip(trained.base_parameters(), bundled.base_parameters(), strict=True):
        assert torch.equal(mine, theirs)  # the frozen base is bit-identical
    assert trained.gra.attn.out_proj.weight.abs().sum() > 0  # the new modules moved (zero at init)


def test_every_example_is_tested():
    source = (ROOT / "tests" / "test_examples.py").read_text()
    for script in EXAMPLES.glob("*.py"):
        assert f'"{script.name}"' in source, f"examples/{script.name} has no test"

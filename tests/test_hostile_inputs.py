"""Hostile and broken inputs, as a user would hit them: configs that lie about sizes, training that
diverges, outputs that must not destroy what is there, non-finite values (issue 13).

Memory-DoS cases never run the DoS: they assert that the hostile size was never built (a spy on
the constructors records every model built, on any device) and that the error is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_vitpose

import tarpose
from tarpose.layers import jta as jta_module
from tarpose.models import vitpose as vitpose_module
from tarpose.weights import CheckpointError


@pytest.fixture
def built(monkeypatch) -> list[tuple[str, int]]:
    """Every ViT and JTA constructed during the test, as ``(kind, depth)``."""
    seen: list[tuple[str, int]] = []
    vit_init, jta_init = vitpose_module.ViT.__init__, jta_module.JointTemporalAggregator.__init__

    def vit(self, cfg):
        seen.append(("vit", cfg.depth))
        vit_init(self, cfg)

    def jta(self, *args, **kwargs):
        seen.append(("jta", kwargs.get("depth", 6)))
        jta_init(self, *args, **kwargs)

    monkeypatch.setattr(vitpose_module.ViT, "__init__", vit)
    monkeypatch.setattr(jta_module.JointTemporalAggregator, "__init__", jta)
    return seen


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """A small TemporalWrapper saved with save_pretrained (request it before ``built``)."""
    return saved_temporal(tmp_path)


def saved_temporal(tmp_path: Path) -> Path:
    model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1, jta_heads=4, gra_heads=4)
    return tarpose.save_pretrained(model, tmp_path / "model")


def edit_config(directory: Path, change) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def refused(directory: Path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        tarpose.load_model(directory)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# -- 1. sizes in config.json are checked before anything is built ---------------------------

@pytest.mark.parametrize("section", ["vitpose", "temporal"])
def test_a_config_that_claims_a_million_layers_is_refused_before_any_is_built(directory, built, section):
    field = "depth" if section == "vitpose" else "jta_depth"
    edit_config(directory, lambda c: c[section].update({field: 1_000_000}))
    refused(directory, f"{field} must be >= 1 and <= 1024, got 1000000")
    assert built == []


@pytest.mark.parametrize("section", ["vitpose", "temporal"])
def test_a_config_within_the_bounds_but_larger_than_its_weights_is_refused_before_building(directory, built, section):
    # 1000 layers pass the range check; the parameter count they imply is far beyond the file's
    field = "depth" if section == "vitpose" else "jta_depth"
    edit_config(directory, lambda c: c[section].update({field: 1000}))
    message = refused(directory, "implies .* values but the weights hold")
    assert f"{field}=1000" in message
    assert max(depth for _, depth in built) <= 2  # only the 1- and 2-layer probes on "meta"


def test_an_embedded_config_is_checked_like_config_json(directory, built):
    weights = directory / "model.safetensors"
    from safetensors.torch import load_file, save_file

    config = json.loads((directory / "config.json").read_text())
    config["vitpose"]["depth"] = 1000
    save_file(load_file(weights), weights, metadata={"format": "pt", "config": json.dumps(config)})
    (directory / "config.json").unlink()
    with pytest.raises(CheckpointError, match="implies .* values"):
        tarpose.load_model(weights)
    assert max(depth for _, depth in built) <= 2


def test_a_window_of_a_billion_frames_is_refused(directory):
    edit_config(directory, lambda c: c["temporal"].update({"num_frames": 1_000_000_001}))
    refused(directory, "num_frames must be >= 1 and <= 1024, got 1000000001")


@pytest.mark.parametrize(
    ("section", "values", "match"),
    [
        ("vitpose", {"patch_size": 0}, "patch_size must be >= 1"),
        ("vitpose", {"num_heads": 0}, "num_heads must be >= 1"),
        ("vitpose", {"depth": "2"}, "depth must be a number"),
        ("vitpose", {"embed_dim": 32.0}, "embed_dim must be an integer"),
        ("vitpose", {"qkv_bias": "yes"}, "qkv_bias must be true or false"),
        ("vitpose", {"input_size": [64]}, "input_size must have 2 values"),
        ("vitpose", {"input_size": [128, 96]}, "input_size=\\(128, 96\\).*position embeddings are for a 4x3 grid"),
        ("vitpose", {"colour": 1}, "unknown ViTPoseConfig fields \\['colour'\\]"),
        ("temporal", {"num_frames": "5"}, "num_frames must be a number"),
        ("temporal", {"jta_heads": -1}, "jta_heads must be >= 1"),
        ("temporal", {"restore": "magic"}, "restore must be one of"),
        ("temporal", {"speed": 2}, "unknown TARConfig fields \\['speed'\\]"),
        ("data", {"std": [0.2, 0.2]}, "std must have 3 values"),
        (None, {"extra": {}}, "unknown keys \\['extra'\\]"),
        (None, {"vitpose": [1, 2]}, "'vitpose' must be an object"),
    ],
)
def test_malformed_config_fields_give_one_line_errors(directory, built, section, values, match):
    edit_config(directory, lambda c: (c[section] if section else c).update(values))
    refused(directory, match)
    assert max((depth for _, depth in built), default=0) <= 2


def test_nested_json_bombs_and_huge_or_non_standard_configs_are_refused(directory):
    path = directory / "config.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # json.loads would raise RecursionError
    refused(directory, "nests lists/objects more than 16 deep")
    path.write_text('{"a": "' + "x" * (2 << 20) + '"}')
    refused(directory, "too large for a model config")
    path.write_text('{"format": "tarpose", "format_version": 2, "vitpose": {"layer_norm_eps": NaN}}')
    refused(directory, "NaN is not a JSON number")
    path.write_text('{"format": "tarpose", "format_version": 2, "name": "[{not a bracket}]"}')  # brackets in strings do not count
    with pytest.raises(CheckpointError, match="needs its config.json|implies|lacks") :
        tarpose.load_model(directory)


def test_configs_built_in_code_are_checked_too():
    with pytest.raises(ValueError, match="mask_threshold must be a finite number"):
        tarpose.TARConfig(mask_threshold=float("nan"))
    with pytest.raises(TypeError, match="num_frames must be a number"):
        tarpose.TARConfig(num_frames="5")
    with pytest.raises(ValueError, match="num_frames=1000001 is more than 1024 frames|num_frames must be >= 1 and <= 1024"):
        tarpose.create_model("tar-vitpose-s", num_frames=1_000_001)
    with pytest.raises(ValueError, match="patch_size must be >= 1"):
        tarpose.ViTPoseConfig(patch_size=0)


# -- 2. a diverging run never saves non-finite weights ----------------------------------------

def test_a_diverging_run_stops_and_keeps_the_last_finite_checkpoint(tmp_path, capsys):
    from tarpose.cli import main
    from tarpose.training import load_checkpoint

    out = tmp_path / "run"
    code = main([
        "train", "--model", "vitpose-s", "--model-opt", "embed_dim=32", "depth=2", "num_heads=4",
        "deconv_channels=16", "num_joints=5", "input_size=[64,48]",
        "--dataset", "toy_pose_data:ToyPoses", "--data-opt", "size=8", "--batch-size", "4", "--workers", "0",
        "--lr", "1e6", "--save-every", "1", "--log-every", "100", "--steps", "20", "--out", str(out),
    ])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    message = err[0]
    assert "training diverged: the loss was not finite at step" in message
    checkpoint = load_checkpoint(out / "checkpoint.safetensors")
    saved = checkpoint.info["step"]
    assert f"the last good checkpoint is {out / 'checkpoint.safetensors'} (step {saved})" in message
    assert all(torch.isfinite(v).all() for v in checkpoint.model.values())
    assert not (out / "model.safetensors").exists()  # no export of a diverged model


# -- 3. save_pretrained / convert replace a model together, with normal permissions ------------

def test_a_save_that_fails_half_way_leaves_the_previous_model_loadable(tmp_path, monkeypatch):
    import errno
    import os

    first = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1)
    directory = tarpose.save_pretrained(first, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    umask = os.umask(0)
    os.umask(umask)
    assert {p.name: p.stat().st_mode & 0o777 for p in directory.iterdir()} == dict.fromkeys(before, 0o666 & ~umask)

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    second = tarpose.TemporalWrapper(tiny_vitpose(num_joints=3, seed=1), num_frames=5, jta_depth=2)
    monkeypatch.setattr(Path, "write_text", full_disk)  # the weights are written, then the disk is full
    with pytest.raises(OSError, match="No space left"):
        tarpose.save_pretrained(second, directory)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # nothing replaced, no temporaries
    loaded = tarpose.load_model(directory)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in first.state_dict().items())
    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError):
        tarpose.save_pretrained(second, tmp_path / "new")
    assert not (tmp_path / "new").exists()  # a directory it created is not left behind empty


# -- 4. --out never destroys what is at the path; 8. SIGTERM; OS errors are one line ----------

def _predict(tmp_path: Path, out: Path, capsys) -> tuple[int, str]:
    from test_cli_predict import TINY, blob_video, registered_test_models

    from tarpose.cli import main

    video = tmp_path / "v.mp4"
    if not video.exists():
        blob_video(video, n=3)
    with registered_test_models():
        code = main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(out), "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    return code, "\n".join(line for line in lines if line.startswith("tarpose predict:"))


def test_out_writes_through_a_symlink_and_into_a_fifo(tmp_path, capsys):
    import os
    import stat
    import threading

    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, err = _predict(tmp_path, link, capsys)
    assert code == 0, err
    assert link.is_symlink() and "predictions" in json.loads(target.read_text())

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, err = _predict(tmp_path, fifo, capsys)
    reader.join(timeout=60)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode) and "predictions" in json.loads(received[0])
    assert sorted(p.name for p in tmp_path.iterdir() if ".partial" in p.name) == []


def test_out_refuses_other_special_files_and_reports_a_full_device_in_one_line(tmp_path, capsys):
    import socket
    import stat

    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        code, err = _predict(tmp_path, path, capsys)
    finally:
        server.close()
    assert code == 2 and len(err.splitlines()) == 1 and "is a special file" in err, err
    assert stat.S_ISSOCK(path.stat().st_mode)
    full = Path("/dev/full")
    if full.exists():  # writing there fails with ENOSPC; the device must stay a device
        code, err = _predict(tmp_path, full, capsys)
        assert code == 2 and err.splitlines() == ["tarpose predict: error: No space left on device: /dev/full"], err
        assert stat.S_ISCHR(full.stat().st_mode)


def test_sigterm_leaves_no_partial_files(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    script = f"""
import os, signal, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_cli_predict import TINY, blob_video, registered_test_models
from tarpose.cli import main
from tarpose.inference import StreamingPredictor
push, calls = StreamingPredictor.push, []
def terminated(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return push(self, *args, **kwargs)
StreamingPredictor.push = terminated
blob_video({str(tmp_path / 'v.mp4')!r}, n=6)
with registered_test_models():
    sys.exit(main(["predict", {str(tmp_path / 'v.mp4')!r}, "--model", TINY, "--full-frame", "--out",
                   {str(tmp_path / 'k.json')!r}, "--render", {str(tmp_path / 'r.mp4')!r}, "--quiet"]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 143, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "tarpose predict: terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]  # no output, no .partial


# -- 5, 6. non-finite values --------------------------------------------------------------------

def test_nan_in_an_excluded_frame_does_not_reach_the_output():
    torch.manual_seed(0)
    model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=5, jta_depth=2, restore="residual").eval()
    with torch.no_grad():  # every path from the window to the output open: GRA's gate, the heatmap embedding
        model.gra.gate.fill_(0.5)
        model.heatmap_embed.proj.weight.normal_(0, 0.1)
    clip = torch.randn(2, 5, 3, 64, 48)
    valid = torch.tensor([[False, True, True, True, True], [True, True, True, True, True]])
    other = clip.clone()
    other[0, 0] = torch.randn(3, 64, 48) * 100  # any values at all in the excluded frame
    poisoned = clip.clone()
    poisoned[0, 0] = float("nan")
    with torch.no_grad():
        expected = model(other, frame_valid=valid)
        got = model(poisoned, frame_valid=valid)
        features = torch.randn(1, 5, 32, 4, 3)
        features[0, 0] = float("inf")
        joints = model.jta(features, torch.rand(1, 5, 5, 16, 12), frame_valid=valid[:1])
    assert torch.isfinite(got).all() and torch.isfinite(joints).all()
    torch.testing.assert_close(got[0], expected[0], rtol=1e-5, atol=1e-6)  # the frame did not count


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} in the output")

    return json.loads(text, parse_constant=refuse)


def test_predict_never_writes_nan_and_skips_boxes_outside_the_frame(tmp_path, capsys, monkeypatch):
    from test_cli_predict import _tiny, blob_video, registered_test_models

    from tarpose.cli import main

    def nan_model():
        model = _tiny()
        with torch.no_grad():
            model.decoder.final_layer.bias.fill_(float("nan"))
        return model

    video = tmp_path / "v.mp4"
    blob_video(video, n=3)
    out = tmp_path / "k.json"
    with registered_test_models(**{"nan-test": nan_model}):
        assert main(["predict", str(video), "--model", "nan-test", "--full-frame", "--out", str(out), "--quiet"]) == 0
        records = _strict(out.read_text())["predictions"]
        assert records and all(k == [0, 0, 0] for r in records for k in r["keypoints"])
        assert all(r["score"] == 0 for r in records)

        boxes = tmp_path / "boxes.json"
        boxes.write_text(json.dumps([
            {"frame": 0, "bbox": [1e300, 1e300, 1e300, 1e300]},
            {"frame": 0, "bbox": [500, 10, 30, 40]},  # right of the 160-wide frame
            {"frame": 0, "bbox": [10, 10, 60, 80]},
        ]))
        capsys.readouterr()
        assert main(["predict", str(video), "--model", "tiny-tar-test", "--boxes", str(boxes), "--out", str(out),
                     "--quiet"]) == 0
    err = capsys.readouterr().err
    records = _strict(out.read_text())["predictions"]
    assert [r["bbox"] for r in records] == [[10, 10, 60, 80]]
    assert "warning: skipped 2 boxes entirely outside the frame (frames 0..0)" in err


# -- 7. files that are not checkpoints; 9. an empty batch ----------------------------------------

@pytest.mark.parametrize("name", ["passwd", "passwd.pt", "notes.pth", "weights.bin"])
def test_text_files_given_as_checkpoints_are_named_as_not_checkpoints(tmp_path, name):
    path = tmp_path / name
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    with pytest.raises(CheckpointError, match=f"{path} is not a checkpoint: .*starts with b'root:x:0'"):
        tarpose.load_model(path)


def test_a_damaged_pickle_is_a_checkpoint_error_naming_the_file(tmp_path):
    path = tmp_path / "damaged.pth"
    path.write_bytes(b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01h\x07u.")  # a memo reference that was never stored
    with pytest.raises(CheckpointError, match=f"cannot read {path} as a PyTorch checkpoint"):
        tarpose.load_model(path)


def test_an_empty_batch_gives_an_empty_result_of_the_right_shape():
    model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=5, jta_depth=1).eval()
    with torch.no_grad():
        out = model(torch.randn(0, 5, 3, 64, 48), return_initial=True)
        full = model(torch.randn(2, 5, 3, 64, 48))
    assert out.heatmaps.shape == (0, *full.shape[1:])
    assert out.initial_heatmaps.shape == (0, 5, *full.shape[1:])


def test_a_transformers_config_is_held_to_its_weights_too(tmp_path, built):
    from conftest import hf_vitpose

    directory = tmp_path / "hf"
    hf_vitpose().save_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    built.clear()
    config["backbone_config"]["image_size"] = [16384, 16384]  # a 1024x1024 position table (134 MB unchecked)
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="position embeddings are for a 4x3 grid"):
        tarpose.load_model(directory)
    config["backbone_config"]["image_size"] = [64, 48]
    config["backbone_config"]["num_attention_heads"] = "many"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="malformed checkpoint config"):
        tarpose.load_model(directory)
    assert built == []


def test_resuming_a_checkpoint_with_damaged_tensor_data_is_refused(tmp_path):
    from tarpose.training import load_checkpoint, save_checkpoint

    model = tiny_vitpose()
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, model.state_dict(), None, {"step": 3})
    assert load_checkpoint(path).info == {"step": 3}
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x40  # one bit of a weight flips; the header still parses
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is corrupted: its tensors do not match the checksum"):
        load_checkpoint(path)


# -- weak spots: Hub look-ups, evaluate, dtypes, video ----------------------------------------

def test_a_mistyped_local_path_and_an_unreachable_hub_fail_at_once(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub.utils import LocalEntryNotFoundError

    from tarpose.weights import sources

    calls: list[str] = []

    def unreachable(repo_id, filename, **kwargs):
        calls.append(filename)
        raise LocalEntryNotFoundError("connection timed out and the file is not cached")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    # the Hub answered tarpose's one probe (a machine without network is test_rough_edges'), but
    # not the download
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=5.0: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="the directory runs/ is here, so this is taken as a mistyped local path"):
        tarpose.load_model("runs/exp1")
    assert calls == []
    with pytest.raises(FileNotFoundError, match="the Hugging Face Hub could not be reached"):
        tarpose.load_model("someone/some-model")
    assert calls == ["model.safetensors"]  # not every file name, each with its retries


def test_evaluate_refuses_nan_scores_instead_of_ranking_them_first(tmp_path, capsys):
    import copy

    from test_posetrack_eval import hand_case

    from tarpose.cli import main
    from tarpose.eval.posetrack import evaluate_posetrack

    gt, pred = hand_case()
    poisoned = copy.deepcopy(pred)
    poisoned["annotations"][0]["scores"][0] = float("nan")
    with pytest.raises(ValueError, match="scores that are not finite numbers"):
        evaluate_posetrack(gt, poisoned)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt" / "000001_test.json").write_text(json.dumps(gt))
    (tmp_path / "pred" / "000001_test.json").write_text(json.dumps(poisoned))  # NaN, as Python writes it
    assert main(["evaluate", "posetrack", str(tmp_path / "gt"), str(tmp_path / "pred")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not finite numbers" in err[0]


def test_mixed_dtypes_are_named_in_our_own_words():
    model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1).eval()
    with pytest.raises(TypeError, match=r"images is torch.float16 but the model's weights are torch.float32"):
        model(torch.randn(1, 3, 3, 64, 48).half())
    with pytest.raises(TypeError, match=r"feature_map is torch.float16 but the model's weights are torch.float32"):
        model.gra(torch.randn(1, 32, 4, 3).half(), torch.randn(1, 5, 32))
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():  # autocast mixes dtypes on purpose
        assert model(torch.randn(1, 3, 3, 64, 48).bfloat16()).shape == (1, 5, 16, 12)


def test_a_truncated_video_is_reported_with_the_frames_read(tmp_path, capsys):
    from conftest import SHARED
    from test_cli_predict import TINY, registered_test_models

    from tarpose.cli import main
    from tarpose.io import VideoReader

    source = SHARED / "data" / "vtest.avi"
    if not source.exists():
        pytest.skip("needs shared/data/vtest.avi")
    data = source.read_bytes()
    video = tmp_path / "cut.avi"
    video.write_bytes(data[: len(data) // 20])  # the first 5%: the header still announces every frame
    with VideoReader(video) as reader:
        announced, read = reader.num_frames, sum(1 for _ in reader)
    assert read < announced
    with registered_test_models():
        code = main(["predict", str(video), "--model", TINY, "--full-frame", "--out", str(tmp_path / "k.json"), "--quiet"])
    assert code == 0
    assert f"warning: the video ended after {read} of the {announced} frames its header announces" in capsys.readouterr().err
    assert len(json.loads((tmp_path / "k.json").read_text())["predictions"]) == read


def test_a_float_frame_of_0_to_255_is_refused_not_read_as_0_to_1():
    import numpy as np

    from tarpose.inference import StreamingPredictor

    predictor = StreamingPredictor(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1).eval())
    frame = np.random.default_rng(0).uniform(0, 255, (120, 160, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="a float frame must hold values in 0..1, but this one reaches 25"):
        predictor.push(frame, [[10, 10, 50, 60]], [0])
    predictor.push(frame / 255, [[10, 10, 50, 60]], [0])  # the same frame in 0..1 is taken
    with pytest.raises(ValueError, match="float frame must hold values in 0..1"):
        predictor.push(torch.from_numpy(frame).permute(2, 0, 1), [[10, 10, 50, 60]], [0])


def test_os_errors_on_output_paths_are_one_line_with_exit_2(tmp_path, capsys):
    from test_posetrack_eval import hand_case

    from tarpose.cli import main

    gt, pred = hand_case()
    for name, data in (("gt", gt), ("pred", pred)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "000001_test.json").write_text(json.dumps(data))
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    cases = [
        ["evaluate", "posetrack", str(tmp_path / "gt"), str(tmp_path / "pred"), "--json", str(blocker / "r.json")],
        ["convert", str(tmp_path / "missing.pt"), str(blocker / "out")],
        ["train", "--model", "vitpose-s", "--dataset", "toy_pose_data:ToyPoses", "--steps", "1", "--out", str(blocker / "run")],
    ]
    if Path("/dev/full").exists():
        cases.append(["evaluate", "posetrack", str(tmp_path / "gt"), str(tmp_path / "pred"), "--json", "/dev/full"])
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = [line for line in capsys.readouterr().err.strip().splitlines() if "warning" not in line]
        assert len(err) == 1 and err[0].startswith(f"tarpose {argv[0]}: error: "), (argv, err)
    assert blocker.read_text() == "a file where a directory should be"


# == issue 26: the second pass ====================================================================

def _run_cli(tmp_path: Path, argv: list[str], prelude: str = "") -> tuple[int, str]:
    """``tarpose ARGV`` in a fresh process (a native crash must not take pytest with it), the test
    models loadable by name; its exit status and stderr."""
    import subprocess
    import sys

    from conftest import ROOT

    script = f"""
import sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_cli_predict import registered_test_models
from tarpose.cli import main
{prelude}
with registered_test_models():
    sys.exit(main({argv!r}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            check=False, cwd=tmp_path)
    return result.returncode, result.stderr


def _one_line(err: str, command: str = "predict") -> str:
    """The command's one error line; no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if f"tarpose {command}: error" in line]
    assert len(lines) == 1, err
    return lines[0]


# -- 1. nothing handed to a native library that it cannot take --------------------------------

@pytest.mark.parametrize("size", [(1, 1), (2, 2), (63, 63), (64, 128)])
def test_hog_on_frames_smaller_than_its_window_finds_no_one_instead_of_crashing(tmp_path, size):
    pytest.importorskip("cv2")
    from tarpose.io.render import write_png

    height, width = size
    image = tmp_path / "one.png"
    write_png(image, np.full((height, width, 3), 128, np.uint8))
    code, err = _run_cli(tmp_path, ["predict", str(image), "--model", "tiny-tar-test", "--detector", "hog",
                                    "--out", str(tmp_path / "o.json"), "--quiet"])
    assert code == 0, err
    assert json.loads((tmp_path / "o.json").read_text())["predictions"] == []


def test_a_hog_threshold_that_makes_every_window_a_person_is_refused(tmp_path, capsys):
    pytest.importorskip("cv2")
    from tarpose.cli import main

    assert main(["predict", "x.mp4", "--model", "m", "--detector", "hog", "--score-threshold", "1e-300",
                 "--out", str(tmp_path / "o.json")]) == 2
    assert "score threshold must be in [0.01, 1), got 1e-300" in _one_line(capsys.readouterr().err)


# -- 2, 3, 19. a model directory loads only when complete and consistent ---------------------------

def _killed_save(tmp_path: Path, directory: Path, renames: int) -> None:
    """``save_pretrained`` of a tiny model into ``directory``, killed (as SIGKILL would: no cleanup)
    after ``renames`` of its renames."""
    import subprocess
    import sys

    from conftest import ROOT

    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
import torch, tarpose
from conftest import tiny_vitpose
torch.manual_seed(1)
model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1, jta_heads=2, gra_heads=4)
replace, done = os.replace, []
def killed(src, dst):
    if len(done) == {renames}:
        os._exit(9)
    done.append(1)
    replace(src, dst)
os.replace = killed
tarpose.save_pretrained(model, {str(directory)!r})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 9, result.stderr


def test_the_temporaries_of_a_killed_save_are_never_loaded(tmp_path):
    directory = tmp_path / "converted"
    _killed_save(tmp_path, directory, renames=0)
    left = sorted(p.name for p in directory.iterdir())
    assert left and all(name.startswith(".") and ".partial" in name for name in left), left
    with pytest.raises(FileNotFoundError, match="only the unfinished temporary .*of a save that was interrupted"):
        tarpose.load_model(directory)


def test_a_tarpose_directory_without_its_weights_file_loads_no_other_file(directory):
    (directory / "model.safetensors").rename(directory / "backup.safetensors")
    with pytest.raises(FileNotFoundError, match=r"holds no model.safetensors or pytorch_model.bin \(backup.safetensors\)"):
        tarpose.load_model(directory)


def test_new_weights_beside_the_old_config_are_refused(directory, tmp_path):
    _killed_save(tmp_path, directory, renames=1)  # model.safetensors replaced (jta_heads=2), not config.json
    message = refused(directory, "config.json disagrees with the config its weights carry")
    assert "temporal.jta_heads" in message and "save the model again" in message


def test_a_killed_save_leaves_temporaries_that_the_next_save_removes(directory, tmp_path):
    _killed_save(tmp_path, directory, renames=0)
    assert any(".partial" in p.name for p in directory.iterdir())
    tarpose.save_pretrained(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1), directory)
    assert sorted(p.name for p in directory.iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_sigterm_while_a_temporary_is_being_created_leaves_none(tmp_path):
    from test_cli_predict import blob_video

    blob_video(tmp_path / "v.mp4", n=2)
    prelude = """
import os, signal, tempfile
make = tempfile.mkstemp
def terminated_at_once(*args, **kwargs):  # the signal lands as the file has just been created
    made = make(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return made
tempfile.mkstemp = terminated_at_once
"""
    code, err = _run_cli(tmp_path, ["predict", "v.mp4", "--model", "tiny-tar-test", "--full-frame", "--out", "k.json",
                                    "--quiet"], prelude)
    assert code == 143 and err.strip().splitlines()[-1] == "tarpose predict: terminated", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


@pytest.mark.parametrize("writer", ["atomic_output", "atomic_outputs"])
def test_an_interrupt_inside_the_temporarys_creation_leaves_none(tmp_path, monkeypatch, writer):
    """A signal that another thread receives runs its Python handler at once, whatever the main
    thread holds back: the interrupt can land after the temporary exists and before its name is
    known. The write still removes it (this process's new temporaries of that output)."""
    import tempfile

    from tarpose import atomic

    make = tempfile.mkstemp

    def interrupted(*args, **kwargs):
        make(*args, **kwargs)
        raise KeyboardInterrupt  # the handler ran inside the creation

    (tmp_path / "k.json").write_text("earlier")
    monkeypatch.setattr(tempfile, "mkstemp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        if writer == "atomic_output":
            with atomic.atomic_output(tmp_path / "k.json") as tmp:
                tmp.write_text("new")
        else:
            with atomic.atomic_outputs([tmp_path / "k.json"]) as (tmp,):
                tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]
    assert (tmp_path / "k.json").read_text() == "earlier"


# -- 4. nothing of the user's is overwritten or deleted unless the run completes --------------------

@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_a_failed_render_to_images_keeps_the_images_of_the_earlier_run(tmp_path, capsys, monkeypatch, failure):
    from test_cli_predict import TINY, blob_video, registered_test_models

    from tarpose.cli import main
    from tarpose.inference import StreamingPredictor

    blob_video(tmp_path / "v.mp4", n=4)
    argv = ["predict", str(tmp_path / "v.mp4"), "--model", TINY, "--full-frame", "--render", str(tmp_path / "x.png"),
            "--quiet"]
    with registered_test_models():
        assert main(argv) == 0
        before = {p.name: p.read_bytes() for p in tmp_path.glob("x_*.png")}
        assert len(before) == 4
        push, calls = StreamingPredictor.push, []

        def failing(self, *args, **kwargs):  # the second run fails after drawing frame 0
            calls.append(1)
            if len(calls) == 3:
                raise failure("stop")
            return push(self, *args, **kwargs)

        monkeypatch.setattr(StreamingPredictor, "push", failing)
        monkeypatch.setattr("tarpose.io.render.draw_poses", lambda frame, *a, **k: frame * 0)  # other pictures
        try:
            main(argv)
        except RuntimeError:
            pass
    assert len(calls) == 3
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "v.mp4"}
    assert after == before  # every earlier image as it was, no temporary left


# -- 16. every listed render format works ----------------------------------------------------------

def test_render_to_webm_writes_a_video_that_reads_back(tmp_path, capsys):
    from test_cli_predict import TINY, blob_video, registered_test_models

    from tarpose.cli import main
    from tarpose.io import VideoReader

    blob_video(tmp_path / "v.mp4", n=3)
    with registered_test_models():
        code = main(["predict", str(tmp_path / "v.mp4"), "--model", TINY, "--full-frame", "--render",
                     str(tmp_path / "r.webm"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    with VideoReader(tmp_path / "r.webm") as reader:
        assert reader.codec in ("vp9", "vp8", "av1", "libdav1d") and sum(1 for _ in reader) == 3


# -- 11, 12. weights that cannot give poses are refused at load -------------------------------------

def _rewrite_weights(directory: Path, change) -> None:
    """Change the tensors of a saved model, its metadata (the embedded config) kept."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    weights = directory / "model.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        metadata = f.metadata()
    state = load_file(weights)
    change(state)
    save_file(state, weights, metadata=metadata)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.update({"jta.query_embed": s["jta.query_embed"].long()}),
         "integer or bool tensors where the model has floating point ones \\(1\\): jta.query_embed: checkpoint torch.int64"),
        (lambda s: s.update({k: v.bool() for k, v in s.items()}), "integer or bool tensors .* \\(\\d\\d+\\)"),
        (lambda s: s["encoder.blocks.0.attn.qkv.weight"].view(-1)[7].fill_(float("nan")),
         "1 tensor hold NaN or infinity \\(encoder.blocks.0.attn.qkv.weight\\)"),
        (lambda s: s["jta.query_embed"].fill_(float("-inf")), "hold NaN or infinity \\(jta.query_embed\\)"),
    ],
)
def test_integer_bool_and_non_finite_weights_are_refused_in_one_line(directory, tmp_path, capsys, change, match):
    from test_cli_predict import blob_video

    from tarpose.cli import main

    _rewrite_weights(directory, change)
    refused(directory, match)
    blob_video(tmp_path / "v.mp4", n=2)
    assert main(["predict", str(tmp_path / "v.mp4"), "--model", str(directory), "--full-frame", "--out",
                 str(tmp_path / "k.json"), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(directory) in line and ("hold NaN or infinity" in line or "integer or bool tensors" in line), line
    assert not (tmp_path / "k.json").exists()


def test_a_pickled_state_dict_with_non_string_keys_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({1: torch.zeros(2), "x": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match=f"{path}: a state dict's keys are parameter names \\(strings\\), but it holds 1"):
        tarpose.load_model(path)


# -- 5, 6, 20. keypoint filters: state bounded, a broken keypoint fails nothing ---------------------

@pytest.mark.parametrize("spec", ["one-euro", "kalman", "median:window=5"])
def test_the_filter_state_of_ended_tracks_is_released(spec):
    from tarpose.filters import TrackFilter

    smoother = TrackFilter(spec, max_gap=50)
    held = []
    for t in range(400):  # a new person every frame, each seen once (a crowd passing by)
        smoother.push([t], torch.full((1, 2, 2), float(t), dtype=torch.float64), item=t)
        held.append(smoother.tracks)
    assert max(held) <= 52, max(held)  # the tracks of the last max_gap frames, not all 400
    smoother = TrackFilter(spec, max_gap=50)
    for t in range(60):  # one person who stays: never released
        smoother.push([7], torch.full((1, 2, 2), float(t), dtype=torch.float64))
    assert smoother.tracks == 1


def test_a_non_finite_keypoint_is_given_back_missing_and_filters_the_others_as_if_absent():
    from tarpose.filters import TrackFilter, build_filter

    x = torch.linspace(0, 10, 12, dtype=torch.float64)[:, None, None].expand(12, 2, 2).clone()
    x[4, 1] = float("nan")  # one joint of one frame broken
    x[7, 0, 0] = float("inf")
    smoother = TrackFilter("median:window=3")
    out = [kp for t in range(12) for _, kp in smoother.push([1], x[t][None])] + [kp for _, kp in smoother.flush()]
    got = torch.cat(out)  # (12, 2, 2)
    valid = torch.isfinite(x).all(-1)
    expected = build_filter("median:window=3")(torch.where(valid[..., None], x, 0.0), valid=valid)
    assert torch.isnan(got[4, 1]).all() and torch.isnan(got[7, 0]).all()
    torch.testing.assert_close(got[valid], expected[valid], rtol=0, atol=1e-12)


def test_a_refused_push_queues_nothing():
    from tarpose.filters import TrackFilter

    smoother = TrackFilter("median:window=3")
    released = smoother.push([1], torch.zeros(1, 2, 2), item="a")
    with pytest.raises(ValueError, match="every frame must have 2 joints, got 3"):
        smoother.push([1], torch.zeros(1, 3, 2), item="refused")
    with pytest.raises(ValueError, match="scores with every push or with none"):
        smoother.push([1], torch.zeros(1, 2, 2), torch.ones(1, 2), item="refused")
    released += smoother.push([1], torch.zeros(1, 2, 2), item="b")
    assert [item for item, _ in released + smoother.flush()] == ["a", "b"]


def test_one_broken_person_does_not_fail_a_filtered_run(tmp_path, capsys):
    from test_cli_predict import _tiny, blob_video, registered_test_models

    from tarpose.cli import main

    def nan_model():
        model = _tiny()
        with torch.no_grad():
            model.decoder.final_layer.bias.fill_(float("nan"))
        return model

    blob_video(tmp_path / "v.mp4", n=4)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"frame": t, "bbox": b, "track_id": i} for t in range(4)
                                 for i, b in enumerate([[0, 0, 1e300, 1e300], [10, 10, 60, 80]])]))
    out = tmp_path / "k.json"
    with registered_test_models(**{"nan-test": nan_model}):
        for spec in ("one-euro", "median:window=3", "savgol:window=3,order=1"):
            assert main(["predict", str(tmp_path / "v.mp4"), "--model", "tiny-tar-test", "--boxes", str(boxes),
                         "--filter", spec, "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
            records = _strict(out.read_text())["predictions"]
            assert len(records) == 8
            assert all(k != [0, 0, 0] for r in records if r["track_id"] == 1 for k in r["keypoints"])
        assert main(["predict", str(tmp_path / "v.mp4"), "--model", "nan-test", "--full-frame", "--filter", "one-euro",
                     "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    assert all(k == [0, 0, 0] for r in _strict(out.read_text())["predictions"] for k in r["keypoints"])


# -- 7. filter windows bounded by an option --------------------------------------------------------

@pytest.mark.parametrize("window", ["99999999999999999999", "1000000001", "1601"])
def test_a_filter_window_beyond_the_bound_is_one_line_naming_how_to_raise_it(tmp_path, capsys, window):
    from tarpose.cli import main
    from tarpose.filters import build_filter

    assert main(["predict", "v.mp4", "--model", "m", "--full-frame", "--filter", f"median:window={window}",
                 "--out", str(tmp_path / "k.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"--filter: median: window={window} is more than 101 frames" in line and f"max_window={window}" in line
    assert build_filter("savgol:window=301,max_window=301").window == 301  # raised as the message says
    assert build_filter("median:window=301,max_window=301").spec() == "median:window=301,causal=false"


# -- 8. persons per model call bounded ---------------------------------------------------------------

@pytest.mark.parametrize("mode", ["centred", "exact"])
def test_a_crowd_is_run_in_calls_of_at_most_max_batch_persons_with_the_same_poses(mode):
    from test_cli_predict import _tiny

    from tarpose.inference import StreamingPredictor

    model = _tiny()
    sizes: list[tuple[str, int]] = []
    encode, aggregate = model.encode, model.aggregate_restore
    model.encode = lambda images: (sizes.append(("encode", len(images))), encode(images))[1]
    model.aggregate_restore = lambda f, *a, **k: (sizes.append(("aggregate", len(f))), aggregate(f, *a, **k))[1]
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    boxes = [[[5 + 3 * i + t, 10 + 2 * i, 40, 60] for i in range(7)] for t in range(4)]

    def run(max_batch):
        predictor = StreamingPredictor(model, mode=mode, max_batch=max_batch)
        return list(predictor.run((f, b, range(7)) for f, b in zip(frames, boxes)))

    whole = run(32)
    sizes.clear()
    chunked = run(3)
    assert sizes and max(n for _, n in sizes) <= 3 * 3  # exact mode encodes a window of T=3 frames a call
    assert max(n for kind, n in sizes if kind == "aggregate") <= 3
    for a, b in zip(whole, chunked, strict=True):
        assert a.track_ids == b.track_ids
        # other batch shapes sum in another order: the same poses to a thousandth of a pixel
        torch.testing.assert_close(a.keypoints, b.keypoints, rtol=0, atol=1e-3)
        torch.testing.assert_close(a.scores, b.scores, rtol=0, atol=1e-4)


# -- 15. --padding -------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["inf", "1e308", "0", "nan", "-1"])
def test_padding_outside_its_range_is_one_line(tmp_path, capsys, padding):
    from tarpose.cli import main

    assert main(["predict", "v.mp4", "--model", "m", "--full-frame", "--padding", padding, "--out",
                 str(tmp_path / "k.json")]) == 2
    assert "--padding (the box enlargement) must be in (0, 10]" in _one_line(capsys.readouterr().err)
    with pytest.raises(ValueError, match="padding .* must be a number in \\(0, 10\\]"):
        from test_cli_predict import _tiny

        from tarpose.inference import StreamingPredictor

        StreamingPredictor(_tiny(), padding=float(padding))


# -- 9, 10. images: bounded before decoding, any bit depth read right ---------------------------------

def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that announces ``width x height`` pixels in a few bytes (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(20000, 20000), (13000, 13000), (8192, 8192)])
def test_an_image_larger_than_max_pixels_is_refused_before_it_is_decoded(tmp_path, capsys, size):
    from tarpose.cli import main
    from tarpose.io import read_image

    image = tmp_path / "bomb.png"
    _png_header_only(image, *size)
    from test_cli_predict import registered_test_models

    with registered_test_models():
        assert main(["predict", str(image), "--model", "tiny-tar-test", "--full-frame", "--out",
                     str(tmp_path / "k.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"image {str(image)!r}" in line and "more than" in line and "40,000,000" in line, line
    with pytest.raises(ValueError, match="more than"):
        read_image(image)
    if size == (8192, 8192):  # allowed, it is decoded: and its missing data found
        with pytest.raises(ValueError, match="cannot read image"):
            read_image(image, max_pixels=8192 * 8192)


def test_a_video_with_huge_frames_is_refused_before_any_is_decoded(tmp_path, capsys):
    from tarpose.cli import main
    from tarpose.io import VideoWriter

    video = tmp_path / "big.mp4"
    with VideoWriter(video, fps=5) as writer:
        writer.write(np.zeros((240, 320, 3), np.uint8))
    from test_cli_predict import registered_test_models

    with registered_test_models():
        assert main(["predict", str(video), "--model", "tiny-tar-test", "--full-frame", "--max-pixels", "10000",
                     "--out", str(tmp_path / "k.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"video {str(video)!r} is 320x240 = 76,800 pixels a frame, more than the limit of 10,000" in line
    assert "--max-pixels 76800" in line


def test_images_of_16_bits_and_floats_are_read_at_their_brightness(tmp_path):
    from PIL import Image

    from tarpose.io import read_image

    Image.fromarray(np.full((4, 5), 1000, np.uint16)).save(tmp_path / "g16.png")  # 1000/65535: nearly black
    assert (read_image(tmp_path / "g16.png") == 4).all()
    Image.fromarray(np.full((4, 5), 51400, np.uint16)).save(tmp_path / "g16b.png")
    assert (read_image(tmp_path / "g16b.png") == 200).all()
    Image.fromarray(np.full((4, 5), 0.5, np.float32)).save(tmp_path / "f.tif")  # 0..1 float
    assert (read_image(tmp_path / "f.tif") == 128).all()
    Image.fromarray(np.full((4, 5), 200.0, np.float32)).save(tmp_path / "f255.tif")
    with pytest.raises(ValueError, match="holds float pixels of 200..200: a float image must hold values in 0..1"):
        read_image(tmp_path / "f255.tif")
    Image.fromarray(np.full((4, 5), 1 << 20, np.int32)).save(tmp_path / "i32.tif")
    with pytest.raises(ValueError, match="32-bit integer pixels"):
        read_image(tmp_path / "i32.tif")
    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")  # 8 bits: as before
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), rgb)


# -- 13, 14, 18. training and saving: one-line errors, resumes that are what they say ---------------

_TRAIN = ["train", "--model", "vitpose-s", "--model-opt", "embed_dim=32", "depth=2", "num_heads=4",
          "deconv_channels=16", "num_joints=5", "input_size=[64,48]", "--dataset", "toy_pose_data:ToyPoses",
          "--batch-size", "4", "--workers", "0", "--log-every", "1", "--save-every", "1"]


def test_a_full_disk_while_saving_is_an_os_error_naming_the_file(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    # a file size limit fails writes beyond it with EFBIG, as a full disk fails them with ENOSPC
    script = f"""
import errno, resource, signal, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
import tarpose
from conftest import tiny_vitpose
from tarpose.cli import main
from tarpose.training import save_checkpoint
model = tiny_vitpose()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
for save in (lambda: tarpose.save_pretrained(model, {str(tmp_path / 'model')!r}),
             lambda: save_checkpoint({str(tmp_path / 'c.safetensors')!r}, model.state_dict())):
    try:
        save()
    except OSError as error:
        print(error.errno == errno.EFBIG, error.filename)
sys.exit(main({[*_TRAIN, '--data-opt', 'size=8', '--steps', '2', '--out', str(tmp_path / 'run')]!r}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            check=False, cwd=ROOT / "tests")
    assert result.stdout.splitlines()[:2] == [f"True {tmp_path / 'model' / 'model.safetensors'}",
                                          f"True {tmp_path / 'c.safetensors'}"], result.stderr
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"tarpose train: error: File too large: {tmp_path / 'run' / 'checkpoint.safetensors'}")
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


def _train(tmp_path: Path, capsys, *more: str) -> tuple[int, list[str]]:
    from tarpose.cli import main

    capsys.readouterr()
    code = main([*_TRAIN, "--out", str(tmp_path / "run"), *more])
    return code, [line for line in capsys.readouterr().err.strip().splitlines() if "error" in line]


def test_resume_after_a_torn_log_line_and_refusing_a_damaged_one(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "--steps", "2")
    assert code == 0, err
    log = tmp_path / "run" / "log.jsonl"
    log.write_text(log.read_text() + '{"step": 3, "epo')  # a crash in the middle of a write
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "--steps", "2", "--resume")  # (at its end: reads the log)
    assert code == 0, err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2]
    log.write_text('{"step": 1}\n{"loss": 1.0}\n' + log.read_text())  # a line that is no record
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "--steps", "2", "--resume")
    assert code == 2 and err == [f'tarpose train: error: cannot resume: {log} line 2 is not a log record with '
                                 'a whole "step"; remove that line'], err


def test_resuming_with_other_dataset_options_of_the_same_size_is_refused(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "--steps", "1")
    assert code == 0, err
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "sigma=3.0", "--steps", "1", "--resume")
    assert code == 2 and len(err) == 1 and "the dataset's options changed" in err[0], err


@pytest.mark.parametrize(("option", "message"), [
    (["--clip-grad", "nan"], "clip_grad must be a finite number > 0 or None, got nan"),
    (["--clip-grad", "inf"], "clip_grad must be a finite number > 0 or None, got inf"),
    (["--joint-weights", "nan,1,1,1,1"], "joint_weights must be J finite non-negative floats, got [nan, 1.0"),
])
def test_non_finite_training_options_are_refused_before_training(tmp_path, capsys, option, message):
    code, err = _train(tmp_path, capsys, "--data-opt", "size=8", "--steps", "1", *option)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run").exists()


# -- 17. a boxes file nested deep ----------------------------------------------------------------------

def test_a_boxes_file_nested_100000_deep_is_one_line(tmp_path, capsys):
    from test_cli_predict import registered_test_models

    from tarpose.cli import main

    boxes = tmp_path / "boxes.json"
    boxes.write_text("[" * 100_000 + "]" * 100_000)
    with registered_test_models():
        assert main(["predict", "v.mp4", "--model", "tiny-tar-test", "--boxes", str(boxes), "--out",
                     str(tmp_path / "k.json")]) == 2
    assert "nests lists/objects more than 16 deep" in _one_line(capsys.readouterr().err)


# -- 20. the smaller ones ------------------------------------------------------------------------------

def test_a_hundred_thousand_threads_is_named_as_the_threads_option(tmp_path, capsys):
    from tarpose.cli import main
    from tarpose.threads import usable_cores

    assert main(["predict", "v.mp4", "--model", "m", "--full-frame", "--threads", "100000", "--out",
                 str(tmp_path / "k.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"--threads must be at most {4 * usable_cores()} (4 per usable core), got 100000" in line


@pytest.mark.parametrize("field", ["jta_heads", "gra_heads"])
def test_heads_that_do_not_divide_the_width_name_the_config(directory, field):
    edit_config(directory, lambda c: c["temporal"].update({field: 5}))
    message = refused(directory, "its config does not make a model")
    assert str(directory) in message and f"{field}=5" in message and "divisible" in message


def _recrafted(path: Path, change) -> None:
    """Rewrite a checkpoint's metadata (its tensors kept)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    change(metadata)
    save_file(load_file(path), path, metadata=metadata)


@pytest.mark.parametrize(("change", "match"), [
    (lambda m: m.pop("crc32"), "it has no checksum of its tensors \\(crc32\\)"),
    (lambda m: m.update(version="x"), "its checkpoint version 'x' is not a number"),
    (lambda m: m.update(document="{not json"), "its metadata does not describe a training state \\(JSONDecodeError"),
    (lambda m: m.update(document='{"optimizer": null}'), "its metadata does not describe a training state \\(KeyError"),
    (lambda m: m.update(document='{"info": [1], "optimizer": null}'), "info is a list"),
    (lambda m: m.update(document='{"info": {}, "optimizer": {"state": {"0": {"x": {"tensor": "gone"}}}, "param_groups": []}}'),
     "does not describe a training state \\(KeyError: 'gone'\\)"),
])
def test_crafted_checkpoint_metadata_is_refused_naming_the_file(tmp_path, change, match):
    from tarpose.training import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, tiny_vitpose().state_dict(), None, {"step": 3})
    _recrafted(path, change)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{path} is damaged") and "\n" not in str(info.value)


def test_boxes_smaller_than_a_pixel_are_skipped_not_given_a_new_track_every_frame(tmp_path):
    from test_cli_predict import _tiny

    from tarpose.detection import PersonDetector
    from tarpose.inference import PoseInferencer

    class Tiny(PersonDetector):  # a real box and one of 1e-300 pixels, in every frame
        def detect(self, frames, indices):
            from tarpose.detection import Detections

            return [Detections(torch.tensor([[10.0, 10, 60, 80], [30.0, 30, 1e-300, 1e-300]], dtype=torch.float64),
                               torch.tensor([0.9, 0.9], dtype=torch.float64))
                    for _ in frames]

    inferencer = PoseInferencer(_tiny(), detector=Tiny())
    frames = np.random.default_rng(0).integers(0, 255, (5, 120, 160, 3), dtype=np.uint8)
    ids = {i for poses in inferencer(frames) for i in poses.track_ids}
    assert len(ids) == 1 and inferencer.summary.tiny == [0, 1, 2, 3, 4]

"""ONNX export: onnxruntime equals PyTorch (atol 1e-4), and the streaming loop runs on it."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import peaked_heatmaps
from tarpose.cli import main
from tarpose.inference import OnnxTemporalModel, StreamingPredictor, export_onnx, onnx_paths
from test_cli_predict import TINY, _registered, _tiny, blob_video, leftovers, registered_test_models  # noqa: F401
from test_stream import random_video

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

pytestmark = pytest.mark.slow  # the exporter traces the model: ~10-20 s


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny temporal model (T=3, 17 joints) exported by `tarpose export`."""
    directory = tmp_path_factory.mktemp("onnx")
    with registered_test_models():
        assert main(["export", TINY, str(directory / "tiny.onnx")]) == 0
    return directory


def test_export_writes_two_graphs_with_metadata(exported, capsys):
    assert sorted(p.name for p in exported.iterdir()) == ["tiny.encode.onnx", "tiny.temporal.onnx"]
    onnx_model = OnnxTemporalModel(exported / "tiny.onnx")
    assert (onnx_model.num_frames, onnx_model.target_index, onnx_model.num_joints) == (3, 1, 17)
    assert onnx_model.input_size == (64, 48)
    assert onnx_paths(exported / "tiny.encode.onnx") == onnx_paths(exported / "tiny")


def test_graphs_record_the_geometry_and_a_graph_without_one_is_refused(exported, tmp_path):
    """The graph's data config carries the model's geometry; a graph that records none (exported
    by a development version before tarpose recorded it) is refused, not read in a guessed one."""
    import onnx

    assert OnnxTemporalModel(exported / "tiny.onnx").data_config == _tiny().data_config
    for name in ("tiny.encode.onnx", "tiny.temporal.onnx"):
        (tmp_path / name).write_bytes((exported / name).read_bytes())
    graph = onnx.load(str(tmp_path / "tiny.temporal.onnx"))
    for entry in graph.metadata_props:
        if entry.key == "tarpose.data_config":
            stored = json.loads(entry.value)
            assert stored["geometry"] == "udp"
            entry.value = json.dumps({k: v for k, v in stored.items() if k != "geometry"})
    onnx.save(graph, str(tmp_path / "tiny.temporal.onnx"))
    with pytest.raises(ValueError, match="does not record its geometry: export it again"):
        OnnxTemporalModel(tmp_path / "tiny.onnx")


@pytest.mark.parametrize("batch", [1, 4])
def test_onnxruntime_equals_pytorch(exported, batch):
    model = _tiny()
    onnx_model = OnnxTemporalModel(exported / "tiny.onnx")
    g = torch.Generator().manual_seed(batch)
    images = torch.randn(batch * 3, 3, 64, 48, generator=g)
    with torch.no_grad():
        features, heatmaps = model.encode(images)
    o_features, o_heatmaps = onnx_model.encode(images)
    torch.testing.assert_close(o_features, features, atol=1e-4, rtol=0)
    torch.testing.assert_close(o_heatmaps, heatmaps, atol=1e-4, rtol=0)
    window = features.view(batch, 3, *features.shape[1:]), heatmaps.view(batch, 3, *heatmaps.shape[1:])
    valid = torch.ones(batch, 3, dtype=torch.bool)
    valid[0, 2] = False  # the last frame of the first window is missing
    for frame_valid in (None, valid):
        with torch.no_grad():
            expected = model.aggregate_restore(*window, frame_valid)
        torch.testing.assert_close(onnx_model.aggregate_restore(*window, frame_valid), expected, atol=1e-4, rtol=0)
    assert (model.aggregate_restore(*window, valid) - model.aggregate_restore(*window)).abs().max() > 1e-3


def test_streaming_under_onnxruntime_equals_pytorch(exported, tmp_path, capsys):
    frames = random_video(6, seed=7).numpy()
    boxes = [[(5.0, 5.0, 30.0, 50.0), (40.0, 10.0, 30.0, 60.0)]] * 6
    items = [(f, b, [0, 1]) for f, b in zip(frames, boxes)]
    onnx_out = list(StreamingPredictor(OnnxTemporalModel(exported / "tiny.onnx"), keep_heatmaps=True).run(items))
    torch_out = list(StreamingPredictor(_tiny(), keep_heatmaps=True).run(items))
    for a, b in zip(onnx_out, torch_out):
        torch.testing.assert_close(a.heatmaps, b.heatmaps, atol=1e-4, rtol=0)
    # and through the command line
    video = tmp_path / "v.mp4"
    blob_video(video, n=4)
    out = tmp_path / "k.json"
    assert main(["predict", str(video), "--model", str(exported / "tiny.onnx"), "--full-frame",
                 "--out", str(out), "--quiet"]) == 0
    assert len(json.loads(out.read_text())["predictions"]) == 4


def test_the_gathered_attention_exports_exactly(exported, tmp_path):
    """By default the export keeps JTA's dense path (static shapes); with gather="always" the
    gathered attention exports (its count a data-dependent size) and onnxruntime equals PyTorch on
    windows whose counts differ from the export's."""
    onnx = pytest.importorskip("onnx")
    ops = lambda path: {node.op_type for node in onnx.load(str(path)).graph.node}  # noqa: E731
    assert "TopK" not in ops(exported / "tiny.temporal.onnx")
    model = _tiny()
    model.jta.gather = "always"
    export_onnx(model, tmp_path / "gathered.onnx")
    assert "TopK" in ops(tmp_path / "gathered.temporal.onnx")
    onnx_model = OnnxTemporalModel(tmp_path / "gathered.onnx")
    model.jta.gather = "never"
    g = torch.Generator().manual_seed(3)
    features = torch.randn(3, 3, 32, 4, 3, generator=g)
    valid = torch.tensor([[True, True, False], [True, True, True], [False, True, True]])
    for sigma in (0.7, 2.0, 6.0):  # a few tokens per joint .. most of them
        heatmaps = peaked_heatmaps(3, 3, 17, size=(16, 12), sigma=sigma, generator=g)
        for frame_valid in (None, valid):
            with torch.no_grad():
                expected = model.aggregate_restore(features, heatmaps, frame_valid)
            got = onnx_model.aggregate_restore(features, heatmaps, frame_valid)
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_export_errors(tmp_path, capsys):
    assert main(["export", "no-such-model", str(tmp_path / "x.onnx")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["export", TINY, str(tmp_path / "missing" / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="tarpose export"):
        OnnxTemporalModel(tmp_path / "x.onnx")
    with pytest.raises(TypeError, match="TemporalWrapper"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
    assert leftovers(tmp_path) == []

"""The docs' figures and result tables cannot drift from the code: each is indexed with the numbers
it shows, the cheap ones are recomputed here and compared, the diagrams are redrawn byte for byte,
and the benchmark results must be of the weights that ship. Regenerate with
``python scripts/figures.py`` (``--bench`` to re-measure the gain first)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys

import numpy as np
import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("tarpose_figures", ROOT / "scripts" / "figures.py")
figures = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = figures  # (dataclasses look their module up)
spec.loader.exec_module(figures)

INDEX = json.loads(figures.INDEX.read_text())
REGENERATE = "regenerate with: python scripts/figures.py"


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_figure_is_indexed_unedited_and_shown(name):
    figure = figures.FIGURES[name]
    assert name in INDEX, f"{name} is not in docs/figures/figures.json; {REGENERATE}"
    path = figures.FIGURES_DIR / figure.file
    assert INDEX[name]["file"] == figure.file and path.is_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == INDEX[name]["sha256"], (
        f"{path.name} is not the file the script wrote with its numbers; {REGENERATE}")
    pages = [p for p in figures.PAGES if f"figures/{figure.file}" in p.read_text()]
    assert pages, f"no page shows figures/{figure.file}"


@pytest.mark.parametrize("name,render", [("pipeline", figures.pipeline_svg), ("streaming", figures.streaming_svg)])
def test_diagrams_are_redrawn_identically(name, render):
    data = figures.FIGURES[name].compute()
    assert data == INDEX[name]["data"], f"the {name} diagram's numbers changed; {REGENERATE}"
    assert render(data) == (figures.FIGURES_DIR / figures.FIGURES[name].file).read_text(), REGENERATE


def close(a, b, atol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol))


def test_contact_sheet_is_what_the_models_predict():
    data, shown = figures.sheet_data(), INDEX["contact_sheet"]["data"]
    assert data["columns"] == shown["columns"], f"other frames or corruptions now; {REGENERATE}"
    # the filter row: the single-frame model's filter as the gain benchmark recorded it, not re-chosen
    chosen = json.loads(figures.GAIN_JSON.read_text())["filters"]["single_frame"]
    assert data["filter"] == shown["filter"] == {"spec": chosen["spec"], "label": figures.filter_label(chosen)}, (
        f"the sheet's filter row is not of the filter in demo_gain.json; {REGENERATE}")
    assert set(shown["rows"]) == set(figures.ROW_LABELS) == {"truth", "single_frame", "temporal", "single_frame+filter"}
    for row in figures.ROW_LABELS:
        assert close(data["rows"][row], shown["rows"][row], atol=0.5), f"row {row} moved; {REGENERATE}"
    assert not close(data["rows"]["single_frame+filter"], data["rows"]["single_frame"], atol=0.5), (
        "the filter row shows the unfiltered single-frame poses")


def test_gain_chart_shows_every_model_and_filter_as_measured():
    results = json.loads(figures.GAIN_JSON.read_text())
    data = figures.gain_data()
    assert set(data["kind_pck"]) == set(data["speed_pck"]) == {
        "single_frame", "single_frame+filter", "temporal", "temporal+filter"}
    for series in data["kind_pck"]:
        want = [results[series][f"pck_{k}"] for k in data["kinds"]] + [results[series][f"pck_{k}"] for k in data["speeds"]]
        assert close(data["kind_pck"][series] + data["speed_pck"][series], want, atol=1e-3), series
    assert data["filters"] == {m: figures.filter_label(info) for m, info in results["filters"].items()}


def test_jta_mask_is_what_the_model_computes():
    data, shown = figures.mask_data(), INDEX["jta_mask"]["data"]
    assert (data["frame"], data["frames"], data["joint"]) == (shown["frame"], shown["frames"], shown["joint"])
    assert close(data["heatmaps"], shown["heatmaps"], atol=0.02), REGENERATE
    agree = np.mean(np.array(data["mask"]) == np.array(shown["mask"]))
    assert agree >= 0.98, REGENERATE  # a cell exactly at the threshold may flip across machines


def test_vtest_frame_is_what_the_predictor_tracks():
    pytest.importorskip("av")
    if not figures.VTEST.exists():
        pytest.skip("../shared/data/vtest.avi is not here")
    data, shown = figures.vtest_data(), INDEX["vtest"]["data"]
    assert (data["frame"], data["track_ids"]) == (shown["frame"], shown["track_ids"]), REGENERATE
    assert close(data["keypoints"], shown["keypoints"], atol=1.0), REGENERATE


def test_gain_results_are_of_the_bundled_weights_and_shown_as_measured():
    from tarpose.demo import ASSETS

    results = json.loads(figures.GAIN_JSON.read_text())
    assert results["bundled"]
    models = (("single_frame", "vitpose-demo"), ("temporal", "tar-vitpose-demo"), ("causal", "tar-vitpose-demo-causal"))
    assert set(results["weights"]) == {key for key, _ in models}  # the live columns are measured too
    for key, name in models:
        bundled = hashlib.sha256((ASSETS / name / "model.safetensors").read_bytes()).hexdigest()
        assert results["weights"][key] == bundled, (
            f"benchmarks/results/demo_gain.json was measured on other {name} weights; "
            "re-measure with: python scripts/figures.py --bench")
    assert figures.gain_data() == INDEX["gain"]["data"], REGENERATE
    for page in figures.PAGES:
        text = page.read_text()
        assert figures.render_tables(text) == text, f"{page.name}'s generated tables are stale; {REGENERATE}"
    assert any("<!-- generated: demo-gain -->" in p.read_text() for p in figures.PAGES)


def test_speed_chart_is_the_streaming_benchmark_of_the_default_model():
    """The speed figure and the performance tables show a full-size run of the benchmark (not its
    smoke run) of the temporal part tarpose builds today, as the JSON recorded it."""
    from tarpose import TARConfig

    results = json.loads(figures.STREAMING_JSON.read_text())
    assert (results["device"], results["threads"], results["crop"], results["persons"]) == ("cpu", 1, [256, 192], 4), (
        "benchmarks/results/streaming.json is not the documented run; re-measure with: python "
        "benchmarks/bench_streaming.py --windowed --json benchmarks/results/streaming.json")
    assert list(results["models"]) == ["vitpose-s", "vitpose-s-simple", "vitpose-b"]
    for name, m in results["models"].items():
        assert m["temporal"] == TARConfig(num_frames=5).to_dict(), (
            f"{name} was timed with another temporal part than today's default; re-measure")
        assert m["windowed"] is not None and m["embed"] > 0
        # the table's ratio: the median of the rounds' ratios, within their quartiles
        assert m["ratio_of_medians"] == pytest.approx(m["streaming"] / m["single_frame"])
        assert m["ratio_quartiles"][0] <= m["ratio"] <= m["ratio_quartiles"][1]
        assert m["floor"] == pytest.approx((m["encoder"] + 2 * m["decoder"]) / (m["encoder"] + m["decoder"]))
        assert m["over_floor"] == pytest.approx(m["ratio"] / m["floor"])
    data = figures.speed_data()
    assert data == INDEX["speed"]["data"], REGENERATE
    for name, m in data["models"].items():  # the stacked parts add up to the measured streaming time
        single = results["models"][name]["single_frame"]
        assert 1 + sum(m["added_pct"].values()) / 100 == pytest.approx(m["ratio"], abs=1e-3)
        assert m["ms"]["windowed"] / single == pytest.approx(m["windowed_ratio"], abs=0.01)
    assert any("<!-- generated: streaming-table -->" in p.read_text() for p in figures.PAGES)


def test_gain_verdict_words_follow_the_measured_signs(tmp_path, monkeypatch):
    """The generated prose says ahead / behind as the numbers say, and counts TAR's window in its
    latency."""
    results = json.loads(figures.GAIN_JSON.read_text())
    base = results["single_frame+filter"]["pck_corrupted"]
    for shift, word in ((+1.0, "TAR alone is ahead of it (+1.0 PCK"), (-1.0, "TAR alone is behind it (-1.0 PCK")):
        results["temporal"]["pck_corrupted"] = base + shift
        path = tmp_path / "gain.json"
        path.write_text(json.dumps(results))
        monkeypatch.setattr(figures, "GAIN_JSON", path)
        text = " ".join(figures.gain_verdict().split())
        assert word in text, text
    window = 5 // 2  # tar-vitpose-demo: a centred 5-frame window waits for 2 frames
    single_latency = results["filters"]["single_frame"]["latency_frames"]
    tar_latency = window + results["filters"]["temporal"]["latency_frames"]
    assert f"with {tar_latency} frames of latency (window and filter) against {single_latency}." in text

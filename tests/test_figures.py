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
    from tarpose.demo import ASSETS, DEMO_WEIGHTS

    results = json.loads(figures.GAIN_JSON.read_text())
    assert results["bundled"]
    for key, name in (("single_frame", "vitpose-demo"), ("temporal", "tar-vitpose-demo")):
        bundled = hashlib.sha256((ASSETS / DEMO_WEIGHTS[name] / "model.safetensors").read_bytes()).hexdigest()
        assert results["weights"][key] == bundled, (
            f"benchmarks/results/demo_gain.json was measured on other {name} weights; "
            "re-measure with: python scripts/figures.py --bench")
    assert figures.gain_data() == INDEX["gain"]["data"], REGENERATE
    for page in figures.PAGES:
        text = page.read_text()
        assert figures.render_tables(text) == text, f"{page.name}'s generated tables are stale; {REGENERATE}"
    assert any("<!-- generated: demo-gain -->" in p.read_text() for p in figures.PAGES)

"""The streaming benchmark runs (tiny dims; it checks that the pipelines agree at initialisation).

No timing is asserted: the speed targets live in the benchmark's printed ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_streaming_benchmark_smoke(tmp_path):
    out = tmp_path / "streaming.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_streaming.py"), "--small", "--repeats", "2",
         "--pipeline-repeats", "3", "--persons", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "floor" in result.stdout and "equal single-frame" in result.stdout
    # --json: the table it printed, as numbers
    report = json.loads(out.read_text())
    assert (report["persons"], report["repeats"], report["pipeline_repeats"], report["crop"]) == (2, 2, 3, [64, 48])
    row = report["models"]["tiny"]
    printed = next(line for line in result.stdout.splitlines() if line.startswith("tiny "))
    cells = printed.split()
    shown = [float(c.rstrip("x")) for c in [*cells[1:5], *cells[6:11]]]
    measured = [row[k] for k in ("encoder", "decoder", "jta", "jta_dense", "gra", "embed", "masks", "single_frame",
                                 "streaming")]
    assert shown == pytest.approx(measured, abs=0.051)
    assert cells[5] == f"{row['largest_tokens']:.0f}/{row['tokens']:.0f}"
    assert row["windowed"] is None  # not measured without --windowed
    # the ratio is the median of the rounds' ratios, between their quartiles; the ratio of the
    # medians is kept beside it
    assert row["ratio_of_medians"] == pytest.approx(row["streaming"] / row["single_frame"])
    low, high = row["ratio_quartiles"]
    assert low <= row["ratio"] <= high
    assert row["over_floor"] == pytest.approx(row["ratio"] / row["floor"])
    assert row["over_floor_quartiles"] == pytest.approx([low / row["floor"], high / row["floor"]])
    assert row["floor"] == pytest.approx((row["encoder"] + 2 * row["decoder"]) / (row["encoder"] + row["decoder"]))
    assert float(cells[12].rstrip("x")) == pytest.approx(row["ratio"], abs=5e-4)
    # the temporal part timed is the default one (the figures of the docs check this record)
    from tarpose import TARConfig

    assert row["temporal"] == TARConfig(num_frames=5).to_dict() and row["embed"] > 0
    assert report["check"] == row["check"] <= 1e-4
    # multiply-adds per frame and their rates: each rate is the count over the time
    assert set(row["macs"]) == {"encoder", "decoder", "jta", "jta_dense", "gra", "embed"}
    assert all(v > 0 for v in row["macs"].values())
    for key, time in (("encoder", "encoder"), ("jta", "jta"), ("gra", "gra"), ("embed", "embed")):
        assert row["gmacs_per_s"][key] == pytest.approx(row["macs"][key] / row[time] * 1e-6)
        assert row["share_of_encoder"][key] == pytest.approx(row["gmacs_per_s"][key] / row["gmacs_per_s"]["encoder"])
    assert "multiply-adds per frame" in result.stdout


@pytest.mark.slow
def test_streaming_benchmark_times_another_temporal_part(tmp_path):
    out = tmp_path / "streaming.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_streaming.py"), "--small", "--repeats", "1",
               "--pipeline-repeats", "1", "--persons", "2", "--json", str(out), "--temporal", "jta_depth=1", "gra_ffn_ratio=0.5",
               "heatmap_embed=false"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "temporal part: jta_depth=1 gra_ffn_ratio=0.5 heatmap_embed=False" in result.stdout
    row = json.loads(out.read_text())["models"]["tiny"]
    from tarpose import TARConfig

    assert row["temporal"] == TARConfig(num_frames=5, jta_depth=1, gra_ffn_ratio=0.5, heatmap_embed=False).to_dict()
    assert row["embed"] == 0 and row["macs"]["embed"] == 0 and row["gmacs_per_s"]["embed"] is None
    bad = subprocess.run(command[:-3] + ["jta_dept=1"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "jta_dept" in bad.stderr.splitlines()[-1]

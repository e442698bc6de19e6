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
         "--persons", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "floor" in result.stdout and "equal single-frame" in result.stdout
    # --json: the table it printed, as numbers
    report = json.loads(out.read_text())
    assert (report["persons"], report["repeats"], report["crop"]) == (2, 2, [64, 48])
    row = report["models"]["tiny"]
    printed = next(line for line in result.stdout.splitlines() if line.startswith("tiny "))
    cells = printed.split()
    shown = [float(c.rstrip("x")) for c in [*cells[1:5], *cells[6:10]]]
    measured = [row[k] for k in ("encoder", "decoder", "jta", "jta_dense", "gra", "embed", "single_frame",
                                 "streaming")]
    assert shown == pytest.approx(measured, abs=0.051)
    assert cells[5] == f"{row['largest_tokens']:.0f}/{row['tokens']:.0f}"
    assert row["windowed"] is None  # not measured without --windowed
    assert row["ratio"] == pytest.approx(row["streaming"] / row["single_frame"])
    assert row["floor"] == pytest.approx((row["encoder"] + 2 * row["decoder"]) / (row["encoder"] + row["decoder"]))
    assert float(cells[11].rstrip("x")) == pytest.approx(row["ratio"], abs=5e-4)
    # the temporal part timed is the default one (the figures of the docs check this record)
    from tarpose import TARConfig

    assert row["temporal"] == TARConfig(num_frames=5).to_dict() and row["embed"] > 0
    assert report["check"] == row["check"] <= 1e-4

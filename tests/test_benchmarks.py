"""The benchmark scripts run (tiny settings; they check their own numerical agreement).

No timing is asserted here: speed targets live in the benchmarks' printed ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED


def test_temporal_head_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_temporal_head.py"), "--small", "--repeats", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "speed-up" in result.stdout and "JTA+GRA" in result.stdout


def test_train_step_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_train_step.py"), "--small", "--device", "cpu",
         "--steps", "1", "--warmup", "1", "--amp", "off"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "samples/s" in result.stdout and "x off" in result.stdout


def test_mask_counts_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "mask_counts.py"), "--videos", "4", "--frames", "6",
         "--vtest-frames", "0"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "batch max (4 p.)" in result.stdout and "24x18 stretched" in result.stdout


@pytest.mark.skipif(not (SHARED / "data" / "vtest.avi").exists(), reason="../shared/data/vtest.avi is not here")
def test_hog_benchmark_smoke(tmp_path):
    pytest.importorskip("cv2")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_hog.py"), "--frames", "3", "--thresholds", "0.7",
         "--nms", "none,0.5", "--json", str(tmp_path / "hog.json")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "highest F1: score >= 0.7" in result.stdout
    assert json.loads((tmp_path / "hog.json").read_text())["frames"] == 3


def test_threads_benchmark_smoke(tmp_path):
    """bench_threads.py runs a model at each thread count and the default, and its outputs agree."""
    out = tmp_path / "threads.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_threads.py"), "--models", "vitpose-demo", "--frames", "2",
         "--rounds", "1", "--load", "idle", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    row = json.loads(out.read_text())["loads"]["idle"]["models"]["vitpose-demo"]
    assert row["outputs_agree"] and set(row["fps"]) >= {"1", "default"}
    assert all(v > 0 for v in row["fps"].values())

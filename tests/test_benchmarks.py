"""The benchmark scripts run (tiny settings; they check their own numerical agreement).

No timing is asserted here: speed targets live in the benchmarks' printed ratios.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


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

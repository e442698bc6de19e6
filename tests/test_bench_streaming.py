"""The streaming benchmark runs (tiny dims; it checks that the pipelines agree at initialisation).

No timing is asserted: the speed targets live in the benchmark's printed ratios.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_streaming_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_streaming.py"), "--small", "--repeats", "2",
         "--persons", "2"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "floor" in result.stdout and "equal single-frame" in result.stdout

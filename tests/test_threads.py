"""The default CPU thread count: one per core that other processes leave free, measured from the
CPU time they take (/proc/stat) when the run starts; --threads overrides it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from tarpose import threads as cli  # the thread rule lives in tarpose.threads
from tarpose.cli import CLIError, apply_threads
from tarpose.threads import busy_cores, default_threads, usable_cores


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_busy_cores_is_the_non_idle_share_of_cpu_time(monkeypatch):
    """(busy, total) CPU time read twice: 150 of 400 ticks busy on 2 cores -> 0.75 cores."""
    samples = iter([(1000.0, 4000.0), (1150.0, 4400.0)])
    monkeypatch.setattr(cli, "_cpu_times", lambda cpus: next(samples))
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert busy_cores(interval=0) == pytest.approx(2 * 150 / 400)


@pytest.mark.skipif(not hasattr(cli.os, "sched_getaffinity"), reason="no CPU affinity here")
def test_cpu_times_reads_only_the_cores_of_this_process(tmp_path, monkeypatch):
    stat = ("cpu  30 0 30 140 0 0 0 0 0 0\ncpu0 10 0 10 80 0 0 0 0 0 0\ncpu1 20 0 20 60 0 0 0 0 0 0\n"
            "intr 1 2 3\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(tmp_path / "stat", *a, **k)
                        if path == "/proc/stat" else real_open(path, *a, **k))
    (tmp_path / "stat").write_text(stat)
    assert cli._cpu_times({1}) == (40.0, 100.0)  # user + system of cpu1; idle is free time
    assert cli._cpu_times({0, 1}) == (60.0, 200.0)


@pytest.mark.parametrize("busy,expected", [(0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (2.0, 1), (5.0, 1)])
def test_default_is_one_thread_per_free_core(busy, expected, monkeypatch, restore_threads):
    monkeypatch.setattr(cli, "usable_cores", lambda: 2)
    monkeypatch.setattr(cli, "busy_cores", lambda interval=0.2: busy)
    monkeypatch.setattr(cli, "_TORCH_DEFAULT", 2)
    torch.set_num_threads(1)  # an earlier run's choice does not stick
    assert default_threads() == expected
    monkeypatch.setattr(cli, "_TORCH_DEFAULT", 1)  # never more than PyTorch's own default (OMP_NUM_THREADS)
    assert default_threads() == 1


def test_apply_threads_uses_the_default_unless_told(monkeypatch, restore_threads):
    monkeypatch.setattr(cli, "default_threads", lambda: 1)
    assert apply_threads(None) == 1 and torch.get_num_threads() == 1
    assert apply_threads(3) == 3 and torch.get_num_threads() == 3
    with pytest.raises(CLIError, match="--threads must be >= 1"):
        apply_threads(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_with_every_core_kept_busy_the_default_is_one_thread(restore_threads):
    """Real load: one spinning process per core makes every core busy, and the default then
    takes a single thread (two threads sharing cores with busy processes stall each other)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cores())]
    try:
        time.sleep(1.0)
        assert busy_cores() >= 0.7 * usable_cores()
        assert default_threads() == 1
    finally:
        for p in spinners:
            p.terminate()
        for p in spinners:
            p.wait()

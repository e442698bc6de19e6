"""How many CPU threads PyTorch uses: the caller's number, or one per core that other processes
leave free.

A thread that must share its core with another busy process loses it for whole time slices, and
every thread of an operation waits for the slowest: with every core busy, two threads ran every
model tried slower than one; on an idle machine, faster (docs/performance.md,
``benchmarks/bench_threads.py``). So the default looks at the machine when a run starts.
"""

from __future__ import annotations

import os
import time

import torch

#: how long `busy_cores` watches the CPUs, in seconds
LOAD_SAMPLE = 0.2
#: PyTorch's own default, read before anything here changes it
_TORCH_DEFAULT = torch.get_num_threads()


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy, total) CPU time so far of ``cpus``, from Linux's /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            # user nice system idle iowait irq softirq steal ...: idle and iowait are free time
            values = [float(v) for v in fields[:8]]
            total += sum(values)
            busy += sum(values) - values[3] - values[4]
    return (busy, total) if total > 0 else None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_cores(interval: float = LOAD_SAMPLE) -> float:
    """How many of this process's cores other processes keep busy now: their non-idle share of CPU
    time over ``interval`` seconds (Linux's /proc/stat, this process sleeping meanwhile) times the
    cores; elsewhere the 1-minute load average (0 where there is none).

    Args:
        interval: seconds to watch.
    """
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(usable_cores()))
    first = _cpu_times(cpus)
    if first is None:
        return min(float(os.getloadavg()[0]), usable_cores()) if hasattr(os, "getloadavg") else 0.0
    time.sleep(interval)
    second = _cpu_times(cpus)
    if second is None or second[1] <= first[1]:
        return 0.0
    return len(cpus) * (second[0] - first[0]) / (second[1] - first[1])


def default_threads() -> int:
    """PyTorch CPU threads for a run starting now: one per core that other processes leave at
    least half free (at least 1, at most PyTorch's own default)."""
    free = usable_cores() - busy_cores()
    return max(1, min(int(free + 0.5), _TORCH_DEFAULT))


#: the most threads a run takes per usable core: more only stall each other (and thousands fail
#: to start, which then shows as an error of whatever runs next, a video's decoding)
MAX_THREADS_PER_CORE = 4


def check_threads(threads: int) -> int:
    """``threads`` if it is a whole number from 1 to ``MAX_THREADS_PER_CORE`` per usable core.

    Raises:
        ValueError: naming the bound.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be >= 1 (a whole number), got {threads!r}")
    most = MAX_THREADS_PER_CORE * usable_cores()
    if threads > most:
        raise ValueError(f"threads must be at most {most} ({MAX_THREADS_PER_CORE} per usable core), got {threads}")
    return threads


def apply_threads(threads: int | None) -> int:
    """Set PyTorch's CPU threads: ``threads`` (checked by `check_threads`), or `default_threads`;
    returns them.

    Raises:
        ValueError: ``threads`` below 1, or more than ``MAX_THREADS_PER_CORE`` per usable core.
    """
    threads = default_threads() if threads is None else check_threads(threads)
    torch.set_num_threads(threads)
    return threads

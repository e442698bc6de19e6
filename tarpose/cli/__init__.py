"""The ``tarpose`` command line: one module per subcommand.

Each module in [COMMANDS][tarpose.cli.COMMANDS] defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; heavy or optional imports happen inside ``run``. A [CLIError][tarpose.cli.CLIError] (or a
missing optional dependency) ends the command with a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

#: subcommand -> module implementing it
COMMANDS: dict[str, str] = {
    "models": "tarpose.cli.models",
    "download": "tarpose.cli.download",
    "convert": "tarpose.cli.convert",
    "train": "tarpose.cli.train",
    "evaluate": "tarpose.cli.evaluate",
    "predict": "tarpose.cli.predict",
    "export": "tarpose.cli.export",
    "demo": "tarpose.cli.demo",
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="tarpose", description="Temporal Aggregate-and-Restore ViTPose: video pose estimation."
    )
    parser.add_argument("--version", action="version", version=f"tarpose {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in the right number: ``"1 frame"``, ``"2 frames"``, ``"0 frames"``.

    Args:
        n: how many.
        noun: the singular.
        plural: the plural when it is not ``noun + "s"``.
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


#: how long ``busy_cores`` watches the CPUs, in seconds
LOAD_SAMPLE = 0.2


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy, total) CPU time so far of ``cpus``, from Linux's /proc/stat; None elsewhere."""
    try:
        lines = open("/proc/stat").read().splitlines()  # noqa: SIM115 (a one-shot read)
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
    """PyTorch CPU threads for a run starting now: one per core that other processes leave at least
    half free (at least 1, at most PyTorch's current setting). A thread that must share its core
    with another busy process loses it for whole time slices, and every thread of an operation
    waits for the slowest: with every core busy two threads ran every model tried slower than one,
    on an idle machine faster (docs/performance.md, benchmarks/bench_threads.py)."""
    import torch

    free = usable_cores() - busy_cores()
    return max(1, min(int(free + 0.5), torch.get_num_threads()))


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` (default: one per core that other processes leave free, see
    [default_threads][tarpose.cli.default_threads])."""
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N",
        help="CPU threads for PyTorch (default: one per core that other processes leave free, "
             "measured at the start, at least 1: threads that share a core with a busy process "
             "stall each other)",
    )


def apply_threads(threads: int | None, model: Any = None) -> int:
    """Set PyTorch's CPU threads: ``threads``, or
    [default_threads][tarpose.cli.default_threads]; returns them.

    Args:
        threads: the number asked for (``--threads``), or None for the default.
        model: the model to run (kept for callers that pass it; the default no longer depends on it).
    """
    import torch

    if threads is not None and threads < 1:
        raise CLIError(f"--threads must be >= 1, got {threads}")
    if threads is None:
        threads = default_threads()
    torch.set_num_threads(threads)
    return threads


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so every output in progress is removed."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _sigterm_interrupts():
            code = int(args._run(args) or 0)
            sys.stdout.flush()  # a closed pipe (tarpose models | head) shows here, inside the try
        return code
    except BrokenPipeError:  # (an OSError: before the clause below)
        # the reader went away (head, less): stop quietly, as a command killed by SIGPIPE would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush of stdout must not fail again
        return 141
    except CLIError as error:
        print(f"tarpose {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that is read-only, full, missing...
        where = f": {error.filename}" if error.filename else ""
        print(f"tarpose {args.command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"tarpose {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except ImportError as error:
        if getattr(error, "name", None) is None and "pip install" not in str(error):
            raise
        print(f"tarpose {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tarpose {args.command}: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into [Terminated][tarpose.cli.Terminated] while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

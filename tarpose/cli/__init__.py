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

from ..registry import Registry

#: subcommand -> module implementing it
COMMANDS: Registry[str] = Registry("command", "tarpose --help lists them")
for _name in ("models", "download", "convert", "train", "adapt", "evaluate", "predict", "export", "demo"):
    COMMANDS.register(_name, f"tarpose.cli.{_name}")


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


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` (default: one per core that other processes leave free, see
    [default_threads][tarpose.threads.default_threads])."""
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N",
        help="CPU threads for PyTorch (default: one per core that other processes leave free, "
             "measured at the start, at least 1: threads that share a core with a busy process "
             "stall each other)",
    )


def apply_threads(threads: int | None) -> int:
    """[tarpose.threads.apply_threads][tarpose.threads.apply_threads], its error as a one-line
    ``--threads`` message."""
    from ..threads import apply_threads as apply

    try:
        return apply(threads)
    except ValueError as error:
        raise CLIError(f"--{error}") from None


def check_threads(threads: int | None) -> None:
    """``--threads`` checked before any work ([tarpose.threads.check_threads][tarpose.threads.check_threads]),
    its error as one line."""
    from ..threads import check_threads as check

    if threads is not None:
        try:
            check(threads)
        except ValueError as error:
            raise CLIError(f"--{error}") from None


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

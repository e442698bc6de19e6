"""The ``tarpose`` command line: one module per subcommand.

Each module in :data:`COMMANDS` defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; heavy or optional imports happen inside ``run``. A :class:`CLIError` (or a
missing optional dependency) ends the command with a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand -> module implementing it
COMMANDS: dict[str, str] = {
    "models": "tarpose.cli.models",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CLIError as error:
        print(f"tarpose {args.command}: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        if getattr(error, "name", None) is None and "pip install" not in str(error):
            raise
        print(f"tarpose {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tarpose {args.command}: interrupted", file=sys.stderr)
        return 130

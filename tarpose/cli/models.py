"""List the registered models, with their sizes and where their pretrained weights come from."""

from __future__ import annotations

import argparse

HELP = "list the registered models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'tar-*'")


def run(args: argparse.Namespace) -> int:
    from ..factory import probe_model
    from ..models import count_parameters, list_models, pretrained_cfg

    names = list_models(args.pattern)
    width = max((len(n) for n in names), default=4)
    print(f"{'name':<{width}}  params  weights")
    for name in names:
        model = probe_model(name)  # sizes without allocating or initialising
        cfg = pretrained_cfg(name)
        print(f"{name:<{width}}  {count_parameters(model) / 1e6:6.1f}M  {cfg.source if cfg else '-'}")
    return 0

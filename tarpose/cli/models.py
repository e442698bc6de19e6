"""List the registered models, with their sizes and where their pretrained weights come from."""

from __future__ import annotations

import argparse

HELP = "list the registered models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'tar-*'")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..models import create_model, list_models, pretrained_cfg
    from ..weights.load import skip_init
    from ..wrapper import count_parameters

    names = list_models(args.pattern)
    width = max((len(n) for n in names), default=4)
    print(f"{'name':<{width}}  params  weights")
    for name in names:
        with skip_init(), torch.device("meta"):  # sizes without allocating or initialising
            model = create_model(name)
        cfg = pretrained_cfg(name)
        print(f"{name:<{width}}  {count_parameters(model) / 1e6:6.1f}M  {cfg.source if cfg else '-'}")
    return 0

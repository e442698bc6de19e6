"""List the registered models, with their sizes, their latency (frames a pose trails the frame it
belongs to: a centred window's look-ahead; 0 for single-frame and causal models), where their pretrained weights come from and
whether those are here: bundled with tarpose, or in the local Hugging Face cache (`tarpose
download NAME` puts them there)."""

from __future__ import annotations

import argparse

HELP = "list the registered models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'tar-*'")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..factory import probe_model
    from ..models import count_parameters, list_models, pretrained_cfg
    from .download import cached_snapshot

    names = list_models(args.pattern)
    width = max((len(n) for n in names), default=4)
    print(f"{'name':<{width}}  params  latency  here     weights")
    missing = False
    for name in names:
        model = probe_model(name)  # sizes without allocating or initialising
        cfg = pretrained_cfg(name)
        if cfg is None:
            here = "-"
        elif Path(cfg.source).exists():
            here = "bundled"
        else:
            here = "cached" if cached_snapshot(cfg.source, cfg.revision) is not None else "no"
            missing |= here == "no"
        window = getattr(model, "window", None)  # temporal models only
        latency = window.lookahead if window is not None else 0
        print(f"{name:<{width}}  {count_parameters(model) / 1e6:6.1f}M  {latency:>7}  {here:<7}  "
              f"{cfg.source if cfg else '-'}")
    print("latency: frames a pose trails its frame (a centred window's look-ahead; 0 = live)")
    if missing:
        print("here: cached = in the Hugging Face cache; `tarpose download NAME` fetches the others once")
    return 0

"""Convert an official TAR-ViTPose checkpoint (zgspose/TARViTPose ``.pt``) into a tarpose
checkpoint directory (config.json + model.safetensors + model card), loadable with
``tarpose.load_model(DST_DIR)``.

The converted model reproduces the reference computation: token_layout="official",
restore="postnorm", 384x288 input, 5-frame window."""

from __future__ import annotations

import argparse

HELP = "convert an official TAR-ViTPose checkpoint to a tarpose directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="the reference code's .pt checkpoint")
    parser.add_argument("dst", metavar="DST_DIR", help="directory to write")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="input size the model runs at (default: the reference's 384 288)")
    parser.add_argument("--num-frames", type=int, default=None,
                        help="window length the checkpoint was trained with (default: 5)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..weights.convert import convert_tar_checkpoint
    from ..weights.errors import CheckpointError
    from . import CLIError

    overrides: dict = {}
    if args.input_size is not None:
        overrides["input_size"] = tuple(args.input_size)
    if args.num_frames is not None:
        overrides["num_frames"] = args.num_frames
    dst = Path(args.dst)
    if dst.exists() and not dst.is_dir():
        raise CLIError(f"{dst} exists and is not a directory")
    try:
        model = convert_tar_checkpoint(args.src, dst, **overrides)
    except (CheckpointError, ValueError) as error:
        raise CLIError(str(error)) from None
    except OSError as error:  # a missing source, a read-only or full destination
        raise CLIError(f"{error.strerror or error}: {error.filename or dst}" if error.strerror else str(error)) from None
    cfg = model.base_config
    print(
        f"wrote {dst}: TemporalWrapper(ViTPose {cfg.embed_dim}-d x{cfg.depth}, "
        f"{cfg.input_size[0]}x{cfg.input_size[1]} input), num_frames={model.num_frames}, "
        "token_layout='official', restore='postnorm'"
    )
    return 0

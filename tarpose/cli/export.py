"""Export a temporal model to ONNX: the per-frame part and the temporal part, two graphs.

Writes STEM.encode.onnx (images (N, 3, H, W) -> features, initial heatmaps) and
STEM.temporal.onnx (a window of features and heatmaps + frame_valid -> the target frame's final
heatmaps), both with a dynamic batch axis, so the streaming loop runs under onnxruntime:
`tarpose predict VIDEO --model STEM.onnx ...` or StreamingPredictor(OnnxTemporalModel(STEM)).
Afterwards onnxruntime is checked against PyTorch on random inputs (skip with --no-verify).
"""

from __future__ import annotations

import argparse
import sys

from . import CLIError

HELP = "export a temporal model to ONNX (encoder part + temporal part)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="anything tarpose.load_model loads (a registered name with weights, "
                        "a directory, a file, a Hub id)")
    parser.add_argument("out", metavar="OUT.onnx", help="STEM.onnx: writes STEM.encode.onnx and STEM.temporal.onnx")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="crop size (default: the model's own)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch check")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..inference import export_onnx
    from ..inference.export import verify_onnx
    from ..inference.source import runnable_model

    parent = Path(args.out).parent
    if not (parent if str(parent) else Path(".")).is_dir():
        raise CLIError(f"output directory {str(parent)!r} does not exist")
    if str(args.source).endswith(".onnx"):
        raise CLIError(f"{args.source!r} is already ONNX")
    try:
        model = runnable_model(args.source)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    size = tuple(args.input_size) if args.input_size else None
    try:
        paths = export_onnx(model, args.out, input_size=size, opset=args.opset)
    except ValueError as error:
        raise CLIError(str(error)) from None
    print(f"tarpose export: wrote {paths[0]} and {paths[1]}", file=sys.stderr)
    if not args.no_verify:
        diff = verify_onnx(model, args.out)
        print(
            f"tarpose export: onnxruntime vs PyTorch, max abs difference: encode features "
            f"{diff['features']:.2e}, initial heatmaps {diff['heatmaps']:.2e}, final heatmaps {diff['final']:.2e}",
            file=sys.stderr,
        )
    return 0

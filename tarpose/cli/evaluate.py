"""Evaluate predictions against ground truth: ``tarpose evaluate posetrack GT PRED``.

``posetrack``: the PoseTrack multi-person pose AP exactly as the official poseval tool computes it
(PCKh@0.5 matching with the head boxes, AP per joint, Head/Shoulder/.../Ankle/Total rows). GT and
PRED are directories of per-video JSON files with the same names (or two files); PoseTrack18/21
and PoseTrack17 layouts are read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import CLIError, counted

HELP = "evaluate predictions (PoseTrack mAP, as poseval computes it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    p = sub.add_parser("posetrack", help="PoseTrack mAP (poseval rules)", description=__doc__)
    p.add_argument(
        "gt", type=Path, help="ground-truth directory of per-video JSON files (or one file)"
    )
    p.add_argument(
        "predictions", type=Path, help="prediction directory with the same file names (or one file)"
    )
    p.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from ..eval.posetrack import evaluate_posetrack

    for path in (args.gt, args.predictions):
        if not path.exists():
            raise CLIError(f"{path} does not exist")
    try:
        result = evaluate_posetrack(args.gt, args.predictions)
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        raise CLIError(str(error)) from None
    print(
        f"PoseTrack AP (poseval rules), {counted(result.num_frames, 'frame')}, "
        f"{counted(sum(result.num_gt), 'ground-truth joint')}"
    )
    print(result.table())
    if args.json is not None:
        from ..atomic import atomic_output

        with atomic_output(args.json, make_parent=True) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2))
        print(f"wrote {args.json}")
    return 0

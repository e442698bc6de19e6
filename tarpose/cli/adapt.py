"""Adapt TAR's temporal modules to your own unlabelled footage: no labels are read.

Examples:

  tarpose adapt vitpose-demo street.mp4 --detector hog --out runs/street
  tarpose adapt usyd-community/vitpose-base-simple clips/ more.mp4 --out runs/mine --steps 2000
  tarpose adapt vitpose-demo a.mp4 b.mp4 --boxes a.json --boxes b.json --out runs/ab
  tarpose adapt vitpose-demo street.mp4 --detector hog --out runs/street --resume
  tarpose predict street.mp4 --model runs/street --render overlay.mp4

BASE is the single-frame model, kept frozen: anything tarpose.load_model loads (a registered name
with weights, a Hub id, a transformers or mmpose checkpoint, a tarpose directory). FOOTAGE: video
files and folders of frames. People are found by the detector and tracker `tarpose predict` uses
(--detector, or one --boxes file per footage item); the temporal modules then learn to restore
what the frozen base sees in a clean frame from windows whose frames were corrupted (occluders,
blur, defocus, noise, dropped frames). The run directory ends as a model directory (config.json,
model.safetensors, a README.md model card with the base, the footage's hash, the corruptions, the
steps and the self-consistency before and after), beside checkpoint.safetensors (--resume
continues it exactly), log.jsonl, adapt.json and the footage's person regions and window cache.
Several processes: torchrun --nproc-per-node N -m tarpose adapt ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import CLIError, add_threads_argument, counted
from .train import _Formatter, _key_value, add_config_arguments

HELP = "adapt TAR's temporal modules to unlabelled footage (no labels); --resume continues exactly"

#: AdaptConfig fields in the "run" group (the others: "adaptation")
RUN_FIELDS = ("seed", "amp", "workers", "log_every", "save_every", "cache_dtype")
#: AdaptConfig fields with their own options (--kinds, --temporal-opt)
OWN_FIELDS = ("temporal", "kinds")


def _kinds(text: str) -> dict[str, float]:
    kinds = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        try:
            kinds[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected KIND[=WEIGHT],..., got {text!r}") from None
    return kinds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..detection import DETECTORS, HOG_THRESHOLD
    from ..training.adaptation import AdaptConfig

    parser.formatter_class = _Formatter
    parser.add_argument("base", metavar="BASE", help="the single-frame model (anything tarpose.load_model loads)")
    parser.add_argument("footage", metavar="FOOTAGE", nargs="+", help="video files and folders of frames")
    people = parser.add_argument_group("people (as tarpose predict)")
    found = people.add_mutually_exclusive_group()
    found.add_argument("--detector", choices=DETECTORS.names(), default=None,
                       help="person detector (default rtdetr; hog works offline)")
    found.add_argument("--boxes", metavar="BOXES.json", action="append",
                       help="person boxes per frame, one file per FOOTAGE item in order (repeat)")
    people.add_argument("--detector-model", metavar="REPO", help="RT-DETR checkpoint")
    people.add_argument("--score-threshold", type=float, metavar="SCORE",
                        help=f"lowest detection score kept (default 0.3 for rtdetr, {HOG_THRESHOLD:g} for hog)")
    people.add_argument("--iou-threshold", type=float, metavar="IOU",
                        help="suppress detections overlapping above IOU (default: none)")
    people.add_argument("--start-frame", type=int, default=0, metavar="N",
                        help="skip the first N frames of each FOOTAGE item (e.g. to hold out the rest)")
    people.add_argument("--max-frames", type=int, metavar="N", help="read at most N frames of each FOOTAGE item")
    groups = {"optimisation": parser.add_argument_group("adaptation (tarpose.training.AdaptConfig)"),
              "run": parser.add_argument_group("run")}
    add_config_arguments(groups, AdaptConfig, RUN_FIELDS, skip=OWN_FIELDS)
    a = groups["optimisation"]
    a.add_argument("--kinds", type=_kinds, metavar="KIND[=W],...",
                   help="corruption kinds and weights (default: the synthetic benchmark's mix: "
                        "occlude, blur, defocus, noise, drop)")
    a.add_argument("--temporal-opt", type=_key_value, action="extend", nargs="+", default=[],
                   metavar="KEY=VALUE", help="TARConfig field, e.g. target=last for a causal model (repeatable)")
    r = groups["run"]
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    r.add_argument("--resume", action="store_true", help="continue DIR/checkpoint.safetensors")
    r.add_argument("--cache-dir", type=Path, metavar="DIR", help="window cache (default DIR/cache)")
    r.add_argument("--name", help="the model's name in config.json")
    r.add_argument("--device", help="cpu, cuda (default: cuda:LOCAL_RANK if available)")
    add_threads_argument(r)


def run(args: argparse.Namespace) -> int:
    import os
    from dataclasses import fields

    from ..factory import load_model
    from ..models import TARConfig
    from ..threads import apply_threads
    from ..training.adaptation import AdaptConfig, adapt
    from ..training.adaptation.footage import FootageOptions, footage_tracks

    main = int(os.environ.get("RANK", "0")) == 0
    say = print if main else None
    for item in args.footage:
        if not Path(item).exists():
            raise CLIError(f"no such footage: {item}")
    if args.boxes is not None and len(args.boxes) != len(args.footage):
        raise CLIError(f"got {counted(len(args.boxes), '--boxes file')} for "
                       f"{counted(len(args.footage), 'footage item')}: give one each, in order")
    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.start_frame < 0:
        raise CLIError(f"--start-frame must be >= 0, got {args.start_frame}")
    try:
        temporal = TARConfig(**dict(args.temporal_opt))
        options: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(AdaptConfig) if f.name not in OWN_FIELDS}
        if args.kinds is not None:
            options["kinds"] = args.kinds
        config = AdaptConfig(temporal=temporal, **options)
    except (TypeError, ValueError) as error:
        raise CLIError(str(error)) from None
    threads = apply_threads(args.threads)
    try:
        base = load_model(args.base)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CLIError(f"BASE: {error}") from None
    data = getattr(base, "data_config", None)
    if data is None or data.input_size is None:
        raise CLIError(f"BASE {args.base} does not say its crop size (data_config.input_size)")
    detector = args.boxes if args.boxes is not None else (args.detector or "rtdetr")
    footage = FootageOptions(
        input_size=tuple(data.input_size), padding=config.padding, window=temporal.window.length,
        detector=json.dumps([detector, args.detector_model, args.score_threshold, args.iou_threshold]),
        start_frame=args.start_frame, max_frames=args.max_frames, min_length=config.min_track_length,
    )
    cache_dir = args.cache_dir if args.cache_dir is not None else args.out / "cache"
    if say is not None:
        say(f"base {args.base}, {counted(len(args.footage), 'footage item')}, {threads} thread(s)")
    try:
        tracks = footage_tracks(
            args.footage, args.out / "footage", footage, detectors=detector, detector_model=args.detector_model,
            score_threshold=args.score_threshold, iou_threshold=args.iou_threshold,
            device=args.device or "cpu", log=say,
            wait=None if main else 24 * 3600.0,  # under torchrun, rank 0 detects and the others read
        )
        adapt(base, tracks, args.out, config, resume=args.resume, cache_dir=cache_dir, name=args.name,
              device=args.device, log=say, label=args.base)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, FloatingPointError, TimeoutError) as error:
        raise CLIError(str(error)) from None
    if main:
        print(f"adapted {args.base} to the footage in {counted(config.steps, 'step')}: {args.out} "
              f"(tarpose predict VIDEO --model {args.out})")
    return 0

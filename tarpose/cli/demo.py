"""See what temporal aggregation buys, on a machine with no dataset and no GPU.

Generates a fresh synthetic clip (seeds never used in training) in which a fraction of the frames
is corrupted (occluders over limbs, motion blur, defocus, noise, dropped frames), runs the
bundled single-frame ViTPose and the bundled TAR-ViTPose on every frame (the same backbone, bit
for bit: TAR's temporal part was trained on top of it, frozen), and prints PCK@0.05 and OKS AP on
the clean and on the corrupted
frames, and the jitter of the keypoint tracks, for each model alone and after its best keypoint
filter (chosen first on --val-videos validation videos, never on the clip), and PCK per
corruption kind and per motion speed. Writes a side-by-side video (left: single-frame, right:
TAR; corrupted frames framed in red) and a PNG contact sheet of the corrupted frames.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from . import CLIError, add_threads_argument, apply_threads

HELP = "compare the bundled single-frame and temporal models on a fresh synthetic clip"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0,
                        help="which clip of the demo split (never used in training; default 0)")
    parser.add_argument("--frames", type=int, default=48, help="clip length (default 48)")
    parser.add_argument("--corruption", type=float, default=0.3,
                        help="fraction of corrupted frames (default 0.3)")
    parser.add_argument("--out", type=Path, default=Path("tarpose-demo"), metavar="DIR",
                        help="where the video and the contact sheet go (default ./tarpose-demo)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help='also write {"single_frame": {...}, "single_frame+filter": {...}, "temporal": '
                             '{...}, "temporal+filter": {...}, "filters": {...}} as JSON')
    parser.add_argument("--val-videos", type=int, default=8, metavar="N",
                        help="validation videos (32 frames each) on which each model's best filter is "
                             "chosen (default 8; 0: no filters)")
    parser.add_argument("--causal", action="store_true",
                        help="also the live (zero-latency) comparison: the causal TAR (frames t-4..t) and "
                             "the single-frame model after its best causal filter")
    parser.add_argument("--no-video", action="store_true", help="skip the video and the contact sheet")
    parser.add_argument("--fps", type=float, default=12.0, help="frame rate of the video (default 12)")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data.synthetic import SyntheticVideo, split_seeds
    from ..data.synthetic.corruptions import names
    from ..demo import CAUSAL, CAUSAL_FILTER_CANDIDATES, CAUSAL_FILTERED, FILTERED, apply_filters, compare, predict_video
    from ..demo import select_filter
    from ..demo.pictures import write_outputs
    from ..factory import load_model

    if args.frames < 3:
        raise CLIError(f"--frames must be >= 3, got {args.frames}")
    if not 0 <= args.corruption <= 1:
        raise CLIError(f"--corruption must be in [0, 1], got {args.corruption}")
    if args.val_videos < 0:
        raise CLIError(f"--val-videos must be >= 0, got {args.val_videos}")
    try:
        seed = split_seeds("demo", 1, args.seed)[0]
    except ValueError as error:
        raise CLIError(f"--seed: {error}") from None
    single, temporal = load_model("vitpose-demo"), load_model("tar-vitpose-demo")
    causal = load_model("tar-vitpose-demo-causal") if args.causal else None
    apply_threads(args.threads)
    choices = {}  # column ("single_frame+filter"...) -> the filter chosen on validation videos
    if args.val_videos:
        with torch.inference_mode():
            val = [predict_video(SyntheticVideo(s, 32, corruption=args.corruption), single, temporal, causal=causal)
                   for s in split_seeds("val", args.val_videos)]
        choices = {m + FILTERED: select_filter(val, m) for m in ("single_frame", "temporal")}
        if causal is not None:
            choices.update({m + CAUSAL_FILTERED: select_filter(val, m, CAUSAL_FILTER_CANDIDATES)
                            for m in ("single_frame", CAUSAL)})
        print(f"best filters on {args.val_videos} validation videos (PCK@0.05, all frames): " + "; ".join(
            f"{LABELS[k]} {c.filter.spec()} ({c.unfiltered:.1f} -> {c.score:.1f})" for k, c in choices.items()))
    video = SyntheticVideo(seed, args.frames, corruption=args.corruption)
    with torch.inference_mode():
        result = predict_video(video, single, temporal, causal=causal)
    for suffix in (FILTERED, CAUSAL_FILTERED):
        chosen = {c.model: c.filter for k, c in choices.items() if k.endswith(suffix)}
        result = apply_filters(result, chosen, suffix) if chosen else result
    scores = compare([result], kinds=True, speeds=True)
    lookahead = {"single_frame": 0, "temporal": temporal.window.lookahead, CAUSAL: 0}
    latency = {k: lookahead[k.split("+")[0]] + (choices[k].filter.latency if k in choices else 0) for k in scores}
    kinds: dict[str, int] = {}
    for code in video.corruption.tolist():
        for kind in names(code):
            kinds[kind] = kinds.get(kind, 0) + 1
    h, w = video.image_size
    detail = ", ".join(f"{n} {k}" for k, n in kinds.items())
    print(f"clip {seed} ({video.action}, {args.frames} frames of {w}x{h}): "
          f"{int(result.corrupted.sum())} corrupted ({detail or 'none'})")
    print(table(scores, truth_jitter(video), latency))
    print(breakdown(scores))
    if not args.no_video:
        args.out.mkdir(parents=True, exist_ok=True)
        movie, sheet = write_outputs(video, result, args.out, args.fps)
        rows = "ground truth, single-frame, TAR" + (", single-frame + its filter" if choices else "")
        print(f"wrote {sheet} (corrupted frames; rows: {rows})")
        if movie is None:
            print('skipped the video: it needs PyAV (pip install "tarpose[video]")')
        else:
            print(f"wrote {movie} (left: single-frame, right: TAR; red border = corrupted frame)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        filters = {c.model if k.endswith(FILTERED) else k: {
            **c.filter.describe(), "val_score": c.score, "val_unfiltered": c.unfiltered, "val_videos": args.val_videos,
        } for k, c in choices.items()}
        args.json.write_text(json.dumps({**scores, "filters": filters, "latency_frames": latency}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def truth_jitter(video) -> float:
    from ..demo import mean_jitter

    return mean_jitter([video.keypoints], [video.visibility > 0])


#: row labels of the models and their filtered tracks
LABELS = {"single_frame": "single-frame", "single_frame+filter": "single + filter",
          "temporal": "TAR (temporal)", "temporal+filter": "TAR + filter",
          "single_frame+causal_filter": "single + causal f.", "causal": "causal TAR",
          "causal+causal_filter": "causal TAR + c.f."}


def _cell(value: float, width: int) -> str:
    return f"{'-' if math.isnan(value) else f'{value:.1f}':>{width}}"


def table(scores: dict[str, dict[str, float]], truth: float | None = None,
          latency: dict[str, int] | None = None) -> str:
    """The comparison as aligned text: a row per model (and per model + its filter), with the
    frames each waits for (``latency``) when given."""
    wait = latency is not None
    lines = [
        f"{'':<20}{'PCK@0.05 (%)':>20}{'OKS AP (%)':>20}{'jitter':>10}" + (f"{'latency':>9}" if wait else ""),
        f"{'model':<20}{'clean':>10}{'corrupted':>10}{'clean':>10}{'corrupted':>10}{'px/f^2':>10}"
        + (f"{'frames':>9}" if wait else ""),
    ]
    for key, s in scores.items():
        lines.append(f"{LABELS.get(key, key):<20}" + "".join(_cell(s[k], 10) for k in (
            "pck_clean", "pck_corrupted", "ap_clean", "ap_corrupted")) + f"{s['jitter']:>10.2f}"
            + (f"{latency[key]:>9d}" if wait else ""))
    if truth is not None:
        lines.append(f"{'ground truth':<20}{'':>40}{truth:>10.2f}")
    return "\n".join(lines)


def breakdown(scores: dict[str, dict[str, float]]) -> str:
    """PCK@0.05 per corruption kind and per motion-speed bucket, a row per model."""
    from ..data.synthetic.corruptions import KINDS
    from ..demo import SPEED_EDGES, SPEEDS

    lo, hi = SPEED_EDGES
    heads = {"occlude": "occlude", "motion_blur": "blur", "defocus": "defocus", "noise": "noise", "drop": "drop"}
    kinds = [k for k in KINDS if k in heads]
    lines = [f"PCK@0.05 (%) by corruption kind, and by motion speed (% of the box per frame: "
             f"slow <{lo}, medium {lo}-{hi}, fast >={hi})",
             f"{'model':<18}" + "".join(f"{heads[k]:>9}" for k in kinds) + "".join(f"{s:>9}" for s in SPEEDS)]
    for key, s in scores.items():
        lines.append(f"{LABELS.get(key, key):<18}" + "".join(_cell(s.get(f"pck_{k}", math.nan), 9)
                                                           for k in [*kinds, *SPEEDS]))
    return "\n".join(lines)

"""Estimate the poses of the people in a video (or images), frame by frame, with a temporal model.

  tarpose predict street.mp4 --model tar-vitpose-demo --out keypoints.json --render overlay.mp4
  tarpose predict street.mp4 --model M --detector hog --out keypoints.json     # offline detector
  tarpose predict frames/ --model M --boxes boxes.json --out keypoints.json    # your own boxes
  tarpose predict 0 --model M --detector hog --out keypoints.json             # webcam 0
  tarpose predict street.mp4 --model M --detector hog --render overlay.mp4    # the picture only

SOURCE is a video (anything FFmpeg reads), an image, a folder of images (in name order) or a
webcam index. Top-down: the people are found by --detector (default rtdetr: transformers' RT-DETR,
downloaded from the Hugging Face Hub once; hog: OpenCV's pedestrian detector, offline), or come
from --boxes (a JSON file) or --full-frame (one person filling the frame). A tracker links them
into tracks (ByteTrack-style: a person missed for a few frames keeps their id and their window).
Each person crop goes through the model's encoder once; the temporal part reads the track's
cached frames (centred window by default, --causal for a model trained with target="last",
--exact for the training protocol: every window frame re-cropped with the current box).

--filter NAME filters each track's keypoints online (tarpose.filters): median, mean
(score-weighted), savgol (Savitzky-Golay) or one-euro, with options as NAME:key=value,...
(median:window=5, savgol:window=9,order=2, mean:window=4,causal=true,
one-euro:min_cutoff=1,beta=0.01; one-euro's fps defaults to the video's). A centred filter of
window W adds W//2 frames of latency; causal=true and one-euro add none, and
--causal accepts only those. The --out header records the filter and the total latency.

BOXES.json is a list of records, one per person and frame (frames count from 0):
  [{"frame": 0, "bbox": [x, y, w, h], "track_id": 1, "score": 0.9}, ...]
"track_id" (for all records or none) and "score" are optional. The --out file of this command is
also accepted as BOXES.json.

The --out file is one JSON object: the source's size and frame rate, the keypoint names and
skeleton (COCO order), and "predictions": one record per frame and person
  {"frame", "track_id", "bbox": [x, y, w, h], "keypoints": [[x, y, score] x 17], "score"}
(and "bbox_score" with a detector; "image", the file's name, for a folder of images) in image
pixel indices (pixel (i, j) is centred at (i, j), as
COCO and transformers), boxes too; crops and heatmaps follow the geometry the model was trained in
(the header's "geometry"). --render writes a video (.mp4, .mkv, .avi, .mov, .webm) or PNG images
(.png: NAME_000000.png... for more than one frame). Outputs are written to temporary files and
renamed when complete: a failed or interrupted run leaves none.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from . import CLIError, add_threads_argument, check_threads, counted

HELP = "estimate poses in a video or images (detection, tracking, streaming, rendering)"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..detection import DEFAULT_RTDETR, DETECTORS, HOG_THRESHOLD

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", metavar="SOURCE",
                        help="video (AVI, MP4, ...), image, folder of images, or webcam index")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="anything tarpose.load_model loads (a registered name with weights, a "
                             "checkpoint directory or file, a Hub id, tarpose train output) or an "
                             "exported STEM.onnx")
    people = parser.add_mutually_exclusive_group()
    people.add_argument("--detector", choices=DETECTORS.names(), default=None,
                        help="person detector (default rtdetr; hog works offline)")
    people.add_argument("--boxes", metavar="BOXES.json", help="person boxes per frame (see above)")
    people.add_argument("--full-frame", action="store_true", help="one person: the whole frame")
    parser.add_argument("--detector-model", metavar="REPO",
                        help=f"RT-DETR checkpoint (default {DEFAULT_RTDETR}; lighter: "
                             "PekingU/rtdetr_r18vd_coco_o365)")
    parser.add_argument("--score-threshold", type=float, metavar="SCORE",
                        help=f"lowest detection score kept (default 0.3 for rtdetr, {HOG_THRESHOLD:g} for hog)")
    parser.add_argument("--iou-threshold", type=float, metavar="IOU",
                        help="suppress detections overlapping above IOU (default: none)")
    parser.add_argument("--out", metavar="KEYPOINTS.json", help="keypoints output")
    parser.add_argument("--render", metavar="OUT.mp4",
                        help="draw the poses: a video, or .png images (--out, --render or both)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--causal", action="store_true",
                      help="no look-ahead (needs a model trained with target='last')")
    mode.add_argument("--exact", action="store_true",
                      help="crop every window frame with the current box (training protocol; T x slower)")
    parser.add_argument("--flip", action="store_true", help="flip test (mirrored crops averaged in)")
    parser.add_argument("--filter", metavar="NAME[:key=value,...]",
                        help="filter each track's keypoints online: median, mean, savgol, one-euro "
                             "(e.g. median:window=5); a centred window W adds W//2 frames of latency, "
                             "causal=true or one-euro none (see above)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (cuda runs under bfloat16 autocast)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (CUDA graphs on a GPU): minutes of compiling "
                        "at the start, then faster; for long videos")
    parser.add_argument("--max-frames", type=_positive, metavar="N", help="stop after N frames")
    parser.add_argument("--padding", type=float, default=1.25, help="box enlargement (default 1.25, at most 10)")
    parser.add_argument("--max-batch", type=_positive, default=32, metavar="N",
                        help="the most persons in one call of the model (default 32): bounds memory in a crowd")
    parser.add_argument("--max-pixels", type=_positive, default=None, metavar="N",
                        help="the largest image or video frame read, in pixels (default 40000000: about 8K UHD)")
    parser.add_argument("--keypoint-threshold", type=float, default=0.3,
                        help="draw joints scoring at least this (default 0.3)")
    add_threads_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .._checks import as_device
    from ..detection import DEFAULT_RTDETR, make_detector
    from ..filters import build_filter
    from ..inference import PoseInferencer
    from ..inference.stream import MAX_PADDING
    from ..io.frames import MAX_FRAME_PIXELS

    check_threads(args.threads)
    if not (math.isfinite(args.padding) and 0 < args.padding <= MAX_PADDING):
        raise CLIError(f"--padding (the box enlargement) must be in (0, {MAX_PADDING:g}], got {args.padding:g}")
    if args.filter is not None:
        try:
            build_filter(args.filter)  # PoseInferencer builds it again with the source's frame rate
        except ValueError as error:
            raise CLIError(f"--filter: {error}") from None

    name = args.boxes or ("full-frame" if args.full_frame else args.detector or "rtdetr")
    try:
        device = as_device(args.device)
        detector = make_detector(name, model=args.detector_model, score_threshold=args.score_threshold,
                                 iou_threshold=args.iou_threshold, device=device)
    except (ImportError, FileNotFoundError, ValueError) as error:
        reason = str(error).splitlines()[0]
        if name == "rtdetr" and args.detector is None and not isinstance(error, ValueError):
            raise CLIError(
                f"the default person detector (RT-DETR, {args.detector_model or DEFAULT_RTDETR}) is "
                f"not available: {reason}; --detector hog works offline (pip install "
                '"tarpose[detect]"), or give --boxes / --full-frame'
            ) from None
        raise CLIError(reason) from None
    try:
        inferencer = PoseInferencer(
            args.model, detector=detector, keypoint_filter=args.filter, device=device,
            mode="causal" if args.causal else "exact" if args.exact else None,
            flip=args.flip, padding=args.padding, compile=args.compile, threads=args.threads,
            max_batch=args.max_batch, max_pixels=args.max_pixels or MAX_FRAME_PIXELS,
        )
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    try:
        summary = inferencer.predict(
            args.source, out=args.out, render=args.render, max_frames=args.max_frames,
            keypoint_threshold=args.keypoint_threshold, progress=not args.quiet,
        )
    except (FileNotFoundError, ValueError) as error:  # outputs, the source, a frame that cannot be decoded
        message = str(error).splitlines()[0]
        raise CLIError(message.replace("the keypoints and the rendering", "--out and --render")) from None
    report(summary, args)
    return 0


def report(summary: Any, args: argparse.Namespace) -> None:
    """What the run did and noticed, on stderr."""
    say = lambda text: print(f"tarpose predict: {text}", file=sys.stderr)  # noqa: E731
    if summary.mode_from_model and summary.mode == "causal":
        say("the model's target is the last frame of its window: causal mode")
    frames = summary.frames
    if summary.truncated:
        say(f"warning: the video ended after {frames} of the {counted(summary.announced_frames, 'frame')} "
            f"its header announces (truncated or damaged?): poses were written for those {frames}")
    if summary.outside:
        say(f"warning: skipped {counted(len(summary.outside), 'box', 'boxes')} entirely outside the frame (frames "
            f"{summary.outside[0]}..{summary.outside[-1]}): no pose is given for them")
    if summary.tiny:
        say(f"warning: skipped {counted(len(summary.tiny), 'box', 'boxes')} less than a pixel wide or tall "
            f"(frames {summary.tiny[0]}..{summary.tiny[-1]}): no pose is given for them")
    if summary.stopped:
        say(f"the source stopped after {counted(frames, 'frame')} ({summary.stopped}): poses were written "
            "for every one of them")
    if summary.unused_box_frames:
        beyond = summary.unused_box_frames
        say(f"warning: {args.boxes} has boxes for frames {beyond[0]}..{beyond[-1]} but the source has "
            f"{counted(frames, 'frame')}")
    images = [p for p in summary.outputs if args.out is None or p != Path(args.out)]
    written = [args.out] if args.out else []
    if len(images) == 1:
        written.append(str(images[0]))
    elif images:
        written.append(f"{len(images)} images {Path(args.render).stem}_*.png")
    seconds = summary.seconds
    say(f"{counted(frames, 'frame')}, {counted(summary.poses, 'pose')} in {seconds:.1f} s "
        f"({frames / max(seconds, 1e-9):.2f} frames/s, {counted(summary.threads, 'thread')}), peak memory "
        f"{_peak_memory_mib(args.device):.0f} MiB; wrote {' and '.join(written)}")


def _peak_memory_mib(device: str) -> float:
    """Peak GPU memory allocated by PyTorch on CUDA; peak resident memory of the process on CPU."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)

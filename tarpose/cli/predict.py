"""Estimate the poses of the people in a video (or images), frame by frame, with a temporal model.

  tarpose predict street.mp4 --model tar-vitpose-demo --out keypoints.json --render overlay.mp4
  tarpose predict street.mp4 --model M --detector hog --out keypoints.json     # offline detector
  tarpose predict frames/ --model M --boxes boxes.json --out keypoints.json    # your own boxes
  tarpose predict 0 --model M --detector hog --out keypoints.json             # webcam 0

SOURCE is a video (anything FFmpeg reads), an image, a folder of images (in name order) or a
webcam index. Top-down: the people are found by --detector (default rtdetr: transformers' RT-DETR,
downloaded from the Hugging Face Hub once; hog: OpenCV's pedestrian detector, offline), or come
from --boxes (a JSON file) or --full-frame (one person filling the frame). A tracker links them
into tracks (ByteTrack-style: a person missed for a few frames keeps their id and their window).
Each person crop goes through the model's encoder once; the temporal part reads the track's
cached frames (centred window by default, --causal for a model trained with target="last",
--exact for the training protocol: every window frame re-cropped with the current box).

--smooth NAME filters each track's keypoints online (tarpose.filters): median, mean
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
(and "bbox_score" with a detector) in image pixel indices (pixel (i, j) is centred at (i, j), as
COCO and transformers), boxes too; crops and heatmaps follow the geometry the model was trained in
(the header's "geometry"). --render writes a video (.mp4, .mkv, .avi, .mov, .webm) or PNG images
(.png: NAME_000000.png... for more than one frame). Outputs are written to temporary files and
renamed when complete: a failed or interrupted run leaves none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import CLIError, add_threads_argument, apply_threads

HELP = "estimate poses in a video or images (detection, tracking, streaming, rendering)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..inference.detection import DETECTORS, HOG_THRESHOLD

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", metavar="SOURCE",
                        help="video (AVI, MP4, ...), image, folder of images, or webcam index")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="checkpoint directory or file, Hub id, tarpose train output (all through "
                             "tarpose.load_model), exported STEM.onnx, or a registered name (tarpose "
                             "models; the demo models load their bundled weights, others are random)")
    people = parser.add_mutually_exclusive_group()
    people.add_argument("--detector", choices=DETECTORS, default=None,
                        help="person detector (default rtdetr; hog works offline)")
    people.add_argument("--boxes", metavar="BOXES.json", help="person boxes per frame (see above)")
    people.add_argument("--full-frame", action="store_true", help="one person: the whole frame")
    parser.add_argument("--detector-model", metavar="REPO",
                        help="RT-DETR checkpoint (default PekingU/rtdetr_r50vd_coco_o365; lighter: "
                             "PekingU/rtdetr_r18vd_coco_o365)")
    parser.add_argument("--detector-threshold", type=float, metavar="SCORE",
                        help=f"lowest detection score kept (default 0.3 for rtdetr, {HOG_THRESHOLD:g} for hog)")
    parser.add_argument("--nms", type=float, metavar="IOU", help="suppress detections overlapping above IOU")
    parser.add_argument("--out", required=True, metavar="KEYPOINTS.json", help="keypoints output")
    parser.add_argument("--render", metavar="OUT.mp4", help="also draw the poses: a video, or .png images")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--causal", action="store_true",
                      help="no look-ahead (needs a model trained with target='last')")
    mode.add_argument("--exact", action="store_true",
                      help="crop every window frame with the current box (training protocol; T x slower)")
    parser.add_argument("--flip", action="store_true", help="flip test (mirrored crops averaged in)")
    parser.add_argument("--smooth", metavar="NAME[:key=value,...]",
                        help="filter each track's keypoints online: median, mean, savgol, one-euro "
                             "(e.g. median:window=5); a centred window W adds W//2 frames of latency, "
                             "causal=true or one-euro none (see above)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (cuda runs under bfloat16 autocast)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (CUDA graphs on a GPU): minutes of compiling "
                        "at the start, then faster; for long videos")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--padding", type=float, default=1.25, help="box enlargement (default 1.25)")
    parser.add_argument("--threshold", type=float, default=0.3, help="render joints scoring at least this")
    add_threads_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..inference.frames import open_frames
    from ..inference.inferencer import check_outputs

    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.detector_model and (args.detector not in (None, "rtdetr") or args.boxes or args.full_frame):
        raise CLIError("--detector-model applies to the rtdetr detector only")
    try:
        check_outputs(Path(args.out), Path(args.render) if args.render else None)
    except ValueError as error:
        raise CLIError(str(error).replace("the keypoints and the rendering", "--out and --render")) from None
    try:
        source = open_frames(args.source)
    except (FileNotFoundError, ValueError) as error:
        raise CLIError(str(error)) from None
    try:
        return _run(args, source)
    finally:
        source.close()


def _run(args: argparse.Namespace, source: Any) -> int:
    from ..inference import PoseInferencer
    from ..inference.detection import DEFAULT_RTDETR, BoxesFile, make_detector

    smooth = _smoothing(args, source.fps or 30.0)  # before loading the model: a typo fails at once
    device = _device(args.device)
    # the people: a boxes file, the full frame, or a detector
    if args.boxes:
        try:
            detector: Any = BoxesFile(args.boxes)
        except (FileNotFoundError, ValueError) as error:
            raise CLIError(str(error)) from None
    elif args.full_frame:
        detector = "full-frame"
    else:
        name = args.detector or "rtdetr"
        try:
            detector = make_detector(name, model=args.detector_model, threshold=args.detector_threshold,
                                     nms_iou=args.nms, device=device)
        except (ImportError, FileNotFoundError, ValueError) as error:
            reason = str(error).splitlines()[0]
            if name == "rtdetr" and args.detector is None:
                raise CLIError(
                    f"the default person detector (RT-DETR, {args.detector_model or DEFAULT_RTDETR}) is "
                    f"not available: {reason}; --detector hog works offline (pip install "
                    '"tarpose[detect]"), or give --boxes / --full-frame'
                ) from None
            raise CLIError(reason) from None
    mode = "causal" if args.causal else "exact" if args.exact else None
    try:
        inferencer = PoseInferencer(
            args.model, detector=detector, device=device, mode=mode, flip=args.flip,
            padding=args.padding, compile=args.compile, smooth=smooth,
        )
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    threads = apply_threads(args.threads, inferencer.model)
    predictor = inferencer.predictor
    if mode is None and predictor.mode == "causal" and predictor.window.length > 1:
        print("tarpose predict: the model's target is the last frame of its window: causal mode",
              file=sys.stderr)
    try:
        summary = inferencer.predict(
            source, out=args.out, render=args.render, max_frames=args.max_frames,
            threshold=args.threshold, progress=not args.quiet,
        )
    except ValueError as error:  # a frame that cannot be decoded, frames of varying size...
        raise CLIError(str(error).splitlines()[0]) from None
    expected = min(source.num_frames or 0, args.max_frames or source.num_frames or 0)
    if source.kind == "video" and summary.frames < expected:
        print(f"tarpose predict: warning: the video ended after {summary.frames} of the "
              f"{source.num_frames} frames its header announces (truncated or damaged?): poses "
              f"were written for those {summary.frames}", file=sys.stderr)
    outside = inferencer.outside
    if outside:
        print(f"tarpose predict: warning: skipped {len(outside)} boxes entirely outside the frame "
              f"(frames {outside[0]}..{outside[-1]}): no pose is given for them", file=sys.stderr)
    if isinstance(detector, BoxesFile) and args.max_frames is None:
        beyond = [i for i in detector.frames if i >= summary.frames]
        if beyond:
            print(f"tarpose predict: warning: {args.boxes} has boxes for frames {beyond[0]}..{beyond[-1]} "
                  f"but the source has {summary.frames} frames", file=sys.stderr)
    frames, seconds = summary.frames, summary.seconds
    renders = [p for p in summary.outputs if p != Path(args.out)]
    rendered = f" and {renders[0]}" if len(renders) == 1 else (
        f" and {len(renders)} images {Path(args.render).stem}_*.png" if renders else ""
    )
    print(
        f"tarpose predict: {frames} frames, {summary.poses} poses in {seconds:.1f} s "
        f"({frames / max(seconds, 1e-9):.2f} frames/s, {threads} threads), peak memory "
        f"{_peak_memory_mib(device):.0f} MiB; wrote {args.out}{rendered}",
        file=sys.stderr,
    )
    return 0


def _smoothing(args: argparse.Namespace, fps: float) -> Any:
    """The --smooth filter (None without one); CLIError for a bad name or a centred filter
    under --causal."""
    from ..filters import build_filter

    if args.smooth is None:
        return None
    try:
        smooth = build_filter(args.smooth, fps=fps)
    except ValueError as error:
        raise CLIError(f"--smooth: {error}") from None
    if args.causal and not smooth.causal:
        raise CLIError(
            f"--causal allows only causal filters, but --smooth {smooth.spec()} adds {smooth.latency} "
            "frames of latency: use one-euro or causal=true"
        )
    return smooth


def _device(name: str) -> Any:
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise CLIError(f"unknown device {name!r}: use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError("--device cuda: no CUDA GPU is available to PyTorch here")
    if device.type not in ("cpu", "cuda"):
        raise CLIError(f"unsupported device {name!r}: use cpu or cuda")
    return device


def _peak_memory_mib(device: Any) -> float:
    """Peak GPU memory allocated by PyTorch on CUDA; peak resident memory of the process on CPU."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)

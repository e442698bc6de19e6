"""Estimate the poses of the people in a video, frame by frame, with a temporal model.

Top-down: the people's boxes come from --boxes (a JSON file, e.g. from your detector) or
--full-frame (one person filling the frame). Boxes without track ids are linked into tracks by an
IoU tracker. Each person crop goes through the model's encoder once; the temporal part reads the
track's cached frames (centred window by default, --causal for a model trained with
target="last", --exact for the training protocol: every window frame re-cropped with the current
box).

--smooth NAME filters each track's keypoints online (tarpose.filters): median, mean
(score-weighted), savgol (Savitzky-Golay) or one-euro, with options as NAME:key=value,...
(median:window=5, savgol:window=9,order=2, mean:window=4,causal=true,
one-euro:min_cutoff=1,beta=0.01; one-euro's fps defaults to the video's). A centred filter of
window W adds W//2 frames of latency; causal=true and one-euro add none, and
--causal accepts only those. The --out header records the filter and the total latency.

BOXES.json is a list of records, one per person and frame (frames count from 0):
  [{"frame": 0, "bbox": [x, y, w, h], "track_id": 1}, ...]
"track_id" is optional (give it for all records or none). The --out file of this command is also
accepted as BOXES.json.

The --out file is one JSON object: the video's size and frame rate, the keypoint names and
skeleton (COCO order), and "predictions": one record per frame and person
  {"frame", "track_id", "bbox": [x, y, w, h], "keypoints": [[x, y, score] x 17], "score"}
in image pixels (continuous coordinates: pixel (i, j) covers [i, i+1) x [j, j+1)). Outputs are
written to temporary files and renamed when complete: a failed or interrupted run leaves none.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import CLIError

HELP = "estimate poses in a video (top-down, streaming, optional rendering)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("video", help="input video (any container/codec FFmpeg reads: AVI, MP4, ...)")
    parser.add_argument("--model", required=True, metavar="SOURCE",
                        help="checkpoint directory or file, Hub id, tarpose train output (all through "
                             "tarpose.load_model), exported STEM.onnx, or a registered architecture "
                             "name (random weights; the demo models load their bundled ones)")
    people = parser.add_mutually_exclusive_group(required=True)
    people.add_argument("--boxes", metavar="BOXES.json", help="person boxes per frame (see above)")
    people.add_argument("--full-frame", action="store_true", help="one person: the whole frame")
    parser.add_argument("--out", required=True, metavar="KEYPOINTS.json", help="keypoints output")
    parser.add_argument("--render", metavar="OUT.mp4", help="also write the video with skeletons drawn")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..inference import (
        StreamingPredictor, VideoReader, VideoWriter, atomic_output, draw_poses, resolve_model,
    )

    out = Path(args.out)
    render = Path(args.render) if args.render else None
    for path in [out] + ([render] if render else []):
        if not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise CLIError(f"output directory {str(path.parent)!r} does not exist")
        if path.is_dir():
            raise CLIError(f"output {str(path)!r} is a directory")
    if render and render.resolve() == out.resolve():
        raise CLIError("--out and --render name the same file")
    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames must be >= 1, got {args.max_frames}")
    boxes = read_boxes(args.boxes) if args.boxes else None
    try:
        reader = VideoReader(args.video)
    except (FileNotFoundError, ValueError) as error:
        raise CLIError(str(error)) from None
    with contextlib.closing(reader):
        smooth = _smoothing(args, reader.fps)  # before loading the model: a typo fails at once
        device = _device(args.device)
        try:
            model = resolve_model(args.model)
        except (FileNotFoundError, ValueError, OSError) as error:
            raise CLIError(str(error).splitlines()[0]) from None
        if isinstance(model, torch.nn.Module):
            model = model.to(device)
        elif device.type != "cpu":
            raise CLIError("an ONNX model runs on the CPU here: use --device cpu")
        mode = "causal" if args.causal else "exact" if args.exact else None
        try:
            predictor = StreamingPredictor(
                model, mode=mode, flip=args.flip, padding=args.padding, compile=args.compile, smooth=smooth
            )
        except ValueError as error:
            raise CLIError(str(error)) from None
        if mode is None and predictor.mode == "causal" and predictor.window.length > 1:
            print("tarpose predict: the model's target is the last frame of its window: causal mode",
                  file=sys.stderr)
        total = reader.num_frames or None
        if total and args.max_frames:
            total = min(total, args.max_frames)

        records: list[dict[str, Any]] = []
        waiting: dict[int, Any] = {}  # frames kept for rendering until their poses are ready
        counts = {"frames": 0}
        outside: list[int] = []  # frames with boxes entirely outside the image, skipped

        def handle(ready: list[Any], writer: Any) -> None:
            for poses in ready:
                records.extend(poses.records())
                if writer is not None:
                    writer.write(draw_poses(waiting.pop(poses.index), poses, threshold=args.threshold))

        start = time.perf_counter()
        with atomic_output(out) as json_tmp:
            with contextlib.ExitStack() as stack:
                writer = stack.enter_context(VideoWriter(render, reader.fps)) if render else None
                bar = stack.enter_context(_progress(total, args.quiet))
                for index, frame in _frames(reader, args.max_frames):
                    if args.full_frame:
                        frame_boxes, ids = [(0.0, 0.0, float(frame.shape[1]), float(frame.shape[0]))], [0]
                    else:
                        frame_boxes, ids = boxes.get(index, ([], None))  # type: ignore[union-attr]
                        frame_boxes, ids = _inside(frame_boxes, ids, frame.shape, index, outside)
                    if writer is not None:
                        waiting[index] = frame
                    handle(predictor.push(frame, frame_boxes, ids), writer)
                    counts["frames"] += 1
                    bar.update(1)
                handle(predictor.flush(), writer)
                seconds = time.perf_counter() - start
                json_tmp.write_text(_document(args, reader, predictor, records))
        expected = min(reader.num_frames, args.max_frames or reader.num_frames)
        if reader.num_frames and counts["frames"] < expected:
            print(f"tarpose predict: warning: the video ended after {counts['frames']} of the "
                  f"{reader.num_frames} frames its header announces (truncated or damaged?): poses "
                  f"were written for those {counts['frames']}", file=sys.stderr)
        if outside:
            print(f"tarpose predict: warning: skipped {len(outside)} boxes entirely outside the frame "
                  f"(frames {outside[0]}..{outside[-1]}): no pose is given for them", file=sys.stderr)
        if boxes is not None and args.max_frames is None:
            beyond = sorted(i for i in boxes if i >= counts["frames"])
            if beyond:
                print(f"tarpose predict: warning: {args.boxes} has boxes for frames {beyond[0]}..{beyond[-1]} "
                      f"but the video has {counts['frames']} frames", file=sys.stderr)
    frames = counts["frames"]
    peak = _peak_memory_mib(device)
    print(
        f"tarpose predict: {frames} frames, {len(records)} poses in {seconds:.1f} s "
        f"({frames / seconds:.2f} frames/s), peak memory {peak:.0f} MiB; wrote {out}"
        + (f" and {render}" if render else ""),
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


def _inside(
    boxes: list[list[float]], ids: list[int] | None, shape: tuple[int, ...], index: int, outside: list[int]
) -> tuple[list[list[float]], list[int] | None]:
    """The boxes ``[x, y, w, h]`` that overlap the ``(H, W, 3)`` frame; the others are skipped
    (a pose for a box the image does not show would be made up), their frame noted in ``outside``."""
    height, width = shape[:2]
    keep = [i for i, (x, y, w, h) in enumerate(boxes) if x < width and y < height and x + w > 0 and y + h > 0]
    outside.extend([index] * (len(boxes) - len(keep)))
    if len(keep) == len(boxes):
        return boxes, ids
    return [boxes[i] for i in keep], None if ids is None else [ids[i] for i in keep]


def read_boxes(path: str) -> dict[int, tuple[list[list[float]], list[int] | None]]:
    """A boxes file -> {frame: (boxes, track ids or None)}; raises CLIError naming the problem."""
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"boxes file {path!r} does not exist")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CLIError(f"boxes file {path!r} is not valid JSON: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("predictions"), list):
        data = data["predictions"]
    if not isinstance(data, list):
        raise CLIError(f"boxes file {path!r} must hold a list of {{\"frame\", \"bbox\"}} records")
    frames: dict[int, tuple[list[list[float]], list[int]]] = {}
    with_ids = None
    for i, record in enumerate(data):
        where = f"boxes file {path!r}, record {i}"
        if not isinstance(record, dict) or "frame" not in record or "bbox" not in record:
            raise CLIError(f"{where}: must be an object with \"frame\" and \"bbox\", got {str(record)[:80]}")
        frame, bbox = record["frame"], record["bbox"]
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise CLIError(f"{where}: \"frame\" must be an integer >= 0, got {frame!r}")
        if (
            not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)
            or bbox[2] <= 0 or bbox[3] <= 0
        ):
            raise CLIError(f"{where}: \"bbox\" must be [x, y, w, h] with w, h > 0, got {bbox!r}")
        has_id = "track_id" in record
        if with_ids is None:
            with_ids = has_id
        elif has_id != with_ids:
            raise CLIError(f"{where}: give \"track_id\" for every record or for none")
        boxes, ids = frames.setdefault(frame, ([], []))
        if has_id:
            track_id = record["track_id"]
            if not isinstance(track_id, int) or isinstance(track_id, bool):
                raise CLIError(f"{where}: \"track_id\" must be an integer, got {track_id!r}")
            if track_id in ids:
                raise CLIError(f"{where}: track {track_id} appears twice in frame {frame}")
            ids.append(track_id)
        boxes.append([float(v) for v in bbox])
    return {f: (b, ids if with_ids else None) for f, (b, ids) in frames.items()}  # type: ignore[misc]


def _frames(reader: Any, max_frames: int | None) -> Iterator[tuple[int, Any]]:
    """(index, frame) pairs; a decoding error becomes a one-line CLIError."""
    iterator = iter(reader)
    index = 0
    while max_frames is None or index < max_frames:
        try:
            frame = next(iterator)
        except StopIteration:
            return
        except ValueError as error:
            raise CLIError(str(error)) from None
        yield index, frame
        index += 1


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


@contextlib.contextmanager
def _progress(total: int | None, quiet: bool) -> Iterator[Any]:
    """A tqdm bar on stderr (a no-op when quiet or when tqdm is missing)."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if quiet or tqdm is None:
        class _Silent:
            def update(self, n: int) -> None:
                pass

        yield _Silent()
        return
    with tqdm(total=total, unit="frame", dynamic_ncols=True, file=sys.stderr) as bar:
        yield bar


def _document(args: argparse.Namespace, reader: Any, predictor: Any, records: list[dict[str, Any]]) -> str:
    """The --out JSON: metadata, then one prediction record per line."""
    from ..keypoints import COCO_KEYPOINTS, COCO_SKELETON

    joints = predictor.model.num_joints
    head = {
        "video": str(args.video),
        "width": reader.width,
        "height": reader.height,
        "fps": reader.fps,
        "model": str(args.model),
        "mode": predictor.mode,
        "num_frames_window": predictor.window.length,
        "flip_test": bool(args.flip),
        "smoothing": predictor.smooth.describe() if predictor.smooth is not None else None,
        "latency_frames": predictor.latency,
        "keypoint_names": list(COCO_KEYPOINTS) if joints == len(COCO_KEYPOINTS) else None,
        "skeleton": [list(p) for p in COCO_SKELETON] if joints == len(COCO_KEYPOINTS) else None,
        "coordinates": "image pixels, continuous: pixel (i, j) covers [i, i+1) x [j, j+1)",
    }
    lines = [f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'), allow_nan=False)}," for key, value in head.items()]
    body = ",\n".join("  " + json.dumps(r, separators=(",", ":"), allow_nan=False) for r in records)
    text = "{\n" + "\n".join(lines) + '\n "predictions": [\n' + body + "\n ]\n}\n"
    json.loads(text)  # the hand-joined document must parse
    return text


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

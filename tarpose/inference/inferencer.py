"""PoseInferencer: from a video, images or frames to tracked poses in one call.

It owns the whole run: the frame source ([tarpose.io][tarpose.io]), the person detector
([tarpose.detection][tarpose.detection]), the tracker ([tarpose.tracking][tarpose.tracking]) and
the streaming temporal model ([StreamingPredictor][tarpose.StreamingPredictor], which takes tracked
boxes and returns poses); it writes the keypoints as JSON and an overlay video or images, and says
in a [PredictionSummary][tarpose.inference.PredictionSummary] what happened. ``tarpose predict``
only parses its arguments, calls [PoseInferencer.predict][tarpose.PoseInferencer.predict] and
prints the summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._checks import as_device
from ..atomic import StagedOutputs, atomic_output
from ..boxes import large_enough, overlaps_frame
from ..detection import BoxesFile, Detections, PersonDetector, make_detector
from ..filters import build_filter
from ..io.frames import MAX_FRAME_PIXELS, FrameSource, open_frames
from ..threads import apply_threads
from ..tracking import ByteTracker, Tracker
from .source import runnable_model
from .stream import FramePoses, StreamingPredictor

#: ``render=`` file endings written as a video (anything FFmpeg muxes) or as PNG images
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")
IMAGE_RENDER_SUFFIXES: tuple[str, ...] = (".png",)


@dataclass
class PredictionSummary:
    """What [PoseInferencer.predict][tarpose.PoseInferencer.predict] did, and what it noticed.

    Attributes:
        frames: frames read.
        poses: person poses estimated.
        seconds: wall time of the loop.
        outputs: files written.
        mode: ``"centred"``, ``"causal"`` or ``"exact"``.
        mode_from_model: the mode was chosen from the model's window (``mode=None``), e.g.
            causal for a model whose target is the last frame of its window.
        latency: frames an output trails its input (the model's look-ahead plus the filter's).
        threads: PyTorch CPU threads used.
        announced_frames: the frame count the source announces (a video's header), if any.
        truncated: a video ended before the frames its header announces (damaged or cut).
        outside: the frame of every box skipped for lying entirely outside its frame.
        tiny: the frame of every box skipped for being less than a pixel wide or tall.
        unused_box_frames: frames of a boxes file beyond the last frame read (a file made for
            another video?).
        stopped: why a live source ended before it was asked to (``"interrupted"``: Ctrl-C or
            SIGTERM; or the camera's read error), else ``None``. Every frame read up to then has
            its poses, and the outputs are written.
    """

    frames: int
    poses: int
    seconds: float
    outputs: list[Path]
    mode: str = "centred"
    mode_from_model: bool = True
    latency: int = 0
    threads: int = 1
    announced_frames: int | None = None
    truncated: bool = False
    outside: list[int] = field(default_factory=list)
    tiny: list[int] = field(default_factory=list)
    unused_box_frames: list[int] = field(default_factory=list)
    stopped: str | None = None


class PoseInferencer:
    """Top-down, tracked, temporal pose estimation on any frame source, in one call.

    Example:
        ```python
        inferencer = tarpose.PoseInferencer("tar-vitpose-demo", detector="hog")
        for poses in inferencer("street.mp4"):          # FramePoses per frame, in order
            print(poses.index, poses.track_ids, poses.keypoints.shape)
        inferencer.predict("street.mp4", out="keypoints.json", render="overlay.mp4")
        ```

    Args:
        model: a temporal or single-frame model, or anything [tarpose.load_model][tarpose.load_model]
            loads (a registered name with weights, a checkpoint directory or file, a Hub id), or
            an exported ``.onnx`` ([export_onnx][tarpose.inference.export_onnx]).
        detector: ``"rtdetr"`` (default), ``"hog"``, ``"full-frame"``, a boxes JSON file, a
            [PersonDetector][tarpose.detection.PersonDetector] or a function ``frame -> boxes``
            ([make_detector][tarpose.detection.make_detector]).
        detector_model: the RT-DETR checkpoint (default ``PekingU/rtdetr_r50vd_coco_o365``).
        score_threshold: lowest detection score kept (default: the detector's).
        iou_threshold: non-maximum suppression of the detections above this IoU (default: none).
        tracker: links the detections into tracks (default: a new
            [ByteTracker][tarpose.tracking.ByteTracker]); detections that come with ids (a boxes
            file with ``track_id``, the full frame) keep theirs.
        keypoint_filter: a filter over each track's keypoints ([tarpose.filters][tarpose.filters]:
            a name such as ``"median:window=5"`` or a filter; ``None``: none). A One-Euro filter
            named without ``fps`` takes the source's frame rate.
        device: where the pose model and the RT-DETR detector run (``"cpu"``, ``"cuda"``).
        mode: ``"centred"``, ``"causal"`` or ``"exact"`` (default: from the model's window).
        flip: the flip test.
        padding: box enlargement.
        compile: ``torch.compile`` the model (long videos on a GPU).
        threads: PyTorch CPU threads for the run (default: one per core that other processes
            leave free when the run starts, see [default_threads][tarpose.threads.default_threads]).
        max_batch: the most persons in one call of the model (a crowd is run in several).
        max_pixels: the largest frame, in pixels, read from a file (checked before it is decoded,
            [open_frames][tarpose.io.open_frames]).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | nn.Module,
        *,
        detector: Any = "rtdetr",
        detector_model: str | None = None,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        tracker: Tracker | None = None,
        keypoint_filter: Any | None = None,
        device: str | torch.device = "cpu",
        mode: str | None = None,
        flip: bool = False,
        padding: float = 1.25,
        compile: bool = False,
        threads: int | None = None,
        max_batch: int = 32,
        max_pixels: int = MAX_FRAME_PIXELS,
    ) -> None:
        self.device = as_device(device)
        self._filter_spec = keypoint_filter
        self.keypoint_filter = None if keypoint_filter is None else build_filter(keypoint_filter)  # a typo fails first
        self.detector: PersonDetector = make_detector(
            detector, model=detector_model, score_threshold=score_threshold,
            iou_threshold=iou_threshold, device=self.device,
        )
        self.tracker: Tracker = tracker if tracker is not None else ByteTracker()
        resolved = runnable_model(model)
        if isinstance(resolved, nn.Module):
            resolved = resolved.to(self.device)
        elif self.device.type != "cpu":
            raise ValueError("an ONNX model runs on the CPU here: use device='cpu'")
        self.model = resolved
        self.model_name = str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__
        self.mode = mode
        self._options = {"mode": mode, "flip": flip, "padding": padding, "compile": compile, "max_batch": max_batch}
        self.max_pixels = max_pixels
        self.predictor = self._predictor(None)  # checks the options against the model now
        self.threads = threads
        self.source: FrameSource | None = None
        self.summary: PredictionSummary | None = None

    def _predictor(self, fps: float | None) -> StreamingPredictor:
        """The streaming predictor for a source of ``fps`` frames per second (a One-Euro filter
        named without a rate takes it)."""
        spec = self._filter_spec
        keypoint_filter = self.keypoint_filter if spec is None or fps is None else build_filter(spec, fps=fps)
        return StreamingPredictor(self.model, keypoint_filter=keypoint_filter, **self._options)

    def __call__(self, source: Any, *, max_frames: int | None = None) -> Iterator[FramePoses]:
        """The poses of every frame of ``source``, in order.

        Args:
            source: a video path, an image path, a folder of images, a webcam index (``0``),
                or frames (an array ``(T, H, W, 3)`` uint8, a list of ``(H, W, 3)`` arrays).
            max_frames: stop after this many frames.

        Yields:
            one [FramePoses][tarpose.inference.FramePoses] per frame (its ``image`` is the frame,
            its ``name`` the image file's name for a folder), as soon as its window is complete
            (``T//2`` frames later in centred mode). ``summary`` is filled in as it goes.
        """
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        frames = open_frames(source, max_pixels=self.max_pixels)
        self.source = frames
        predictor = self.predictor = self._predictor(frames.fps)
        threads = apply_threads(self.threads)
        summary = self.summary = PredictionSummary(
            0, 0, 0.0, [], predictor.mode, self.mode is None, predictor.latency, threads, frames.num_frames,
        )
        detector, tracker = self.detector, self.tracker
        batch_size = 1 if frames.kind == "webcam" else max(1, int(getattr(detector, "batch_size", 1)))
        waiting: dict[int, Any] = {}

        def run(batch: list[tuple[int, Any]]) -> Iterator[FramePoses]:
            found = detector.detect([f for _, f in batch], [i for i, _ in batch])
            for (index, frame), people in zip(batch, found):
                people = self._tracked(self._inside(people, frame, index))
                waiting[index] = frame
                for poses in predictor.push(frame, people.boxes, people.track_ids, people.scores):
                    yield self._finish(poses, waiting.pop(poses.index), frames)

        tracker.reset()
        with frames, _stop_requests(frames.kind == "webcam") as stop:
            batch: list[tuple[int, Any]] = []
            for index, frame in enumerate(frames):
                if max_frames is not None and index >= max_frames:
                    break
                if stop.is_set():  # a live source stopped by Ctrl-C / SIGTERM: end the stream here
                    summary.stopped = "interrupted"
                    break
                summary.frames = index + 1
                batch.append((index, frame))
                if len(batch) >= batch_size:
                    yield from run(batch)
                    batch = []
            if batch:
                yield from run(batch)
            for poses in predictor.flush():
                yield self._finish(poses, waiting.pop(poses.index), frames)
        expected = min(frames.num_frames or 0, max_frames or frames.num_frames or 0)
        summary.truncated = frames.kind == "video" and summary.frames < expected
        summary.stopped = summary.stopped or frames.stopped
        if isinstance(detector, BoxesFile):
            summary.unused_box_frames = [i for i in detector.frames if i >= summary.frames]

    def _finish(self, poses: FramePoses, image: Any, frames: FrameSource) -> FramePoses:
        poses.image = image
        poses.name = frames.frame_name(poses.index)
        self.summary.poses += len(poses)  # type: ignore[union-attr]
        return poses

    def _tracked(self, people: Detections) -> Detections:
        """The detections with track ids: their own (a boxes file's, the full frame's) or the
        tracker's; boxes the tracker does not track (a low score continuing no track) are left
        out."""
        if people.track_ids is not None:
            return people
        ids = self.tracker.update(people.boxes, people.scores)
        if len(ids) != len(people):
            raise ValueError(f"the tracker gave {len(ids)} ids for {len(people)} boxes")
        keep = [i for i, track in enumerate(ids) if track is not None]
        tracked = people.select(keep)
        tracked.track_ids = [int(ids[i]) for i in keep]  # type: ignore[arg-type]
        return tracked

    def _inside(self, people: Detections, frame: Any, index: int) -> Detections:
        """The detections whose boxes overlap the frame (a pose for a box the image does not show
        would be made up) and are at least a pixel wide and tall (a smaller one holds no person,
        and no tracker can follow it: its overlap with itself underflows); each one skipped is
        noted in the summary's ``outside`` or ``tiny``."""
        height, width = (frame.shape[-2:] if isinstance(frame, torch.Tensor) else frame.shape[:2])
        inside = overlaps_frame(people.boxes, height, width)  # (n,)
        large = large_enough(people.boxes)  # (n,)
        keep = inside & large
        if bool(keep.all()):
            return people
        self.summary.outside.extend([index] * int((~inside).sum()))  # type: ignore[union-attr]
        self.summary.tiny.extend([index] * int((inside & ~large).sum()))  # type: ignore[union-attr]
        return people.select(keep.nonzero().flatten())

    def predict(
        self,
        source: Any,
        *,
        out: str | os.PathLike[str] | None = None,
        render: str | os.PathLike[str] | None = None,
        max_frames: int | None = None,
        keypoint_threshold: float = 0.3,
        progress: bool = False,
        on_frame: Callable[[FramePoses], None] | None = None,
    ) -> PredictionSummary:
        """Run over ``source`` and write the results: what ``tarpose predict`` does.

        Args:
            source: as for `__call__`.
            out: the keypoints as JSON (`poses_document`'s layout).
            render: an overlay video (``.mp4``, ``.mkv``, ``.avi``, ``.mov``, ``.webm``) or
                ``.png`` image(s): one file for a one-frame source, ``NAME_000000.png``... otherwise.
            max_frames: stop after this many frames.
            keypoint_threshold: joints scoring below it are not drawn.
            progress: a progress bar on stderr (needs tqdm), with the total and the time left
                when the source knows its length.
            on_frame: called with every frame's poses.

        Outputs are written to temporary files and renamed when complete: a failed or
        interrupted run leaves none.

        Raises:
            ValueError: an output path that cannot be written (checked before any frame is read),
                a frame that cannot be decoded.
        """
        out_path = Path(out) if out is not None else None
        render_path = Path(render) if render is not None else None
        check_outputs(out_path, render_path)
        records: list[dict[str, Any]] = []
        start = time.perf_counter()
        frames = open_frames(source, max_pixels=self.max_pixels)
        total = frames.num_frames if max_frames is None else min(frames.num_frames or max_frames, max_frames)
        with contextlib.ExitStack() as stack:
            json_tmp = stack.enter_context(atomic_output(out_path)) if out_path else None
            renderer = stack.enter_context(_Renderer(render_path, keypoint_threshold)) if render_path else None
            bar = stack.enter_context(_progress(total, not progress))
            for poses in self(frames, max_frames=max_frames):
                records.extend(poses.records())
                if renderer is not None:
                    renderer.write(poses, self.source)
                if on_frame is not None:
                    on_frame(poses)
                bar.update(1)
            summary = self.summary
            assert summary is not None
            summary.seconds = time.perf_counter() - start
            if json_tmp is not None:
                json_tmp.write_text(poses_document(records, self.metadata()))
                summary.outputs.append(out_path)  # type: ignore[arg-type]
        if renderer is not None:
            summary.outputs.extend(renderer.paths)
        return summary

    def metadata(self) -> dict[str, Any]:
        """The head of the JSON document for the last source."""
        from ..keypoints import COCO_KEYPOINTS, COCO_SKELETON

        source = self.source
        coco = int(self.model.num_joints) == len(COCO_KEYPOINTS)
        return {
            "video": source.name if source else None,
            "width": source.width if source else None,
            "height": source.height if source else None,
            "fps": source.fps if source else None,
            "model": str(self.model_name),
            "detector": type(self.detector).__name__,
            "mode": self.predictor.mode,
            "num_frames_window": self.predictor.window.length,
            "flip_test": bool(self.predictor.flip),
            "filter": None if (chosen := self.predictor.keypoint_filter) is None else chosen.describe(),
            "latency_frames": self.predictor.latency,
            "keypoint_names": list(COCO_KEYPOINTS) if coco else None,
            "skeleton": [list(p) for p in COCO_SKELETON] if coco else None,
            "coordinates": "image pixel indices: pixel (i, j) is centred at (i, j), as COCO and transformers",
            "geometry": self.predictor.data_config.geometry,
        }


def poses_document(records: list[dict[str, Any]], metadata: dict[str, Any]) -> str:
    """The keypoints JSON of ``tarpose predict``: ``metadata``'s keys, then ``"predictions"``,
    one record per line (``records``); strict JSON (no NaN)."""
    lines = [
        f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'), allow_nan=False)},"
        for key, value in metadata.items()
    ]
    body = ",\n".join("  " + json.dumps(r, separators=(",", ":"), allow_nan=False) for r in records)
    text = "{\n" + "\n".join(lines) + '\n "predictions": [\n' + body + "\n ]\n}\n"
    json.loads(text)  # the hand-joined document must parse
    return text


def check_outputs(out: Path | None, render: Path | None) -> None:
    """Output paths checked before any work: ``ValueError`` naming the problem."""
    if out is None and render is None:
        raise ValueError("nothing to write: give the keypoints file (out=) and/or a rendering (render=)")
    for path in [p for p in (out, render) if p is not None]:
        if not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise ValueError(f"output directory {str(path.parent)!r} does not exist")
        if path.is_dir():
            raise ValueError(f"output {str(path)!r} is a directory")
    if out is not None and render is not None and render.resolve() == out.resolve():
        raise ValueError("the keypoints and the rendering would be the same file")
    if render is not None and render.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_RENDER_SUFFIXES:
        raise ValueError(
            f"cannot render to {str(render)!r}: use a video ({', '.join(VIDEO_SUFFIXES)}) or "
            f"{', '.join(IMAGE_RENDER_SUFFIXES)} image(s)"
        )
    if render is not None and render.suffix.lower() in VIDEO_SUFFIXES:
        from ..io.video import default_codec

        with contextlib.suppress(ImportError):  # no PyAV: the writer says how to install it
            default_codec(render)  # an encoder for its container, before any frame is read


class _Renderer:
    """Writes drawn frames to a video, or to PNG images. The images are written beside their names
    and renamed into place together at the end: a failed or interrupted run leaves no image of its
    own and overwrites (or deletes) none of an earlier run's."""

    def __init__(self, path: Path, threshold: float) -> None:
        self.path = path
        self.threshold = threshold
        self.video = path.suffix.lower() in VIDEO_SUFFIXES
        self.paths: list[Path] = []
        self._writer: Any = None
        self._images = StagedOutputs()

    def write(self, poses: FramePoses, source: FrameSource | None) -> None:
        from ..io.render import draw_poses, encode_png

        image = draw_poses(poses.image, poses, threshold=self.threshold)
        if self.video:
            if self._writer is None:
                from ..io.video import VideoWriter

                self._writer = VideoWriter(self.path, (source.fps if source else None) or 10.0)
            self._writer.write(image)
            return
        single = source is not None and source.num_frames == 1
        path = self.path if single else self.path.with_name(f"{self.path.stem}_{poses.index:06d}{self.path.suffix}")
        self._images.path(path).write_bytes(encode_png(image))

    def __enter__(self) -> _Renderer:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self.video:
            if exc is not None:  # no partial output, and what was there stays
                self._images.discard()
            else:
                self.paths = self._images.commit()
            return
        if self._writer is not None:
            self._writer.__exit__(exc_type, exc, tb)
            if exc is None:
                self.paths.append(self.path)
        elif exc is None:
            raise ValueError("no frames to render")


@contextlib.contextmanager
def _stop_requests(live: bool) -> Iterator[threading.Event]:
    """For a live source (a webcam), Ctrl-C and SIGTERM request a clean stop (the event is set; the
    stream then ends after the frame in hand, its last frames flushed and the outputs written)
    instead of aborting; a second one aborts as usual. Only in the main thread."""
    event = threading.Event()
    if not live or threading.current_thread() is not threading.main_thread():
        yield event
        return

    def request(signum: int, frame: object) -> None:
        if event.is_set():  # asked twice: stop now
            raise KeyboardInterrupt
        event.set()

    previous = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _progress(total: int | None, quiet: bool) -> Iterator[Any]:
    """A tqdm bar on stderr, with the total (and so the time left) when known; a no-op when quiet
    or when tqdm is missing."""
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
    import sys

    with tqdm(total=total, unit="frame", dynamic_ncols=True, file=sys.stderr) as bar:
        yield bar

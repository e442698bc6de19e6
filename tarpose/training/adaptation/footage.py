"""Person tracks from unlabelled footage: videos and folders of frames, through the detector and
the tracker that ``tarpose predict`` uses.

One pass over each source detects the people of every frame, links them into tracks and keeps,
per track and frame, only the part of the frame that a window's crop can read: the union of the
crop regions of the track's boxes over the frames within a window's reach (a window crops all its
frames with its target frame's box), plus a margin for the bilinear sampling. Those parts go to
one file on disk (``regions.u8``), so footage of any length costs its people's pixels, not its
frames'; a [Track][tarpose.training.adaptation.tracks.Track]'s frames are rebuilt from them on
demand, full-size with zeros where no crop reads, and crop exactly as the original frames do.

A run writes ``tracks.json`` beside the regions; a second call with the same sources, detector and
crop settings reads it back instead of detecting again (``--resume`` does not re-detect).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...atomic import atomic_output
from ...boxes import large_enough, overlaps_frame
from ...detection import PersonDetector, make_detector
from ...geometry import box_to_center_scale
from ...io.frames import open_frames
from ...tracking import ByteTracker
from .tracks import Track

#: what ``tracks.json`` records; a different value means detect again
VERSION = 1
#: pixels (plus this fraction of the crop's side) kept around each crop region
MARGIN_PX, MARGIN_FRACTION = 2.0, 0.02


@dataclass(frozen=True)
class FootageOptions:
    """How footage becomes tracks: everything that changes them (the record's key).

    Args:
        input_size: ``(H, W)`` of the base's crops (their aspect ratio shapes the regions).
        padding: box enlargement before cropping (the adaptation's).
        window: frames of a window (the regions cover the crops of every window a frame is in).
        detector: the detector's description (name or file, model, thresholds).
        start_frame: the first frame read of each source (earlier ones are skipped: e.g. the
            later part of a video held out to measure on).
        max_frames: frames read per source from ``start_frame`` (``None``: all).
        min_length: shorter runs of a track are dropped (default: the window's length).
    """

    input_size: tuple[int, int]
    padding: float
    window: int
    detector: str
    start_frame: int = 0
    max_frames: int | None = None
    min_length: int | None = None


class RegionFrames:
    """A track's frames, rebuilt from their stored regions: ``len()`` and ``[i]`` -> RGB uint8
    ``(H, W, 3)`` full-size, zeros outside the region any of its windows crops."""

    def __init__(self, path: Path, size: tuple[int, int], regions: np.ndarray) -> None:
        self.path, self.size = path, (int(size[0]), int(size[1]))
        self.regions = np.asarray(regions, dtype=np.int64)  # (F, 5): offset, x0, y0, x1, y1
        self._data: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.regions)

    def __getstate__(self) -> dict[str, Any]:  # data-loader workers reopen the file
        return {**self.__dict__, "_data": None}

    def __getitem__(self, index: int) -> np.ndarray:
        if self._data is None:
            self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        offset, x0, y0, x1, y1 = (int(v) for v in self.regions[index])
        frame = np.zeros((*self.size, 3), np.uint8)
        h, w = y1 - y0, x1 - x0
        frame[y0:y1, x0:x1] = self._data[offset : offset + h * w * 3].reshape(h, w, 3)
        return frame


def crop_region(boxes: torch.Tensor, options: FootageOptions, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixels ``(x0, y0, x1, y1)`` (end exclusive, inside the frame) that crops of ``boxes``
    ``(N, 4)`` read, with a margin for the bilinear sampling."""
    h, w = options.input_size
    centre, scale = box_to_center_scale(boxes, aspect_ratio=w / h, padding=options.padding)  # (n, 2) each
    margin = MARGIN_PX + MARGIN_FRACTION * scale.max(dim=-1, keepdim=True).values  # (n, 1)
    low = (centre - scale / 2 - margin).min(dim=0).values  # (2,) x, y
    high = (centre + scale / 2 + margin).max(dim=0).values
    height, width = size
    x0, y0 = (max(0, math.floor(float(v))) for v in low)
    x1, y1 = min(width, math.ceil(float(high[0])) + 1), min(height, math.ceil(float(high[1])) + 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def source_identity(source: Any) -> str | None:
    """A string that changes when a file or folder source changes (its path, sizes and
    modification times), or ``None`` for frames in memory."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(source).resolve()
    if path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.is_file())
        listing = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in entries)
        return f"{path}#" + hashlib.sha256(listing.encode()).hexdigest()[:16]
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def footage_tracks(
    sources: Sequence[Any],
    folder: str | os.PathLike[str],
    options: FootageOptions,
    *,
    detectors: Sequence[PersonDetector | str | os.PathLike[str]] | PersonDetector | str = "rtdetr",
    detector_model: str | None = None,
    score_threshold: float | None = None,
    iou_threshold: float | None = None,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
    wait: float | None = None,
) -> list[Track]:
    """Person tracks of ``sources``, for [adapt][tarpose.training.adapt].

    Args:
        sources: video files, folders of frames, or frames in memory (anything
            [PoseInferencer][tarpose.PoseInferencer] reads, except a webcam).
        folder: where the regions and ``tracks.json`` go (a second call with the same sources
            and options reads them back).
        options: crop geometry, window and detector description (the record's key).
        detectors: one detector for every source (a name of ``tarpose.detection.DETECTORS``, a
            boxes JSON file, a [PersonDetector][tarpose.detection.PersonDetector]) or one per
            source (e.g. a boxes file each).
        detector_model: the RT-DETR checkpoint (as for
            [make_detector][tarpose.detection.make_detector]).
        score_threshold: lowest detection score kept (default: the detector's).
        iou_threshold: non-maximum suppression above this IoU (default: none).
        device: where RT-DETR runs.
        log: where progress lines go.
        wait: do not detect: wait up to this many seconds for another process (rank 0 of a
            torchrun) to write the record, then read it.

    Returns:
        the tracks: each a run of consecutive frames of one person, at least
        ``options.min_length`` (default: the window's length) long.

    Raises:
        ValueError: a webcam source, as many detectors as sources expected, no track long enough,
            ``wait`` with frames in memory.
        TimeoutError: ``wait`` seconds passed without the record.
    """
    folder = Path(folder)
    if isinstance(detectors, (str, os.PathLike, PersonDetector)):
        detectors = [detectors] * len(sources)
    if len(detectors) != len(sources):
        raise ValueError(f"got {len(detectors)} detectors (or boxes files) for {len(sources)} sources: give one each")
    identities = [source_identity(s) for s in sources]
    key = {"version": VERSION, "sources": identities, "options": options.__dict__,
           "detectors": [str(d) if isinstance(d, (str, os.PathLike)) else type(d).__name__ for d in detectors]}
    key = json.loads(json.dumps(key))  # as tracks.json holds it
    record_path, data_path = folder / "tracks.json", folder / "regions.u8"
    if wait is not None and None in identities:
        raise ValueError("wait: frames in memory have no identity another process's record could match; "
                         "pass videos or folders of frames")
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        if None not in identities and record_path.exists() and data_path.exists():
            record = json.loads(record_path.read_text())
            if record.get("key") == key:
                tracks = _read(record, data_path)
                if log is not None:
                    log(f"read {len(tracks)} person tracks of the footage from {record_path}")
                return tracks
        if deadline is None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"no person tracks of this footage appeared in {record_path} within {wait:.0f} s")
        time.sleep(1.0)
    folder.mkdir(parents=True, exist_ok=True)
    min_length = options.window if options.min_length is None else options.min_length
    runs: list[dict[str, Any]] = []
    with atomic_output(data_path) as tmp, open(tmp, "wb") as data:
        for number, (source, detector) in enumerate(zip(sources, detectors)):
            detector = make_detector(detector, model=detector_model, score_threshold=score_threshold,
                                     iou_threshold=iou_threshold, device=device)
            found = _track_source(source, number, identities[number], detector, options, data, log)
            runs.extend(run for run in found if len(run["regions"]) >= min_length)
    if not runs:
        raise ValueError(
            f"no person was tracked for {min_length} consecutive frames in the footage: a window needs "
            "that many (check the detector with `tarpose predict FOOTAGE --render out.mp4`)"
        )
    record = {"key": key, "tracks": runs}
    with atomic_output(record_path) as tmp:
        tmp.write_text(json.dumps(record) + "\n")
    tracks = _read(record, data_path)
    if log is not None:
        frames = sum(len(t) for t in tracks)
        log(f"{len(tracks)} person tracks of {min_length}+ frames ({frames} person-frames, "
            f"{data_path.stat().st_size / 2**20:.0f} MiB of regions in {folder})")
    return tracks


def _read(record: dict[str, Any], data_path: Path) -> list[Track]:
    return [
        Track(RegionFrames(data_path, run["size"], np.asarray(run["regions"])),
              torch.tensor(run["boxes"], dtype=torch.float64), run["key"])
        for run in record["tracks"]
    ]


def _track_source(source: Any, number: int, identity: str | None, detector: PersonDetector,
                  options: FootageOptions, data: Any, log: Callable[[str], None] | None) -> list[dict[str, Any]]:
    """One pass over a source: detect, track, store each tracked person's regions; the runs of
    consecutive frames of each track, as ``tracks.json`` records them."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        raise ValueError(f"source {source!r} is a webcam: adaptation reads footage (videos or folders of frames)")
    frames = open_frames(source)
    if frames.kind == "webcam":
        raise ValueError(f"source {source!r} is a webcam: adaptation reads footage (videos or folders of frames)")
    tracker = ByteTracker()
    reach = options.window - 1  # a frame is cropped with the boxes of frames this far away
    boxes: dict[int, dict[int, torch.Tensor]] = {}  # track id -> frame -> box (4,)
    regions: dict[int, dict[int, list[int]]] = {}  # track id -> frame -> offset, x0, y0, x1, y1
    pending: deque[tuple[int, np.ndarray]] = deque()
    size: tuple[int, int] | None = None
    count = 0

    def store(index: int, frame: np.ndarray) -> None:
        for track, seen in boxes.items():
            if index not in seen:
                continue
            near = [seen[f] for f in range(index - reach, index + reach + 1) if f in seen]
            x0, y0, x1, y1 = crop_region(torch.stack(near), options, frame.shape[:2])
            offset = data.tell()
            data.write(np.ascontiguousarray(frame[y0:y1, x0:x1]).tobytes())
            regions.setdefault(track, {})[index] = [offset, x0, y0, x1, y1]

    with frames:
        for index, frame in enumerate(frames):
            if index < options.start_frame:
                continue
            if options.max_frames is not None and index >= options.start_frame + options.max_frames:
                break
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                raise ValueError(f"frame {index} of {frames.name} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"the first was {size[1]}x{size[0]}: a source's frames must share one size")
            people = detector.detect([frame], [index])[0]
            keep = overlaps_frame(people.boxes, *size) & large_enough(people.boxes)  # (n,)
            people = people.select(keep.nonzero().flatten())
            ids = people.track_ids if people.track_ids is not None else tracker.update(people.boxes, people.scores)
            for box, track in zip(people.boxes, ids):
                if track is not None:
                    boxes.setdefault(int(track), {})[index] = box.to(torch.float64)
            pending.append((index, frame))
            while pending and pending[0][0] <= index - reach:
                store(*pending.popleft())
            count += 1
        while pending:
            store(*pending.popleft())
    if log is not None:
        log(f"{frames.name}: {count} frames, {len(boxes)} tracks")
    runs = []
    for track in sorted(regions):
        indices = sorted(regions[track])
        start = 0
        for i in range(1, len(indices) + 1):
            if i == len(indices) or indices[i] != indices[i - 1] + 1:
                chunk = indices[start:i]
                runs.append({
                    "size": list(size or (0, 0)),
                    "regions": [regions[track][f] for f in chunk],
                    "boxes": [boxes[track][f].tolist() for f in chunk],
                    "frames": [chunk[0], chunk[-1]],
                    "key": None if identity is None else f"{identity}|source {number}|track {track}|"
                                                         f"frames {chunk[0]}-{chunk[-1]}",
                })
                start = i
    return runs


"""Person boxes read from a JSON file (a detector run beforehand, or ``tarpose predict``'s output).

The file is a list of records, one per person and frame (frames count from 0):

```json
[{"frame": 0, "bbox": [x, y, w, h], "track_id": 1, "score": 0.93}, ...]
```

``track_id`` is optional (for every record or for none); ``score`` is optional (1 where absent).
A ``tarpose predict`` output file (an object with ``"predictions"``) is read the same way, its
``bbox_score`` as the score (its ``score`` is the keypoints' mean).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._checks import json_nesting
from .base import Detections, PersonDetector


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: deepest nesting of a boxes file (a ``tarpose predict --out`` document nests 5 levels)
MAX_BOXES_NESTING = 16


def read_boxes(path: str | os.PathLike[str]) -> dict[int, Detections]:
    """A boxes file -> ``{frame: Detections}``; raises ``ValueError`` (or ``FileNotFoundError``)
    naming the file, the record and the problem."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"boxes file {str(path)!r} does not exist")
    try:
        text = file.read_text()
        if json_nesting(text) > MAX_BOXES_NESTING:  # before json.loads, which would recurse that deep
            raise ValueError(f"boxes file {str(path)!r} nests lists/objects more than {MAX_BOXES_NESTING} deep: "
                             "not a list of box records")
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"boxes file {str(path)!r} is not valid JSON: {error}") from None
    from_predictions = isinstance(data, dict) and isinstance(data.get("predictions"), list)
    if from_predictions:  # there "score" is the keypoints' mean score; "bbox_score" the box's
        data = data["predictions"]
    if not isinstance(data, list):
        raise ValueError(f"boxes file {str(path)!r} must hold a list of {{\"frame\", \"bbox\"}} records")
    frames: dict[int, tuple[list[list[float]], list[float], list[int]]] = {}
    with_ids = None
    for i, record in enumerate(data):
        where = f"boxes file {str(path)!r}, record {i}"
        if not isinstance(record, dict) or "frame" not in record or "bbox" not in record:
            raise ValueError(f"{where}: must be an object with \"frame\" and \"bbox\", got {str(record)[:80]}")
        frame, bbox = record["frame"], record["bbox"]
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise ValueError(f"{where}: \"frame\" must be an integer >= 0, got {frame!r}")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_number, bbox)) or bbox[2] <= 0 or bbox[3] <= 0:
            raise ValueError(f"{where}: \"bbox\" must be [x, y, w, h] with w, h > 0, got {bbox!r}")
        score = record.get("bbox_score", 1.0 if from_predictions else record.get("score", 1.0))
        if not _number(score):
            raise ValueError(f"{where}: \"score\" must be a number, got {score!r}")
        has_id = "track_id" in record
        if with_ids is None:
            with_ids = has_id
        elif has_id != with_ids:
            raise ValueError(f"{where}: give \"track_id\" for every record or for none")
        boxes, scores, ids = frames.setdefault(frame, ([], [], []))
        if has_id:
            track_id = record["track_id"]
            if not isinstance(track_id, int) or isinstance(track_id, bool):
                raise ValueError(f"{where}: \"track_id\" must be an integer, got {track_id!r}")
            if track_id in ids:
                raise ValueError(f"{where}: track {track_id} appears twice in frame {frame}")
            ids.append(track_id)
        boxes.append([float(v) for v in bbox])
        scores.append(float(score))
    return {f: Detections(b, s, ids if with_ids else None) for f, (b, s, ids) in frames.items()}


class BoxesFile(PersonDetector):
    """The boxes of a JSON file (see the module docs), looked up by frame number.

    Args:
        path: the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.boxes = read_boxes(path)
        self.with_ids = any(d.track_ids is not None for d in self.boxes.values())

    @property
    def frames(self) -> list[int]:
        """The frame numbers that have boxes, ascending."""
        return sorted(self.boxes)

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        empty = Detections([], [], [] if self.with_ids else None)
        return [self.boxes.get(int(i), empty) for i in indices]

"""The PoseTrack annotation format: keypoint order, file loading, PoseTrack17 -> 18 conversion.

PoseTrack18 and PoseTrack21 store one video per JSON file in a COCO-like layout: ``images`` (every
frame, with ``file_name``, ``id``, ``vid_id``, ``nframes``, ``is_labeled``, optional
``ignore_regions_x/y`` polygons), ``annotations`` (one person in one frame: ``image_id``,
``track_id``, ``bbox`` and ``bbox_head`` as x, y, w, h, 17 ``keypoints`` as x, y, v, and in
prediction files 17 per-joint ``scores``) and ``categories``. The 17 slots follow COCO's order but
slots 1-2 hold ``head_bottom`` and ``head_top`` instead of the eyes, and the ears (3-4) are never
labelled. Unlabelled joints are ``(0, 0, 0)``.

PoseTrack17 files hold an ``annolist`` (one entry per frame, each person an ``annorect`` with a
head rectangle ``x1, y1, x2, y2`` and ``annopoints`` with joint ids 0-14 in the order of
``POSETRACK_EVAL_JOINTS``); [convert_posetrack17][tarpose.data.posetrack_format.convert_posetrack17] turns them into the PoseTrack18 layout
the way the official poseval converter does.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

# fmt: off
#: the 17 keypoint slots of PoseTrack18/21 files (COCO order; eyes -> head_bottom/head_top)
POSETRACK_KEYPOINTS: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# fmt: on

#: left/right pairs of the 17 slots. Unlike COCO_FLIP_PAIRS there is no (1, 2): head_bottom and
#: head_top are not a left/right pair and must not be swapped by a horizontal flip.
POSETRACK_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)  # fmt: skip

# fmt: off
#: the 15 joints poseval evaluates, in its id order (PoseTrack17 ``annopoints`` ids); "neck" of
#: poseval's tables is head_bottom
POSETRACK_EVAL_JOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "head_bottom", "nose", "head_top",
)
# fmt: on

# fmt: off
#: PoseTrack18 skeleton (1-based, as in the files' ``categories``)
POSETRACK_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
# fmt: on


def posetrack_category() -> dict[str, Any]:
    """The ``categories[0]`` entry of a PoseTrack18 file."""
    return {
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(POSETRACK_KEYPOINTS),
        "skeleton": [list(s) for s in POSETRACK_SKELETON],
    }


def posetrack_files(path: str | Path) -> list[Path]:
    """The JSON files of ``path``: itself if it is a file, else its ``*.json`` sorted by name."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no PoseTrack annotation file or directory at {path}")
    files = sorted(p for p in path.glob("*.json") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.json files in {path}")
    return files


def load_posetrack(source: str | Path | dict) -> dict[str, Any]:
    """A PoseTrack file (or an already loaded dict) in the PoseTrack18 layout; PoseTrack17
    ``annolist`` files are converted with [convert_posetrack17][tarpose.data.posetrack_format.convert_posetrack17]."""
    if isinstance(source, dict):
        data = source
        where = "the given dict"
    else:
        where = str(source)
        try:
            with open(source) as f:
                data = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{where}: expected a JSON object with 'images'/'annotations' or 'annolist'"
        )
    if "annolist" in data:
        return convert_posetrack17(data)
    missing = {"images", "annotations"} - set(data)
    if missing:
        raise ValueError(f"{where}: not a PoseTrack file, missing {sorted(missing)}")
    return data


def eval_joint_slots(data: dict[str, Any]) -> list[int | None]:
    """For each keypoint slot of the file, the poseval joint id (0-14) it holds, or None."""
    categories = data.get("categories") or []
    names = categories[0].get("keypoints") if categories else None
    names = list(POSETRACK_KEYPOINTS) if names is None else names
    slots = [POSETRACK_EVAL_JOINTS.index(n) if n in POSETRACK_EVAL_JOINTS else None for n in names]
    missing = [n for i, n in enumerate(POSETRACK_EVAL_JOINTS) if i not in slots]
    if missing:
        raise ValueError(f"the file's keypoints {names} lack the PoseTrack joints {missing}")
    return slots


def _frame_number(name: str) -> int | None:
    stem = Path(name).stem.split("_")[0]
    return int(stem) if stem.isdigit() else None


def _image_id(name: str) -> int:
    """PoseTrack18-style id ``1 VVVVVV FFFF`` from the video folder's number and the frame number;
    a stable hash of the name when they are not numbers."""
    video = Path(name).parent.name.split("_")[0]
    frame = _frame_number(name)
    if video.isdigit() and frame is not None and frame < 10_000 and int(video) < 1_000_000:
        return int(f"1{int(video):06d}{frame:04d}")
    return 20_000_000_000 + zlib.crc32(name.encode())


def convert_posetrack17(data: dict[str, Any]) -> dict[str, Any]:
    """A PoseTrack17 file (``{"annolist": [...]}``) in the PoseTrack18 layout.

    Follows the official poseval converter: joints go to their 17-slot names (ears stay
    ``(0, 0, 0)``), ``is_visible`` becomes ``v`` (1 when absent), per-joint ``score`` becomes the
    ``scores`` list (0 for joints without one), the head rectangle becomes ``bbox_head``, the
    person box is the keypoints' extent enlarged 1.3x about its centre, ignore regions become
    ``ignore_regions_x/y``. Image ids are ``1 VVVVVV FFFF`` (video and frame number from the file
    name), annotation ids ``image_id * 100 + person index``.
    """
    annolist = data.get("annolist")
    if not isinstance(annolist, list):
        raise ValueError("a PoseTrack17 file must hold an 'annolist' list")
    slot_of = [POSETRACK_KEYPOINTS.index(n) for n in POSETRACK_EVAL_JOINTS]  # poseval id -> slot
    images, annotations = [], []
    for entry in annolist:
        try:
            name = entry["image"][0]["name"]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"annolist entry without image[0].name: {str(entry)[:200]}") from None
        image_id = _image_id(name)
        rects = entry.get("annorect") or []
        labeled = entry.get("is_labeled")
        image = {
            "file_name": name,
            "id": image_id,
            "frame_id": image_id,
            "vid_id": Path(name).parent.name.split("_")[0],
            "nframes": len(annolist),
            "is_labeled": bool(labeled[0]) if labeled else bool(rects),
        }
        regions = entry.get("ignore_regions") or []
        if regions:
            image["ignore_regions_x"] = [[p["x"][0] for p in r["point"]] for r in regions]
            image["ignore_regions_y"] = [[p["y"][0] for p in r["point"]] for r in regions]
        images.append(image)
        for index, rect in enumerate(rects):
            keypoints = [0.0] * (3 * len(POSETRACK_KEYPOINTS))
            scores = [0.0] * len(POSETRACK_KEYPOINTS)
            has_scores = False
            points = (rect.get("annopoints") or [{}])[0].get("point") or []
            for p in points:
                joint = p["id"][0]
                if not 0 <= joint < len(POSETRACK_EVAL_JOINTS):
                    raise ValueError(f"{name}: joint id {joint} outside 0..14")
                slot = slot_of[joint]
                visible = p["is_visible"][0] if "is_visible" in p else 1
                keypoints[3 * slot : 3 * slot + 3] = [p["x"][0], p["y"][0], visible]
                if "score" in p:
                    scores[slot] = p["score"][0]
                    has_scores = True
            person: dict[str, Any] = {
                "id": image_id * 100 + index,
                "image_id": image_id,
                "category_id": 1,
                "track_id": rect["track_id"][0] if "track_id" in rect else index,
                "keypoints": keypoints,
                "scores": scores if has_scores else [],
            }
            if all(k in rect for k in ("x1", "y1", "x2", "y2")):
                x1, y1, x2, y2 = (rect[k][0] for k in ("x1", "y1", "x2", "y2"))
                person["bbox_head"] = [x1, y1, x2 - x1, y2 - y1]
            if "score" in rect:
                person["score"] = rect["score"][0]
            if points:
                xs = [p["x"][0] for p in points]
                ys = [p["y"][0] for p in points]
                cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
                w, h = (max(xs) - min(xs)) * 1.3, (max(ys) - min(ys)) * 1.3
                person["bbox"] = [cx - w / 2, cy - h / 2, w, h]
            annotations.append(person)
    return {"images": images, "annotations": annotations, "categories": [posetrack_category()]}

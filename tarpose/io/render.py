"""Drawing poses on frames, and PNG files, with numpy alone.

The API: [draw_pose][tarpose.io.render.draw_pose] (one skeleton), [draw_box][tarpose.io.render.draw_box], [draw_label][tarpose.io.render.draw_label] (text; [text_color][tarpose.io.render.text_color]
picks black or white for a background, [label_positions][tarpose.io.render.label_positions] keeps labels apart),
[draw_poses][tarpose.io.render.draw_poses] (every person of a [FramePoses][tarpose.inference.FramePoses]) and [write_png][tarpose.io.render.write_png]
(8-bit PNG, no dependency). To write frames to an MP4 use
[tarpose.io.write_video][tarpose.io.write_video] / [VideoWriter][tarpose.io.VideoWriter].

Frames are RGB ``uint8`` arrays ``(H, W, 3)``; drawing functions return a new array and leave
the input untouched. Coordinates are tarpose's pixel indices (pixel ``(i, j)`` is centred at
``(i, j)``, [tarpose.geometry][tarpose.geometry]), the ones keypoints come in.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..atomic import atomic_output
from ..keypoints import COCO_SKELETON

Color = tuple[int, int, int]

#: distinct, saturated colours; track ``k`` is drawn in ``PALETTE[k % len(PALETTE)]``
PALETTE: tuple[Color, ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
)


def track_color(track_id: int) -> Color:
    """The colour of a track."""
    return PALETTE[int(track_id) % len(PALETTE)]


def _as_frame(frame: Any) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    return frame


def _paint(canvas: np.ndarray, coverage: np.ndarray, y0: int, x0: int, color: Color) -> None:
    """Blend ``color`` into ``canvas[y0:, x0:]`` with per-pixel ``coverage`` in 0..1 (in place)."""
    h, w = coverage.shape
    region = canvas[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    alpha = coverage[..., None]
    region = region * (1 - alpha) + np.asarray(color, np.float32) * alpha
    canvas[y0 : y0 + h, x0 : x0 + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def _segment(canvas: np.ndarray, p: Sequence[float], q: Sequence[float], width: float, color: Color) -> None:
    """An anti-aliased segment with round ends (a point when ``p == q``), in place."""
    img_h, img_w = canvas.shape[:2]
    r = width / 2
    x0 = max(int(np.floor(min(p[0], q[0]) - r - 1)), 0)
    x1 = min(int(np.ceil(max(p[0], q[0]) + r + 1)), img_w)
    y0 = max(int(np.floor(min(p[1], q[1]) - r - 1)), 0)
    y1 = min(int(np.ceil(max(p[1], q[1]) + r + 1)), img_h)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)  # pixel centres (pixel indices)
    px, py = float(p[0]), float(p[1])
    dx, dy = float(q[0]) - px, float(q[1]) - py
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xs) if length2 == 0 else np.clip(((xs - px) * dx + (ys - py) * dy) / length2, 0, 1)
    dist = np.hypot(xs - (px + t * dx), ys - (py + t * dy))
    _paint(canvas, np.clip(r + 0.5 - dist, 0, 1), y0, x0, color)


def draw_pose(
    frame: Any,
    keypoints: Any,
    scores: Any | None = None,
    *,
    skeleton: Sequence[tuple[int, int]] = COCO_SKELETON,
    color: Color = (255, 64, 64),
    threshold: float = 0.3,
    thickness: float = 2.0,
    radius: float = 3.0,
) -> np.ndarray:
    """A copy of ``frame`` with one skeleton drawn on it.

    Args:
        frame: RGB ``(H, W, 3)`` uint8.
        keypoints: ``(J, 2)`` (x, y) image coordinates.
        scores: ``(J,)``; joints scoring below ``threshold`` (and limbs touching them) are skipped.
        skeleton: limbs as joint index pairs (COCO's by default).
        color: limb colour; joints are drawn in a lighter tint.
    """
    canvas = _as_frame(frame).copy()
    _pose(canvas, keypoints, scores, skeleton, color, threshold, thickness, radius)
    return canvas


def _pose(
    canvas: np.ndarray, keypoints: Any, scores: Any | None, skeleton: Sequence[tuple[int, int]],
    color: Color, threshold: float, thickness: float, radius: float,
) -> None:
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"keypoints must be (J, 2), got shape {points.shape}")
    shown = np.isfinite(points).all(axis=1)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape[0] != points.shape[0]:
            raise ValueError(f"{points.shape[0]} keypoints but {scores.shape[0]} scores")
        shown &= scores >= threshold
    for a, b in skeleton:
        if a < len(points) and b < len(points) and shown[a] and shown[b]:
            _segment(canvas, points[a], points[b], thickness, color)
    light = tuple(int(c + (255 - c) * 0.6) for c in color)
    for j in np.flatnonzero(shown):
        _segment(canvas, points[j], points[j], 2 * radius, color)
        _segment(canvas, points[j], points[j], max(2 * radius - 2, 1.0), light)


def draw_box(frame: Any, box: Any, color: Color = (255, 255, 255), thickness: float = 1.5) -> np.ndarray:
    """A copy of ``frame`` with the outline of box ``x, y, w, h``."""
    canvas = _as_frame(frame).copy()
    _box(canvas, box, color, thickness)
    return canvas


def _box(canvas: np.ndarray, box: Any, color: Color, thickness: float) -> None:
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    for p, q in zip(corners, corners[1:] + corners[:1]):
        _segment(canvas, p, q, thickness, color)


def draw_label(
    frame: Any, text: str, x: float, y: float, color: Color = (255, 255, 255), scale: int = 2,
    background: Color | None = None,
) -> np.ndarray:
    """A copy of ``frame`` with ``text`` (``font``: A-Z, digits, some
    punctuation) drawn with its top-left corner at ``(x, y)`` on a darkened backing (or on
    ``background``), ``scale`` pixels per font pixel; see ``label_size``."""
    canvas = _as_frame(frame).copy()
    _label(canvas, text, x, y, color, scale, background)
    return canvas


def label_size(text: str, scale: int = 2) -> tuple[int, int]:
    """``(height, width)`` in pixels of a label drawn by ``draw_label``."""
    from .font import text_mask

    h, w = text_mask(text).shape
    return (h + 2) * scale, (w + 2) * scale


def _label(
    canvas: np.ndarray, text: str, x: float, y: float, color: Color, scale: int,
    background: Color | None = None,
) -> None:
    from .font import text_mask

    mask = np.pad(text_mask(text), 1).repeat(scale, 0).repeat(scale, 1)  # (h, w) with a border
    x0, y0 = int(round(x)), int(round(y))
    h, w = canvas.shape[:2]
    ys, xs = slice(max(y0, 0), min(y0 + mask.shape[0], h)), slice(max(x0, 0), min(x0 + mask.shape[1], w))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return
    sub = mask[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    region = canvas[ys, xs]
    region[...] = (region * 0.35).astype(np.uint8) if background is None else background
    region[sub] = color


def relative_luminance(color: Color) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0 black .. 1 white)."""
    c = np.asarray(color, dtype=np.float64) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(a: Color, b: Color) -> float:
    """WCAG 2's contrast ratio of two colours, 1 (none) .. 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def text_color(background: Color) -> Color:
    """Black or white, whichever contrasts more with ``background`` (at least 4.58:1, WCAG's AA
    level for text, whatever the background)."""
    black, white = (0, 0, 0), (255, 255, 255)
    return black if contrast_ratio(background, black) >= contrast_ratio(background, white) else white


Rect = tuple[float, float, float, float]  # x, y, w, h


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def label_positions(
    boxes: Any, texts: Sequence[str], frame_size: tuple[int, int], scale: int = 2
) -> list[tuple[float, float]]:
    """Top-left corners of the labels ``texts`` of ``boxes`` ``(N, 4)`` (``x, y, w, h``) in a frame
    of ``frame_size`` ``(H, W)``, placed so that they do not overlap one another.

    Each label goes, in order of preference, just above its box, stacked further above it, inside
    its top edge, below it, or further along those rows to the right; the first place that lies in
    the frame and overlaps no label placed before it is taken. Where none is free (a crowd in a
    small frame), the label sits above its box (or inside it at the frame's top) regardless.
    """
    height, width = frame_size
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    placed: list[Rect] = []
    out = []
    for (x, y, w, h), text in zip(boxes, texts):
        lh, lw = label_size(text, scale)
        above = y - lh - 1
        rows = [above - k * (lh + 1) for k in range(4)] + [y + 1, y + h + 1]
        shifts = [0.0] + [k * (lw + 1) for k in range(1, 4)] + [-k * (lw + 1) for k in range(1, 4)]
        candidates = [(x + dx, top) for dx in shifts for top in rows]
        default = (x, above if above >= 0 else y + 1)
        free = [c for c in candidates if 0 <= c[1] and c[1] + lh <= height and c[0] + lw > 0 and c[0] < width
                and not any(_overlaps((*c, lw, lh), r) for r in placed)]
        chosen = free[0] if free else default
        placed.append((*chosen, lw, lh))
        out.append(chosen)
    return out


def draw_poses(
    frame: Any, poses: Any, *, boxes: bool = True, labels: bool = True, threshold: float = 0.3, **style: Any
) -> np.ndarray:
    """A copy of ``frame`` with every person of ``poses`` (a [FramePoses][tarpose.inference.FramePoses])
    drawn in its track's colour, with its box and its track id: above the box, on the track's
    colour in black or white (whichever contrasts more, [text_color][tarpose.io.render.text_color]),
    moved where it would cover another id ([label_positions][tarpose.io.render.label_positions])."""
    canvas = _as_frame(frame).copy()
    style = {"skeleton": COCO_SKELETON, "thickness": 2.0, "radius": 3.0, **style}
    for i, track_id in enumerate(poses.track_ids):
        color = track_color(track_id)
        if boxes:
            _box(canvas, poses.boxes[i], color, 1.5)
        _pose(canvas, poses.keypoints[i], poses.scores[i], style["skeleton"], color, threshold,
              style["thickness"], style["radius"])
    if labels and len(poses.track_ids):  # drawn last: no limb of another person covers an id
        texts = [str(t) for t in poses.track_ids]
        corners = label_positions(np.asarray(poses.boxes, dtype=np.float64), texts, canvas.shape[:2], 2)
        for track_id, text, (x, y) in zip(poses.track_ids, texts, corners):
            color = track_color(track_id)
            _label(canvas, text, x, y, text_color(color), 2, background=color)
    return canvas


# -- PNG -------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (gray, gray+alpha, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: Any, compression: int = 6) -> bytes:
    """The bytes of an 8-bit PNG of ``image``: ``(H, W)`` gray, ``(H, W, 1|2|3|4)`` uint8."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in _COLOR_TYPES or image.dtype != np.uint8:
        raise ValueError(f"a PNG image must be (H, W) or (H, W, 1..4) uint8, got {image.shape} {image.dtype}")
    h, w, c = image.shape
    if h == 0 or w == 0:
        raise ValueError(f"a PNG image cannot be empty, got shape {image.shape}")
    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)  # filter 0
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[c], 0, 0, 0)
    return (
        _PNG_SIGNATURE + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), compression)) + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike[str], image: Any) -> None:
    """Write ``image`` (see [encode_png][tarpose.io.render.encode_png]) to ``path``; the file appears only when complete."""
    data = encode_png(image)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)

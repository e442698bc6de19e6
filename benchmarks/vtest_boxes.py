"""Person boxes for ../shared/data/vtest.avi without a detector: background subtraction.

vtest.avi is filmed by a static camera, so whatever differs from the per-pixel median of the
video is something that moved there: here, pedestrians. Moving regions are cleaned, linked into
connected components, kept when person-sized, and blobs of people walking side by side are split
at the valleys of their column profile. These are NOT detector boxes; they are checked by eye
on the contact sheet this script writes (--sheet), and they are what tests/data/vtest_boxes.json
holds (the first 100 frames):

    python benchmarks/vtest_boxes.py --frames 100 --out tests/data/vtest_boxes.json --sheet boxes.png

The output is a `tarpose predict --boxes` file without track ids (the IoU tracker links them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "vtest.avi"


def _shift_min(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One step of label propagation: each foreground pixel takes the smallest label among itself
    and its 4 neighbours."""
    out = labels.copy()
    np.minimum(out[1:], labels[:-1], out=out[1:])
    np.minimum(out[:-1], labels[1:], out=out[:-1])
    np.minimum(out[:, 1:], labels[:, :-1], out=out[:, 1:])
    np.minimum(out[:, :-1], labels[:, 1:], out=out[:, :-1])
    return np.where(mask, out, labels)


def components(mask: np.ndarray) -> list[tuple[slice, slice, np.ndarray]]:
    """4-connected components of a bool mask: (rows, cols, component mask in that window)."""
    big = np.iinfo(np.int64).max
    labels = np.where(mask, np.arange(mask.size).reshape(mask.shape), big)
    while True:
        new = _shift_min(labels, mask)
        if np.array_equal(new, labels):
            break
        labels = new
    out = []
    for value in np.unique(labels[mask]):
        ys, xs = np.nonzero(labels == value)
        rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        out.append((rows, cols, labels[rows, cols] == value))
    return out


def _grow(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Binary dilation by a (2dy+1) x (2dx+1) rectangle."""
    out = mask.copy()
    for s in range(1, dy + 1):
        out[s:] |= mask[:-s]
        out[:-s] |= mask[s:]
    grown = out.copy()
    for s in range(1, dx + 1):
        grown[:, s:] |= out[:, :-s]
        grown[:, :-s] |= out[:, s:]
    return grown


def _shrink(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return ~_grow(~mask, dy, dx)


def _split_columns(blob: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges of the people in a blob. One walking person is at most ~0.55 as wide as
    tall; a wider blob holds ``round(width / (0.42 height))`` people side by side, cut at the
    deepest valleys of its (smoothed) column profile, at least 0.25 height apart."""
    height, width = blob.shape
    people = max(1, round(width / (0.42 * height))) if width > 0.6 * height else 1
    if people == 1:
        return [(0, width)]
    profile = np.convolve(blob.sum(axis=0).astype(float), np.ones(3) / 3, mode="same")
    gap = max(int(0.25 * height), 2)
    cuts: list[int] = []
    for x in np.argsort(profile, kind="stable"):
        if len(cuts) == people - 1:
            break
        if gap <= x <= width - gap and all(abs(x - c) >= gap for c in cuts):
            cuts.append(int(x))
    edges = [0, *sorted(cuts), width]
    return list(zip(edges[:-1], edges[1:]))


def motion_boxes(
    frames: np.ndarray, background: np.ndarray, threshold: int = 30, min_height: int = 40, scale: int = 2
) -> list[list[list[float]]]:
    """Boxes ``[x, y, w, h]`` (full-resolution pixels) of person-sized moving regions per frame.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        background: ``(H, W, 3)`` uint8, e.g. the per-pixel median of the video.
        threshold: colour difference (0..255) that counts as motion.
        min_height: smallest person height in pixels.
        scale: work at 1/scale resolution.
    """
    def small(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[-3] // scale * scale, x.shape[-2] // scale * scale
        x = x[..., :h, :w, :].astype(np.float32)
        return x.reshape(*x.shape[:-3], h // scale, scale, w // scale, scale, 3).mean(axis=(-4, -2))

    bg = small(background)
    out = []
    for frame in frames:
        moving = (np.abs(small(frame) - bg).max(axis=-1) > threshold)
        moving = _grow(_shrink(moving, 1, 1), 1, 1)  # opening: drop speckles
        moving = _shrink(_grow(moving, 4, 2), 4, 2)  # closing, taller than wide: join head, body, legs
        boxes = []
        for rows, cols, blob in components(moving):
            height = (rows.stop - rows.start) * scale
            if height < min_height or blob.sum() * scale * scale < 0.12 * height * height:
                continue
            for c0, c1 in _split_columns(blob):
                part = blob[:, c0:c1]
                ys = np.nonzero(part.any(axis=1))[0]
                y0, y1 = rows.start + ys.min(), rows.start + ys.max() + 1
                if (y1 - y0) * scale < min_height:
                    continue
                x0 = cols.start + c0
                boxes.append([float(x0 * scale), float(y0 * scale), float((c1 - c0) * scale), float((y1 - y0) * scale)])
        out.append(boxes)
    return out


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from tarpose.io import VideoReader, draw_box, write_png

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--frames", type=int, default=100, help="boxes for the first N frames")
    parser.add_argument("--out", required=True, help="boxes JSON")
    parser.add_argument("--sheet", help="PNG contact sheet of every 10th frame with its boxes")
    args = parser.parse_args(argv)
    with VideoReader(args.video) as video:
        frames = np.stack(list(video))
    background = np.median(frames[::5], axis=0).astype(np.uint8)  # pedestrians never stand still long
    boxes = motion_boxes(frames[: args.frames], background)
    records = [{"frame": t, "bbox": b} for t, bs in enumerate(boxes) for b in bs]
    Path(args.out).write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    print(f"{len(records)} boxes in {len(boxes)} frames -> {args.out}")
    if args.sheet:
        tiles = []
        for t in range(0, len(boxes), 10):
            tile = frames[t]
            for b in boxes[t]:
                tile = draw_box(tile, b, (255, 0, 0), 2.0)
            tiles.append(tile[::2, ::2])
        while len(tiles) % 2:
            tiles.append(np.zeros_like(tiles[0]))
        rows = [np.concatenate(tiles[i : i + 2], axis=1) for i in range(0, len(tiles), 2)]
        write_png(args.sheet, np.concatenate(rows, axis=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

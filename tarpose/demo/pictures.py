"""The demo's pictures: the side-by-side video and the contact sheet of corrupted frames that
``tarpose demo`` writes (and ``scripts/figures.py`` draws for the docs), composed from
[tarpose.io][tarpose.io]'s drawing functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.synthetic.corruptions import names
from ..geometry import apply_affine
from ..io.render import draw_label, draw_pose, label_size, write_png
from ..io.video import write_video
from ..topdown import box_matrices

#: skeleton colours: single-frame, temporal, ground truth, the single-frame model after its filter
COLORS = {"single_frame": (255, 90, 60), "temporal": (40, 200, 255), "truth": (255, 255, 255),
          "single_frame+filter": (235, 80, 225)}

#: close-ups of the contact sheet: each frame through a crop of this size ``(H, W)`` around its
#: person, with this padding around the box
CLOSE_UP: tuple[int, int] = (256, 192)
CLOSE_UP_PADDING = 1.4


def close_up_matrices(boxes: Any) -> Any:
    """Image -> close-up crop maps ``(N, 2, 3)`` for person boxes ``(N, 4)`` ``x, y, w, h``."""
    return box_matrices(boxes, CLOSE_UP, CLOSE_UP_PADDING)


def write_outputs(video, result, out: Path, fps: float, zoom: int = 2) -> tuple[Path | None, Path]:
    """``out/demo.mp4`` ([write_movie][tarpose.demo.pictures.write_movie]; ``None`` without PyAV) and
    ``out/contact_sheet.png`` ([write_sheet][tarpose.demo.pictures.write_sheet])."""
    movie = None
    if importlib.util.find_spec("av") is not None:  # the core install: the contact sheet still works
        movie = write_movie(video, result, out / "demo.mp4", fps, zoom)
    return movie, write_sheet(video, result, out / "contact_sheet.png")


#: how each model is named on the pictures
TITLES = {"truth": "GROUND TRUTH", "single_frame": "SINGLE-FRAME", "temporal": "TAR (TEMPORAL)"}
CORRUPTED_RED = (230, 30, 30)


def caption(width: int, items: list[tuple[str, tuple[int, int, int]]], height: int = 22, scale: int = 2):
    """A dark band ``(height, width, 3)`` with coloured texts side by side."""
    band = np.full((height, width, 3), 24, np.uint8)
    scale = fit_scale(width, items, scale)
    x = 4
    for text, color in items:
        h, w = label_size(text, scale)
        band = draw_label(band, text, x, (height - h) // 2, color, scale, background=(24, 24, 24))
        x += w + 3 * scale
    return band


def fit_scale(width: int, items: list[tuple[str, tuple[int, int, int]]], scale: int = 2) -> int:
    """The largest letter scale up to ``scale`` at which ``items`` fit a band ``width`` wide (1 at
    least)."""
    while scale > 1 and 4 + sum(label_size(t, scale)[1] + 3 * scale for t, _ in items) > width:
        scale -= 1
    return scale


def corruption_text(code: int) -> str:
    """The corruption kinds of a bit mask as a caption (``"CLEAN"`` for none)."""
    return " + ".join(n.replace("_", " ") for n in names(code)).upper() or "CLEAN"


def write_movie(video, result, path: Path, fps: float, zoom: int = 2) -> Path:
    """The clip side by side (left: single-frame, right: TAR), ``zoom`` times larger, with a title
    over each side, corrupted frames framed in red and captioned with their corruption, and a
    legend under both."""

    images, _ = video.render()
    frames = images.permute(0, 2, 3, 1).numpy().repeat(zoom, 1).repeat(zoom, 2)  # (f, zh, zw, 3)
    gap = np.full((frames.shape[1], 4, 3), 255, np.uint8)
    width = 2 * frames.shape[2] + gap.shape[1]
    legend = caption(width, [("SKELETONS:", (200, 200, 200)), ("SINGLE-FRAME (LEFT),", COLORS["single_frame"]),
                             ("TAR (RIGHT).", COLORS["temporal"]), ("RED BORDER: A CORRUPTED FRAME", CORRUPTED_RED)])
    panels = []
    for t, frame in enumerate(frames):
        pair = []
        corrupted = bool(result.corrupted[t])
        for key in ("single_frame", "temporal"):
            panel = draw_pose(frame, result.predictions[key][t].numpy() * zoom, color=COLORS[key], threshold=0.0,
                              thickness=2.5, radius=3.5)
            if corrupted:
                for edge in (panel[:4], panel[-4:], panel[:, :4], panel[:, -4:]):
                    edge[...] = CORRUPTED_RED
            state = (corruption_text(int(result.corruption[t])), CORRUPTED_RED) if corrupted else ("CLEAN", (150, 150, 150))
            title = caption(panel.shape[1], [(TITLES[key], COLORS[key]), (f"FRAME {t}", (200, 200, 200)), state])
            pair.append(np.concatenate([title, panel], axis=0))
        gap_full = np.full((pair[0].shape[0], gap.shape[1], 3), 255, np.uint8)
        panels.append(np.concatenate([np.concatenate([pair[0], gap_full, pair[1]], axis=1), legend], axis=0))
    write_video(path, panels, fps)
    return path


def sheet_rows(result) -> list[tuple[str, str]]:
    """The contact sheet's rows as ``(prediction key, title)``: ground truth, single-frame, TAR,
    and the single-frame model after its filter when ``result`` has it (titled with the filter,
    `KeypointFilter.label`)."""
    rows = [("truth", TITLES["truth"]), ("single_frame", TITLES["single_frame"]), ("temporal", TITLES["temporal"])]
    filtered = "single_frame+filter"
    if filtered in result.predictions:
        rows.append((filtered, f"{TITLES['single_frame']} + {result.filters[filtered].label().upper()}"))
    return rows


def write_sheet(video, result, path: Path) -> Path:
    """Close-ups of up to 8 corrupted frames, each captioned with its frame number and corruption;
    rows (titled, `sheet_rows`): ground truth, single-frame, TAR, single-frame + its filter (when
    ``result`` has filtered tracks); a legend at the bottom."""

    chosen = [t for t in range(video.num_frames) if bool(result.corrupted[t])][:8]
    chosen = chosen or list(range(min(8, video.num_frames)))
    index = torch.tensor(chosen)
    matrix = close_up_matrices(video.boxes[index])
    crops, _ = video.render(index, matrix=matrix, size=CLOSE_UP)
    crops = crops.permute(0, 2, 3, 1).numpy()
    cell = CLOSE_UP[1] + 2
    heads = [[(f"FRAME {t}", (200, 200, 200)), (corruption_text(int(result.corruption[t])),
              CORRUPTED_RED if bool(result.corrupted[t]) else (150, 150, 150))] for t in chosen]
    scale = min(fit_scale(cell, items) for items in heads)  # one letter size across the columns
    columns = np.concatenate([caption(cell, items, scale=scale) for items in heads], axis=1)
    parts = [columns]
    rows = sheet_rows(result)
    for key, title in rows:
        points = video.keypoints if key == "truth" else result.predictions[key]
        mapped = apply_affine(points[index].double(), matrix).float().numpy()
        cells = [draw_pose(crop, p, color=COLORS[key], threshold=0.0) for crop, p in zip(crops, mapped)]
        row = np.concatenate([np.concatenate([c, np.full((CLOSE_UP[0], 2, 3), 255, np.uint8)], 1) for c in cells], 1)
        parts += [caption(row.shape[1], [(title, COLORS[key])]), row]
    width = parts[-1].shape[1]
    names = [(f"{title}{',' if i < len(rows) - 1 else ''}", COLORS[key]) for i, (key, title) in enumerate(rows)]
    parts.append(caption(width, [("COLUMNS: CORRUPTED FRAMES, THEIR CORRUPTION ON TOP. ROWS:", (200, 200, 200)),
                                 *names]))
    write_png(path, np.concatenate(parts, axis=0))
    return path

"""See what temporal aggregation buys, on a machine with no dataset and no GPU.

Generates a fresh synthetic clip (seeds never used in training) in which a fraction of the frames
is corrupted (occluders over limbs, motion blur, defocus, noise, dropped frames), runs the
bundled single-frame ViTPose and the bundled TAR-ViTPose on every frame (the same backbone, bit
for bit: TAR's temporal part was trained on top of it, frozen), and prints PCK@0.05 and OKS AP on
the clean and on the corrupted
frames, and the jitter of the keypoint tracks, for each model alone and after its best keypoint
filter (chosen first on --val-videos validation videos, never on the clip), and PCK per
corruption kind and per motion speed. Writes a side-by-side video (left: single-frame, right:
TAR; corrupted frames framed in red) and a PNG contact sheet of the corrupted frames.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

from . import CLIError, add_threads_argument, apply_threads

HELP = "compare the bundled single-frame and temporal models on a fresh synthetic clip"

#: skeleton colours: single-frame, temporal, ground truth, the single-frame model after its filter
COLORS = {"single_frame": (255, 90, 60), "temporal": (40, 200, 255), "truth": (255, 255, 255),
          "single_frame+filter": (235, 80, 225)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0,
                        help="which clip of the demo split (never used in training; default 0)")
    parser.add_argument("--frames", type=int, default=48, help="clip length (default 48)")
    parser.add_argument("--corruption", type=float, default=0.3,
                        help="fraction of corrupted frames (default 0.3)")
    parser.add_argument("--out", type=Path, default=Path("tarpose-demo"), metavar="DIR",
                        help="where the video and the contact sheet go (default ./tarpose-demo)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help='also write {"single_frame": {...}, "single_frame+filter": {...}, "temporal": '
                             '{...}, "temporal+filter": {...}, "filters": {...}} as JSON')
    parser.add_argument("--val-videos", type=int, default=8, metavar="N",
                        help="validation videos (32 frames each) on which each model's best filter is "
                             "chosen (default 8; 0: no filters)")
    parser.add_argument("--no-video", action="store_true", help="skip the video and the contact sheet")
    parser.add_argument("--fps", type=float, default=12.0, help="frame rate of the video (default 12)")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data.synthetic import SyntheticVideo, split_seeds
    from ..data.synthetic.corruptions import names
    from ..demo import compare, load_demo_models, predict_video, select_filter

    if args.frames < 3:
        raise CLIError(f"--frames must be >= 3, got {args.frames}")
    if not 0 <= args.corruption <= 1:
        raise CLIError(f"--corruption must be in [0, 1], got {args.corruption}")
    if args.val_videos < 0:
        raise CLIError(f"--val-videos must be >= 0, got {args.val_videos}")
    try:
        seed = split_seeds("demo", 1, args.seed)[0]
    except ValueError as error:
        raise CLIError(f"--seed: {error}") from None
    single, temporal = load_demo_models()
    apply_threads(args.threads, temporal)
    choices = {}
    if args.val_videos:
        with torch.inference_mode():
            val = [predict_video(SyntheticVideo(s, 32, corruption=args.corruption), single, temporal)
                   for s in split_seeds("val", args.val_videos)]
        choices = {model: select_filter(val, model) for model in ("single_frame", "temporal")}
        print(f"best filters on {args.val_videos} validation videos (PCK@0.05, all frames): " + "; ".join(
            f"{LABELS[m]} {c.filter.spec()} ({c.unfiltered:.1f} -> {c.score:.1f})" for m, c in choices.items()))
    video = SyntheticVideo(seed, args.frames, corruption=args.corruption)
    with torch.inference_mode():
        result = predict_video(video, single, temporal, filters={m: c.filter for m, c in choices.items()})
    scores = compare([result], kinds=True, speeds=True)
    kinds: dict[str, int] = {}
    for code in video.corruption.tolist():
        for kind in names(code):
            kinds[kind] = kinds.get(kind, 0) + 1
    h, w = video.image_size
    detail = ", ".join(f"{n} {k}" for k, n in kinds.items())
    print(f"clip {seed} ({video.action}, {args.frames} frames of {w}x{h}): "
          f"{int(result.corrupted.sum())} corrupted ({detail or 'none'})")
    print(table(scores, truth_jitter(video)))
    print(breakdown(scores))
    if not args.no_video:
        args.out.mkdir(parents=True, exist_ok=True)
        movie, sheet = write_outputs(video, result, args.out, args.fps)
        rows = "ground truth, single-frame, TAR" + (", single-frame + its filter" if choices else "")
        print(f"wrote {sheet} (corrupted frames; rows: {rows})")
        if movie is None:
            print('skipped the video: it needs PyAV (pip install "tarpose[video]")')
        else:
            print(f"wrote {movie} (left: single-frame, right: TAR; red border = corrupted frame)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        filters = {m: {**c.filter.describe(), "val_score": c.score, "val_unfiltered": c.unfiltered,
                       "val_videos": args.val_videos} for m, c in choices.items()}
        args.json.write_text(json.dumps({**scores, "filters": filters}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def truth_jitter(video) -> float:
    from ..demo import mean_jitter

    return mean_jitter([video.keypoints], [video.visibility > 0])


#: row labels of the models and their filtered tracks
LABELS = {"single_frame": "single-frame", "single_frame+filter": "single + filter",
          "temporal": "TAR (temporal)", "temporal+filter": "TAR + filter"}


def _cell(value: float, width: int) -> str:
    return f"{'-' if math.isnan(value) else f'{value:.1f}':>{width}}"


def table(scores: dict[str, dict[str, float]], truth: float | None = None) -> str:
    """The comparison as aligned text: a row per model (and per model + its filter)."""
    lines = [
        f"{'':<18}{'PCK@0.05 (%)':>20}{'OKS AP (%)':>20}{'jitter':>10}",
        f"{'model':<18}{'clean':>10}{'corrupted':>10}{'clean':>10}{'corrupted':>10}{'px/f^2':>10}",
    ]
    for key, s in scores.items():
        lines.append(f"{LABELS.get(key, key):<18}" + "".join(_cell(s[k], 10) for k in (
            "pck_clean", "pck_corrupted", "ap_clean", "ap_corrupted")) + f"{s['jitter']:>10.2f}")
    if truth is not None:
        lines.append(f"{'ground truth':<18}{'':>40}{truth:>10.2f}")
    return "\n".join(lines)


def breakdown(scores: dict[str, dict[str, float]]) -> str:
    """PCK@0.05 per corruption kind and per motion-speed bucket, a row per model."""
    from ..data.synthetic.corruptions import KINDS
    from ..demo import SPEED_EDGES, SPEEDS

    lo, hi = SPEED_EDGES
    heads = {"occlude": "occlude", "motion_blur": "blur", "defocus": "defocus", "noise": "noise", "drop": "drop"}
    kinds = [k for k in KINDS if k in heads]
    lines = [f"PCK@0.05 (%) by corruption kind, and by motion speed (% of the box per frame: "
             f"slow <{lo}, medium {lo}-{hi}, fast >={hi})",
             f"{'model':<18}" + "".join(f"{heads[k]:>9}" for k in kinds) + "".join(f"{s:>9}" for s in SPEEDS)]
    for key, s in scores.items():
        lines.append(f"{LABELS.get(key, key):<18}" + "".join(_cell(s.get(f"pck_{k}", math.nan), 9)
                                                           for k in [*kinds, *SPEEDS]))
    return "\n".join(lines)


def write_outputs(video, result, out: Path, fps: float, zoom: int = 2) -> tuple[Path | None, Path]:
    """``out/demo.mp4`` ([write_movie][tarpose.cli.demo.write_movie]; ``None`` without PyAV) and
    ``out/contact_sheet.png`` ([write_sheet][tarpose.cli.demo.write_sheet])."""
    movie = None
    if importlib.util.find_spec("av") is not None:  # the core install: the contact sheet still works
        movie = write_movie(video, result, out / "demo.mp4", fps, zoom)
    return movie, write_sheet(video, result, out / "contact_sheet.png")


#: how each model is named on the pictures
TITLES = {"truth": "GROUND TRUTH", "single_frame": "SINGLE-FRAME", "temporal": "TAR (TEMPORAL)"}
CORRUPTED_RED = (230, 30, 30)


def caption(width: int, items: list[tuple[str, tuple[int, int, int]]], height: int = 22, scale: int = 2):
    """A dark band ``(height, width, 3)`` with coloured texts side by side."""
    import numpy as np

    from ..io.render import draw_label, label_size

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
    from ..io.render import label_size

    while scale > 1 and 4 + sum(label_size(t, scale)[1] + 3 * scale for t, _ in items) > width:
        scale -= 1
    return scale


def corruption_text(code: int) -> str:
    from ..data.synthetic.corruptions import names

    return " + ".join(n.replace("_", " ") for n in names(code)).upper() or "CLEAN"


def write_movie(video, result, path: Path, fps: float, zoom: int = 2) -> Path:
    """The clip side by side (left: single-frame, right: TAR), ``zoom`` times larger, with a title
    over each side, corrupted frames framed in red and captioned with their corruption, and a
    legend under both."""
    import numpy as np

    from ..io.render import draw_pose
    from ..io.video import write_video

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
    import numpy as np
    import torch

    from ..geometry import apply_affine, box_to_center_scale, crop_matrices
    from ..io.render import draw_pose, write_png

    # close-ups: each frame rendered through a 256x192 crop around its person
    chosen = [t for t in range(video.num_frames) if bool(result.corrupted[t])][:8]
    chosen = chosen or list(range(min(8, video.num_frames)))
    index = torch.tensor(chosen)
    centre, scale = box_to_center_scale(video.boxes[index].double(), aspect_ratio=0.75, padding=1.4)
    matrix = crop_matrices(centre, scale, (256, 192))
    crops, _ = video.render(index, matrix=matrix, size=(256, 192))
    crops = crops.permute(0, 2, 3, 1).numpy()
    cell = 192 + 2
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
        row = np.concatenate([np.concatenate([c, np.full((256, 2, 3), 255, np.uint8)], 1) for c in cells], 1)
        parts += [caption(row.shape[1], [(title, COLORS[key])]), row]
    width = parts[-1].shape[1]
    names = [(f"{title}{',' if i < len(rows) - 1 else ''}", COLORS[key]) for i, (key, title) in enumerate(rows)]
    parts.append(caption(width, [("COLUMNS: CORRUPTED FRAMES, THEIR CORRUPTION ON TOP. ROWS:", (200, 200, 200)),
                                 *names]))
    write_png(path, np.concatenate(parts, axis=0))
    return path

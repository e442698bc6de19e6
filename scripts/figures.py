"""The documentation's figures and result tables, generated from the code.

    python scripts/figures.py                  # every figure and table (about a minute on a CPU)
    python scripts/figures.py --only gain      # one figure (names: see FIGURES)
    python scripts/figures.py --bench          # first re-measure benchmarks/results/demo_gain.json

The speed figure and the performance page's table read benchmarks/results/streaming.json, written by
`python benchmarks/bench_streaming.py --windowed --json benchmarks/results/streaming.json` (one
thread, 15-20 minutes; run it on an idle machine: the JSON records the load average).

Each figure is computed from the library (the bundled demo models, the synthetic generator, the
model's window, the benchmark's JSON) into plain numbers, then drawn: PNGs with matplotlib
(`pip install "tarpose[docs]"`), diagrams as SVG written directly. The numbers, the file written
and its SHA-256 go to docs/figures/figures.json; `tests/test_figures.py` recomputes the numbers
of the cheap figures and fails when the code no longer gives what the pictures show. The result
tables of the docs are rewritten from the same JSON between `<!-- generated: NAME -->` and
`<!-- end generated -->` markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

FIGURES_DIR = ROOT / "docs" / "figures"
INDEX = FIGURES_DIR / "figures.json"
GAIN_JSON = ROOT / "benchmarks" / "results" / "demo_gain.json"
STREAMING_JSON = ROOT / "benchmarks" / "results" / "streaming.json"
VTEST = ROOT.parent / "shared" / "data" / "vtest.avi"
VTEST_BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"
HOG_JSON = ROOT / "benchmarks" / "results" / "hog_threshold.json"
TRACKING_JSON = ROOT / "benchmarks" / "results" / "tracking.json"
THREADS_JSON = ROOT / "benchmarks" / "results" / "threads.json"

#: skeleton colours of the rows (RGB): ground truth, single-frame, TAR (as `tarpose demo`), and the
#: single-frame model after its filter; the gain chart's bars use them too (TAR + filter: its own)
ROW_COLORS = {"truth": (255, 255, 255), "single_frame": (255, 90, 60), "temporal": (40, 200, 255),
              "single_frame+filter": (235, 80, 225)}
ROW_LABELS = {"truth": "ground truth", "single_frame": "single-frame", "temporal": "TAR",
              "single_frame+filter": "single-frame + filter"}
#: the gain chart's series: the two models and each after its filter (benchmarks/results/demo_gain.json)
SERIES = {"single_frame": "single-frame", "single_frame+filter": "single + filter", "temporal": "TAR",
          "temporal+filter": "TAR + filter"}
SERIES_COLORS = {**ROW_COLORS, "temporal+filter": (25, 95, 175)}
KIND_LABELS = {"occlude": "occluder", "motion_blur": "motion blur", "defocus": "defocus",
               "noise": "heavy noise", "drop": "dropped frame"}
KIND_PHRASES = {"occlude": "occluded limbs", "motion_blur": "motion blur", "defocus": "defocus",
                "noise": "heavy noise", "drop": "dropped frames"}


def r2(x: Any) -> Any:
    """Numbers rounded for the JSON (nested lists too)."""
    if isinstance(x, (list, tuple)):
        return [r2(v) for v in x]
    return round(float(x), 2)


# -- the contact sheet -------------------------------------------------------------------------

#: the clip: `tarpose demo --seed SHEET_SEED --frames SHEET_FRAMES` (its defaults otherwise)
SHEET_SEED, SHEET_FRAMES, SHEET_CORRUPTION = 0, 48, 0.3


def gain_filters() -> dict[str, dict[str, Any]]:
    """Each model's filter as the gain benchmark chose it on validation videos (its JSON's
    ``"filters"``: name, options, spec)."""
    return json.loads(GAIN_JSON.read_text())["filters"]


def filter_label(info: dict[str, Any]) -> str:
    """A filter's short name (`KeypointFilter.label`: ``median 5``) from its JSON record."""
    from tarpose.filters import build_filter

    return build_filter(info["spec"]).label()


def sheet_data() -> dict[str, Any]:
    """One corrupted frame of each kind (the first of its kind) in the demo's clip: the close-up's
    keypoints of the four rows (ground truth, single-frame, single-frame after the filter the gain
    benchmark chose for it, TAR), in crop pixels."""
    import torch

    from tarpose.data.synthetic import SyntheticVideo, split_seeds
    from tarpose.data.synthetic.corruptions import names
    from tarpose import load_model
    from tarpose.demo import predict_video
    from tarpose.geometry import apply_affine

    video = SyntheticVideo(split_seeds("demo", 1, SHEET_SEED)[0], SHEET_FRAMES, corruption=SHEET_CORRUPTION)
    single, temporal = (load_model("vitpose-demo"), load_model("tar-vitpose-demo"))
    chosen_filter = gain_filters()["single_frame"]
    with torch.inference_mode():
        result = predict_video(video, single, temporal, filters={"single_frame": chosen_filter["spec"]})
    chosen: dict[str, int] = {}
    for t, code in enumerate(video.corruption.tolist()):
        for kind in names(code):
            chosen.setdefault(kind, t)
    columns = sorted(chosen.items(), key=lambda item: item[1])
    index = torch.tensor([t for _, t in columns])
    matrix = sheet_matrices(video, index)
    rows = {}
    for key in ROW_LABELS:
        points = video.keypoints if key == "truth" else result.predictions[key]
        rows[key] = r2(apply_affine(points[index].double(), matrix).tolist())
    return {"seed": SHEET_SEED, "frames": SHEET_FRAMES, "columns": [[k, t] for k, t in columns],
            "filter": {"spec": chosen_filter["spec"], "label": filter_label(chosen_filter)}, "rows": rows}


def sheet_matrices(video: Any, index: Any) -> Any:
    """Crop matrices of the close-ups, as ``tarpose demo``'s contact sheet takes them."""
    from tarpose.demo.pictures import close_up_matrices

    return close_up_matrices(video.boxes[index])


def sheet_draw(data: dict[str, Any], path: Path) -> None:
    import numpy as np
    import torch

    from tarpose.data.synthetic import SyntheticVideo, split_seeds
    from tarpose.demo.pictures import CLOSE_UP
    from tarpose.io.render import draw_pose

    plt = pyplot()
    video = SyntheticVideo(split_seeds("demo", 1, data["seed"])[0], data["frames"], corruption=SHEET_CORRUPTION)
    index = torch.tensor([t for _, t in data["columns"]])
    crops, _ = video.render(index, matrix=sheet_matrices(video, index), size=CLOSE_UP)
    crops = crops.permute(0, 2, 3, 1).numpy()
    n = len(data["columns"])
    labels = {**ROW_LABELS, "single_frame+filter": f"single-frame\n+ {data['filter']['label']}"}
    fig, axes = plt.subplots(len(labels), n, figsize=(1.55 * n + 0.9, 2.1 * len(labels)), squeeze=False)
    for r, key in enumerate(labels):
        for c, (kind, t) in enumerate(data["columns"]):
            ax = axes[r][c]
            ax.imshow(draw_pose(crops[c], np.array(data["rows"][key][c]), color=ROW_COLORS[key], threshold=0.0))
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{KIND_LABELS[kind]}\nframe {t}", fontsize=10)
            if c == 0:
                ax.set_ylabel(labels[key], fontsize=11)
    fig.tight_layout(pad=0.4)
    save(fig, path)


# -- the gain chart ----------------------------------------------------------------------------


def gain_data() -> dict[str, Any]:
    """PCK@0.05 of both models and of each after its filter, per corruption kind and per
    motion-speed bucket, read from the gain benchmark's JSON."""
    results = json.loads(GAIN_JSON.read_text())
    s = results["single_frame"]
    kinds = [k for k in KIND_LABELS if f"pck_{k}" in s]
    speeds = list(results["speed_buckets"])
    pick = lambda keys: {series: [round(results[series][k], 3) for k in keys] for series in SERIES}
    return {
        "kinds": kinds, "kind_pck": pick([f"pck_{k}" for k in kinds]),
        "speeds": speeds, "speed_pck": pick([f"pck_{k}" for k in speeds]),
        "speed_buckets": results["speed_buckets"], "speed_frames": results["speed_frames"],
        "filters": {model: filter_label(info) for model, info in results["filters"].items()},
        "frames": results["frames"], "weights": results["weights"],
    }


def gain_draw(data: dict[str, Any], path: Path) -> None:
    import numpy as np

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [5, 3]})
    def bucket(name: str) -> str:
        low, high = data["speed_buckets"][name]
        span = f"< {high:g}" if low == 0 else f">= {low:g}" if high is None else f"{low:g}-{high:g}"
        return f"{name}\n{span}%/frame"
    names = {"single_frame+filter": f"single + {data['filters']['single_frame']}",
             "temporal+filter": f"TAR + {data['filters']['temporal']}"}
    width = 0.2
    for ax, labels, values, title in (
        (left, [KIND_LABELS[k] for k in data["kinds"]], data["kind_pck"], "corrupted frames, by corruption"),
        (right, [bucket(k) for k in data["speeds"]], data["speed_pck"], "all frames, by motion speed"),
    ):
        x = np.arange(len(labels))
        base = np.array(values["single_frame"])
        for i, series in enumerate(SERIES):
            v = np.array(values[series])
            xs = x + (i - 1.5) * width
            ax.bar(xs, v, width, label=names.get(series, SERIES[series]),
                   color=np.array(SERIES_COLORS[series]) / 255, edgecolor="white", linewidth=0.5)
            if series != "single_frame":  # each bar's gain over the single-frame model
                for xi, vi, bi in zip(xs, v, base):
                    ax.text(xi, vi + 1, f"{vi - bi:+.1f}", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(x, labels, fontsize=9)
        ax.set_ylim(0, 125)
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    left.set_ylabel("PCK@0.05 (%)")
    left.legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(pad=0.5)
    save(fig, path)


# -- a real frame: vtest.avi -------------------------------------------------------------------

#: frames of vtest.avi run through the predictor; the figure shows the last one
VTEST_FRAMES = 24


def vtest_data() -> dict[str, Any]:
    """The bundled TAR demo model streamed over the first frames of vtest.avi with the boxes of
    tests/data/vtest_boxes.json, linked by the ByteTracker (the default of `PoseInferencer` and
    `tarpose predict`): the last frame's tracks and poses."""
    import torch

    from tarpose.inference import PoseInferencer

    if not VTEST.exists():
        raise FileNotFoundError(f"{VTEST} is not here (the vtest figure needs ../shared/data)")
    inferencer = PoseInferencer("tar-vitpose-demo", detector=str(VTEST_BOXES))  # a ByteTracker links them
    last = None
    with torch.inference_mode():
        for poses in inferencer(str(VTEST), max_frames=VTEST_FRAMES):
            last = poses
    return {"frame": last.index, "track_ids": list(last.track_ids), "boxes": r2(last.boxes.tolist()),
            "keypoints": r2(last.keypoints.tolist()), "scores": r2(last.scores.tolist())}


def vtest_draw(data: dict[str, Any], path: Path) -> None:
    import numpy as np
    import torch

    from tarpose.inference import FramePoses
    from tarpose.io import VideoReader, draw_poses, write_png

    frame = next(f for i, f in enumerate(VideoReader(VTEST)) if i == data["frame"])
    poses = FramePoses(index=data["frame"], track_ids=data["track_ids"], boxes=torch.tensor(data["boxes"]),
                       keypoints=torch.tensor(data["keypoints"]), scores=torch.tensor(data["scores"]))
    image = draw_poses(frame, poses, threshold=0.0)
    write_png(path, np.ascontiguousarray(image[100:500, :]))  # the street, without sky and pavement


# -- JTA's heatmap mask ------------------------------------------------------------------------

#: the window shown: demo clip SHEET_SEED, target frame MASK_FRAME, joint MASK_JOINT
MASK_FRAME, MASK_JOINT = None, 9  # None: the first dropped frame at least 2 frames from the ends


def mask_data() -> dict[str, Any]:
    """A window of the demo's clip around a dropped frame: one joint's initial heatmap in each
    frame and the mask JTA derives from it."""
    import torch
    from einops import rearrange

    from tarpose.data.synthetic import SyntheticVideo, split_seeds
    from tarpose.data.synthetic.corruptions import DROP
    from tarpose import load_model
    from tarpose.geometry import box_to_center_scale, crop_matrices, normalize_images
    from tarpose.layers import heatmap_mask
    from tarpose.preprocess import resolve_data_config

    video = SyntheticVideo(split_seeds("demo", 1, SHEET_SEED)[0], SHEET_FRAMES, corruption=SHEET_CORRUPTION)
    model = load_model("tar-vitpose-demo")
    window = model.window
    target = MASK_FRAME
    if target is None:
        target = next(t for t, c in enumerate(video.corruption.tolist())
                      if c & DROP and window.target_index <= t < video.num_frames - window.lookahead)
    data = resolve_data_config(model)
    h, w = data.input_size
    index, valid = window.indices(target, video.num_frames)
    centre, scale = box_to_center_scale(video.boxes[target:target + 1].double(), aspect_ratio=w / h, padding=1.25)
    matrix = crop_matrices(centre, scale, (h, w)).repeat(len(index), 1, 1)
    crops, _ = video.render(index, matrix=matrix, size=(h, w))
    clip = rearrange(normalize_images(crops, data.mean, data.std), "t c h w -> 1 t c h w")
    with torch.inference_mode():
        out = model(clip, frame_valid=valid[None], return_initial=True)
    grid = (h // model.base_config.patch_size, w // model.base_config.patch_size)
    mask = heatmap_mask(out.initial_heatmaps, grid, model.jta.mask_threshold)  # (1, T, J, h, w)
    return {
        "frame": target, "joint": MASK_JOINT, "frames": index.tolist(), "threshold": model.jta.mask_threshold,
        "heatmaps": r2(out.initial_heatmaps[0, :, MASK_JOINT].tolist()),
        "mask": mask[0, :, MASK_JOINT].int().tolist(),
        "corruption": video.corruption[index].tolist(),
    }


def mask_draw(data: dict[str, Any], path: Path) -> None:
    import numpy as np
    import torch

    from tarpose.data.synthetic import SyntheticVideo, split_seeds
    from tarpose.data.synthetic.corruptions import names
    from tarpose import load_model
    from tarpose.geometry import box_to_center_scale, crop_matrices
    from tarpose.keypoints import COCO_KEYPOINTS
    from tarpose.preprocess import resolve_data_config

    plt = pyplot()
    video = SyntheticVideo(split_seeds("demo", 1, SHEET_SEED)[0], SHEET_FRAMES, corruption=SHEET_CORRUPTION)
    h, w = resolve_data_config(load_model("tar-vitpose-demo")).input_size
    index = torch.tensor(data["frames"])
    centre, scale = box_to_center_scale(video.boxes[data["frame"]:data["frame"] + 1].double(),
                                        aspect_ratio=w / h, padding=1.25)
    crops, _ = video.render(index, matrix=crop_matrices(centre, scale, (h, w)).repeat(len(index), 1, 1), size=(h, w))
    crops = crops.permute(0, 2, 3, 1).numpy()
    n = len(index)
    fig, axes = plt.subplots(3, n, figsize=(1.5 * n + 0.9, 5.6), squeeze=False)
    extent = (0, w, h, 0)
    for c in range(n):
        offset = data["frames"][c] - data["frame"]
        kind = ", ".join(KIND_LABELS[k] for k in names(data["corruption"][c])) or "clean"
        axes[0][c].set_title(f"t{offset:+d}" if offset else "t (target)", fontsize=10)
        axes[0][c].imshow(crops[c])
        axes[0][c].set_xlabel(kind, fontsize=9)
        axes[1][c].imshow(crops[c], alpha=0.35, extent=extent)
        axes[1][c].imshow(np.array(data["heatmaps"][c]), cmap="magma", alpha=0.75, extent=extent)
        axes[2][c].imshow(crops[c], extent=extent)
        mask = np.array(data["mask"][c], dtype=float)
        axes[2][c].imshow(np.ma.masked_where(mask > 0, np.ones_like(mask)), cmap="gray", vmin=0, vmax=1.5,
                          alpha=0.85, extent=extent)
        for r in range(3):
            axes[r][c].set_xticks([]), axes[r][c].set_yticks([])
    joint = COCO_KEYPOINTS[data["joint"]].replace("_", " ")
    axes[0][0].set_ylabel("crops", fontsize=10)
    axes[1][0].set_ylabel(f"{joint}\nheatmap", fontsize=10)
    axes[2][0].set_ylabel(f"mask\n(>= {data['threshold']:g})", fontsize=10)
    fig.tight_layout(pad=0.4)
    save(fig, path)


# -- diagrams (SVG written directly) -----------------------------------------------------------


class Svg:
    """A few shapes, written as SVG text (deterministic: the tests compare the bytes)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height, self.items = width, height, []

    def box(self, x: float, y: float, w: float, h: float, lines: list[str], fill: str, stroke: str) -> None:
        self.items.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{stroke}"/>')
        top = y + h / 2 - 8 * (len(lines) - 1)
        for i, line in enumerate(lines):
            mono = line.startswith("(") or line.startswith("e.g.")
            self.text(x + w / 2, top + 16 * i + 4, line, size=11 if mono else 13, mono=mono,
                      weight="bold" if i == 0 and not mono else "normal")

    def text(self, x: float, y: float, s: str, size: int = 12, anchor: str = "middle", mono: bool = False,
             weight: str = "normal", fill: str = "#222") -> None:
        family = "monospace" if mono else "sans-serif"
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.items.append(f'<text x="{x}" y="{y}" font-family="{family}" font-size="{size}" '
                          f'font-weight="{weight}" text-anchor="{anchor}" fill="{fill}">{s}</text>')

    def arrow(self, points: list[tuple[float, float]], label: str = "", at: int = 0, dx: float = 6,
              color: str = "#444") -> None:
        path = " ".join(f"{x},{y}" for x, y in points)
        self.items.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6" '
                          'marker-end="url(#head)"/>')
        if label:
            (x0, y0), (x1, y1) = points[at], points[at + 1]
            self.text((x0 + x1) / 2 + dx, (y0 + y1) / 2 + 4, label, size=11, anchor="start", mono=True,
                      fill="#555")

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "none") -> None:
        self.items.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="{stroke}"/>')

    def render(self) -> str:
        head = ('<marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>')
        body = "\n".join(self.items)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
                f'width="{self.width}" height="{self.height}">\n<defs>{head}</defs>\n'
                f'<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def pipeline_data() -> dict[str, Any]:
    """The shapes at each stage of the bundled TAR demo model on one 5-frame window, recorded by
    forward hooks, and the mask threshold and JTA depth it was built with."""
    import torch

    from tarpose import load_model
    from tarpose.layers import heatmap_mask

    model = load_model("tar-vitpose-demo")
    h, w = model.data_config.input_size
    shapes: dict[str, list[int]] = {}
    def hook(name: str) -> Callable[..., None]:
        def record(module: Any, args: Any, out: Any) -> None:
            shapes.setdefault(name, list(out.shape))
        return record

    handles = [model.encoder.register_forward_hook(hook("features")),
               model.decoder.register_forward_hook(hook("initial")),
               model.jta.register_forward_hook(hook("joints")),
               model.gra.register_forward_hook(hook("restored"))]
    if model.heatmap_embed is not None:
        handles.append(model.heatmap_embed.register_forward_hook(hook("evidence")))
    clip = torch.zeros(1, model.num_frames, 3, h, w)
    with torch.inference_mode():
        out = model(clip, return_initial=True)
    for handle in handles:
        handle.remove()
    grid = tuple(shapes["features"][-2:])
    shapes["clip"] = list(clip.shape)
    shapes["mask"] = list(heatmap_mask(out.initial_heatmaps, grid, model.jta.mask_threshold).shape)
    shapes["final"] = list(out.heatmaps.shape)
    config = model.config
    return {"model": "tar-vitpose-demo", "shapes": shapes, "threshold": model.jta.mask_threshold,
            "depth": len(model.jta.layers), "target": model.window.target_index, "restore": config.restore,
            "ffn_ratio": config.gra_ffn_ratio, "heatmap_embed": config.heatmap_embed}


def pipeline_svg(data: dict[str, Any]) -> str:
    s = data["shapes"]
    eg = lambda key: "e.g. (" + ", ".join(map(str, s[key])) + ")"
    base, new = ("#e8eef7", "#5b7bb0"), ("#fde9d9", "#d9822b")
    svg = Svg(720, 650)
    W, H = 260, 58
    L, R = 30, 420  # the two lanes
    svg.box(L, 20, W, H, ["clip, one crop box", "(B, T, 3, H, W)", eg("clip")], "#f4f4f4", "#999")
    svg.box(L, 118, W, H, ["ViT encoder", "shared by every frame"], *base)
    svg.box(L, 216, W, H, ["feature maps F", "(B·T, C, h, w)", eg("features")], "#f4f4f4", "#999")
    svg.box(L, 314, W, H, ["decoder", "shared by every frame"], *base)
    svg.box(L, 412, W, H, ["initial heatmaps", "(B·T, J, Hh, Wh)", eg("initial")], "#f4f4f4", "#999")
    svg.box(L, 510, W, H + 10, ["heatmap mask", f"min-max, resize to (h, w), >= {data['threshold']:g}",
                                 "(B, T, J, h, w)", eg("mask")], "#f4f4f4", "#999")
    svg.arrow([(L + W / 2, 78), (L + W / 2, 118)], "'b t c h w -> (b t) c h w'")
    svg.arrow([(L + W / 2, 176), (L + W / 2, 216)])
    svg.arrow([(L + W / 2, 274), (L + W / 2, 314)])
    svg.arrow([(L + W / 2, 372), (L + W / 2, 412)])
    svg.arrow([(L + W / 2, 470), (L + W / 2, 510)])
    svg.box(R, 236, W, 110, [f"JTA x {data['depth']}", "J joint queries attend to the", "T·h·w tokens the mask allows;",
                             "self-attention; FFN"], *new)
    attend = {"zero_out": "x = F(t) + Attn(F(t), Q)", "postnorm": "x = LN(F(t) + Attn(F(t), Q))",
              "residual": "x = F(t) + g · Attn(F(t), Q)"}[data["restore"]]
    gra = ["GRA", "frame t's h·w tokens read the", "J joint tokens Q:", attend]
    if data["heatmap_embed"]:
        gra[-1] += " + E"
    if data["ffn_ratio"]:
        gra.append("then x + FFN(LN(x))")
    svg.box(R, 380, W, 90, gra, *new)
    if data["heatmap_embed"]:
        svg.arrow([(L + W, 450), (R, 450)])
        svg.text(L + W + 6, 444, "E (B, C, h, w)", size=11, anchor="start", mono=True, fill="#555")
    svg.box(R, 500, W, H - 10, ["decoder (the same)"], *base)
    svg.box(R, 576, W, H, ["final heatmaps of frame t", "(B, J, Hh, Wh)", eg("final")], "#f4f4f4", "#999")
    svg.arrow([(L + W, 236), (R, 262)])
    svg.text(L + W + 8, 228, "tokens (B, T·h·w, C)", size=11, anchor="start", mono=True, fill="#555")
    svg.arrow([(L + W, 258), (R - 40, 258), (R - 40, 420), (R, 420)])
    svg.text(R - 46, 300, "F(t) (B, C, h, w)", size=11, anchor="end", mono=True, fill="#555")
    svg.arrow([(L + W, 540), (R - 20, 540), (R - 20, 330), (R, 330)])
    svg.arrow([(R + W / 2, 346), (R + W / 2, 380)], "joint tokens (B, J, C)")
    svg.arrow([(R + W / 2, 470), (R + W / 2, 500)], "restored map (B, C, h, w)")
    svg.arrow([(R + W / 2, 548), (R + W / 2, 576)])
    svg.text(R, 40, "base model (any ViTPose)", size=12, anchor="start")
    svg.rect(R - 22, 30, 16, 12, base[0], base[1])
    svg.text(R, 62, "added by TAR (new parameters)", size=12, anchor="start")
    svg.rect(R - 22, 52, 16, 12, new[0], new[1])
    svg.text(R, 96, f"shapes: {data['model']}, one window", size=11, anchor="start", fill="#555")
    svg.text(R, 112, f"(B=1, T={s['clip'][1]}, target frame index {data['target']})", size=11, anchor="start", fill="#555")
    if data["heatmap_embed"]:
        svg.text(R, 136, "E: the window's initial heatmaps embedded", size=11, anchor="start", fill="#555")
        svg.text(R, 152, "per token (HeatmapEmbedding)", size=11, anchor="start", fill="#555")
    return svg.render()


def streaming_data() -> dict[str, Any]:
    """The windows of the two streaming modes of a 5-frame model, from [tarpose.Window]."""
    from tarpose import Window

    return {mode: {"offsets": list(Window(5, target).offsets), "lookahead": Window(5, target).lookahead}
            for mode, target in (("centred", "centred"), ("causal", "last"))}


def streaming_svg(data: dict[str, Any]) -> str:
    frames, cell, x0 = 12, 44, 150
    svg = Svg(x0 + frames * cell + 20, 320)
    t = 6  # the output frame whose window is shown
    for row, (mode, spec) in enumerate(data.items()):
        y = 30 + row * 150
        title = {"centred": "centred (default)", "causal": "causal (target='last')"}[mode]
        svg.text(20, y + 18, title, size=13, anchor="start", weight="bold")
        svg.text(20, y + 56, "frame arrives", size=12, anchor="start")
        svg.text(20, y + 106, "pose comes out", size=12, anchor="start")
        window = [t + o for o in spec["offsets"]]
        for f in range(frames):
            x = x0 + f * cell
            fill = "#fde9d9" if f in window else "#f4f4f4"
            stroke = "#d9822b" if f == t else "#999"
            svg.items.append(f'<rect x="{x}" y="{y + 36}" width="{cell - 8}" height="30" rx="4" fill="{fill}" stroke="{stroke}"/>')
            svg.text(x + (cell - 8) / 2, y + 56, str(f), size=12, mono=True)
            out = f - spec["lookahead"]
            if out >= 0:
                svg.text(x + (cell - 8) / 2, y + 106, str(out), size=12, mono=True,
                         fill="#d9822b" if out == t else "#222", weight="bold" if out == t else "normal")
        arrive = t + spec["lookahead"]
        xa = x0 + arrive * cell + (cell - 8) / 2
        svg.arrow([(xa, y + 68), (xa, y + 92)])
        delay = spec["lookahead"]
        note = (f"frame {t} uses frames {window[0]}..{window[-1]} and comes out when frame {arrive} arrives "
                f"({delay} frames late)" if delay else
                f"frame {t} uses frames {window[0]}..{window[-1]} and comes out at once")
        svg.text(x0, y + 130, note, size=12, anchor="start", fill="#555")
    return svg.render()


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure: the numbers it shows, how it is drawn, and how costly it is to recompute."""

    file: str
    compute: Callable[[], dict[str, Any]]
    draw: Callable[[dict[str, Any], Path], None]
    needs: str = ""  # what else it needs: "vtest" (../shared/data/vtest.avi and PyAV)


# -- speed: the streaming benchmark ---------------------------------------------------------------

#: the parts of a streaming push the benchmark times on their own, in stacking order
COST_PARTS = {"decoder": "second decoder pass (the floor)", "jta": "JTA (gathered)", "gra": "GRA + FFN",
              "embed": "heatmap embedding", "rest": "the rest (windows, masks, caches)"}
COST_COLORS = {"decoder": (150, 150, 150), "jta": (40, 200, 255), "gra": (25, 95, 175), "embed": (120, 90, 200),
               "rest": (225, 225, 225)}
PIPELINES = {"single_frame": "single-frame ViTPose", "streaming": "streaming TAR",
             "windowed": "windowed recomputation (5 encodes)"}
PIPELINE_COLORS = {"single_frame": ROW_COLORS["single_frame"], "streaming": ROW_COLORS["temporal"],
                   "windowed": (120, 120, 120)}


def speed_data() -> dict[str, Any]:
    """Per model of the streaming benchmark's JSON: ms per frame of each pipeline, and what
    streaming adds to single-frame, part by part, in % of single-frame (the parts timed on their
    own; ``rest``: the measured total minus them)."""
    results = json.loads(STREAMING_JSON.read_text())
    models = {}
    for name, m in results["models"].items():
        single = m["single_frame"]
        added = {"decoder": m["decoder"], "jta": m["jta"], "gra": m["gra"], "embed": m["embed"]}
        added["rest"] = m["streaming"] - single - sum(added.values())  # the stack: streaming - single
        models[name] = {
            "ms": {k: None if m[k] is None else round(m[k], 1) for k in PIPELINES},
            "added_pct": {k: round(100 * v / single, 2) for k, v in added.items()},
            # the picture draws the medians' times, so its ratios are of the medians too (the
            # table's are the medians of the rounds' ratios)
            "ratio": round(m["streaming"] / single, 3), "ratio_dense": round(m["streaming_dense"] / single, 3),
            "floor": round(m["floor"], 3),
            "windowed_ratio": None if m["windowed"] is None else round(m["windowed"] / single, 2),
            "tokens": [m["largest_tokens"], m["tokens"]],
        }
    setup = {k: results[k] for k in ("device", "threads", "torch", "crop", "persons", "masks", "repeats", "cpus")}
    setup["load_average_start"] = round(results["load_average_start"][0], 2)
    setup["load_average_end"] = round(results["load_average_end"][0], 2)
    return {"setup": setup, "models": models}


def speed_draw(data: dict[str, Any], path: Path) -> None:
    import numpy as np

    plt = pyplot()
    names = list(data["models"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [4, 5]})
    x, width = np.arange(len(names)), 0.26
    for i, key in enumerate(PIPELINES):
        values = [data["models"][n]["ms"][key] for n in names]
        xs = x + (i - 1) * width
        shown = [(xi, v) for xi, v in zip(xs, values) if v is not None]
        left.bar([a for a, _ in shown], [v / 1000 for _, v in shown], width, label=PIPELINES[key],
                 color=np.array(PIPELINE_COLORS[key]) / 255, edgecolor="white", linewidth=0.5)
        for (xi, v), n in zip(shown, [n for n, v in zip(names, values) if v is not None]):
            ratio = v / data["models"][n]["ms"]["single_frame"]
            left.text(xi, v / 1000, f"{ratio:.2f}x", ha="center", va="bottom", fontsize=7)
    left.set_xticks(x, names, fontsize=9)
    left.set_ylabel("seconds per frame")
    top = max(v for n in names for v in data["models"][n]["ms"].values() if v is not None) / 1000
    left.set_ylim(0, top * 1.3)
    left.legend(loc="upper left", fontsize=8, frameon=False)
    left.set_title(f"per frame, {data['setup']['persons']} persons, one CPU thread", fontsize=10)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    y = np.arange(len(names))[::-1]
    start = np.zeros(len(names))
    for part, label in COST_PARTS.items():
        # the rest is a difference of separately timed medians: drawn only where it is positive
        values = np.array([max(data["models"][n]["added_pct"][part], 0.0) for n in names])
        right.barh(y, values, 0.5, left=start, label=label, color=np.array(COST_COLORS[part]) / 255,
                   edgecolor="white", linewidth=0.5)
        start += values
    for i, (yi, n) in enumerate(zip(y, names)):
        m = data["models"][n]
        floor, dense = 100 * (m["floor"] - 1), 100 * (m["ratio_dense"] - 1)
        right.plot([floor, floor], [yi - 0.32, yi + 0.32], color="black", linewidth=1.2)
        right.plot([dense], [yi], marker="|", markersize=14, color="#c03030", markeredgewidth=1.5)
        right.plot([100 * (m["ratio"] - 1)], [yi], marker="D", markersize=5, color="black")
        right.text(max(start[i], dense) + 1.0, yi,
                   f"+{100 * (m['ratio'] - 1):.0f}%\nfloor +{floor:.0f}%, dense +{dense:.0f}%", va="center", fontsize=8)
    right.plot([], [], color="black", linewidth=1.2, label="floor: one more decoder pass")
    right.plot([], [], marker="|", markersize=10, linestyle="none", color="#c03030", markeredgewidth=1.5,
               label="measured, with JTA's dense attention")
    right.plot([], [], marker="D", markersize=5, linestyle="none", color="black", label="measured")
    right.set_yticks(y, names, fontsize=9)
    right.set_xlim(0, max(start.max(), 100 * (max(m["ratio_dense"] for m in data["models"].values()) - 1)) * 1.35)
    right.set_xlabel("streaming's time above single-frame, % of single-frame")
    right.set_title("what streaming adds per frame", fontsize=10)
    right.legend(loc="upper center", bbox_to_anchor=(0.45, -0.2), ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(pad=0.5)
    save(fig, path)


def _svg(render: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any], Path], None]:
    return lambda data, path: path.write_text(render(data))


FIGURES: dict[str, Figure] = {
    "contact_sheet": Figure("contact_sheet.png", sheet_data, sheet_draw),
    "gain": Figure("gain.png", gain_data, gain_draw),
    "vtest": Figure("vtest.png", vtest_data, vtest_draw, needs="vtest"),
    "jta_mask": Figure("jta_mask.png", mask_data, mask_draw),
    "pipeline": Figure("pipeline.svg", pipeline_data, _svg(pipeline_svg)),
    "streaming": Figure("streaming.svg", streaming_data, _svg(streaming_svg)),
    "speed": Figure("speed.png", speed_data, speed_draw),
}


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit('the figures need matplotlib: pip install "tarpose[docs]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "tarpose", "font.family": "DejaVu Sans"})
    return plt


def save(fig: Any, path: Path) -> None:
    fig.savefig(path, dpi=96, metadata={"Software": None})
    pyplot().close(fig)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- generated tables --------------------------------------------------------------------------

MARKER = re.compile(r"(<!-- generated: (\S+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def gain_table() -> str:
    """The demo page's result table, from the gain benchmark's JSON."""
    results = json.loads(GAIN_JSON.read_text())
    s, t = results["single_frame"], results["temporal"]
    rows = [("PCK@0.05, clean frames", "pck_clean"), ("PCK@0.05, corrupted frames", "pck_corrupted"),
            ("OKS AP, clean frames", "ap_clean"), ("OKS AP, corrupted frames", "ap_corrupted")]
    rows += [(f"PCK@0.05, {KIND_PHRASES[k]}", f"pck_{k}") for k in KIND_LABELS if f"pck_{k}" in s]
    for name, (low, high) in results["speed_buckets"].items():
        span = f"< {high:g}" if low == 0 else f">= {low:g}" if high is None else f"{low:g}-{high:g}"
        rows.append((f"PCK@0.05, {name} motion ({span}% of the box per frame, "
                     f"{results['speed_frames'][name]} frames)", f"pck_{name}"))
    rows.append(("jitter (px/frame², lower is steadier)", "jitter"))
    lines = ["| metric | single-frame | TAR (temporal) | gain |", "|---|---|---|---|"]
    for label, key in rows:
        if math.isnan(s[key]) or math.isnan(t[key]):
            continue
        lines.append(f"| {label} | {s[key]:.2f} | {t[key]:.2f} | {t[key] - s[key]:+.2f} |")
    return "\n".join(lines) + "\n"


def gain_summary() -> str:
    """A few lines: the gain on corrupted frames, and the best filters', for the home page."""
    results = json.loads(GAIN_JSON.read_text())
    s, t = results["single_frame"], results["temporal"]
    sf, tf = results["single_frame+filter"], results["temporal+filter"]
    return textwrap.fill(
        f"On {results['frames']} held-out synthetic frames ({results['corrupted_frames']} corrupted), "
        f"TAR lifts PCK@0.05 on the corrupted frames from {s['pck_corrupted']:.1f} to "
        f"{t['pck_corrupted']:.1f} and OKS AP from {s['ap_corrupted']:.1f} to {t['ap_corrupted']:.1f}; "
        f"on clean frames {s['pck_clean']:.1f} against {t['pck_clean']:.1f}. The obvious alternative, "
        f"a {filter_label(results['filters']['single_frame'])} filter over the single-frame model's keypoint "
        f"tracks, reaches {sf['pck_corrupted']:.1f} PCK and {sf['ap_corrupted']:.1f} AP on the corrupted frames; "
        f"TAR + {filter_label(results['filters']['temporal'])} {tf['pck_corrupted']:.1f} and "
        f"{tf['ap_corrupted']:.1f}.", 100) + "\n"


def gain_short() -> str:
    """The README's table (clean and corrupted frames, jitter) and a line per corruption kind."""
    results = json.loads(GAIN_JSON.read_text())
    s, t = results["single_frame"], results["temporal"]
    rows = [("PCK@0.05, clean frames", "pck_clean"), ("PCK@0.05, corrupted frames", "pck_corrupted"),
            ("OKS AP, clean frames", "ap_clean"), ("OKS AP, corrupted frames", "ap_corrupted"),
            ("jitter (px/frame², lower is steadier)", "jitter")]
    lines = ["| metric | single-frame | TAR (temporal) | gain |", "|---|---|---|---|"]
    lines += [f"| {label} | {s[k]:.2f} | {t[k]:.2f} | {t[k] - s[k]:+.2f} |" for label, k in rows]
    kinds = sorted((k for k in KIND_LABELS if f"pck_{k}" in s), key=lambda k: s[f"pck_{k}"] - t[f"pck_{k}"])
    gains = [f"{t[f'pck_{k}'] - s[f'pck_{k}']:+.1f} on {KIND_PHRASES[k]}" for k in kinds]
    speeds = [f"{t[f'pck_{k}'] - s[f'pck_{k}']:+.1f} on {k}" for k in results["speed_buckets"]]
    and_ = lambda items: ", ".join(items[:-1]) + " and " + items[-1]
    text = (f"By corruption, TAR changes PCK@0.05 by {and_(gains)}; by motion speed (all frames), "
            f"by {and_(speeds)} motion.")
    return "\n".join(lines) + "\n\n" + textwrap.fill(text, 100) + "\n"


#: the four series of the filter comparison, in column order
FOUR = ("single_frame", "single_frame+filter", "temporal", "temporal+filter")
FAMILIES = {"median": "median", "mean": "score-weighted mean", "savgol": "Savitzky-Golay", "one-euro": "One-Euro"}


def _gain() -> tuple[dict[str, Any], dict[str, str]]:
    """The gain benchmark's JSON and the four series' column names (filters by their labels)."""
    results = json.loads(GAIN_JSON.read_text())
    f = {m: filter_label(info) for m, info in results["filters"].items()}
    return results, {"single_frame": "single-frame", "single_frame+filter": f"single + {f['single_frame']}",
                     "temporal": "TAR", "temporal+filter": f"TAR + {f['temporal']}"}


def _rows(results: dict[str, Any], detail: bool) -> list[tuple[str, str]]:
    """(label, key) of the comparison's rows; ``detail``: every kind and speed bucket with its
    clean and corrupted frames."""
    rows = [("PCK@0.05, clean frames", "pck_clean"), ("PCK@0.05, corrupted frames", "pck_corrupted")]
    rows += [("PCK@0.05, all frames", "pck_all")] if detail else []
    rows += [("OKS AP, clean frames", "ap_clean"), ("OKS AP, corrupted frames", "ap_corrupted")]
    rows += [("OKS AP, all frames", "ap_all")] if detail else []
    if detail:
        rows += [(f"PCK@0.05, {KIND_PHRASES[k]}", f"pck_{k}") for k in KIND_LABELS if f"pck_{k}" in results["single_frame"]]
    for name, (low, high) in results["speed_buckets"].items():
        span = f"< {high:g}" if low == 0 else f">= {low:g}" if high is None else f"{low:g}-{high:g}"
        if detail:
            rows += [(f"PCK@0.05, {name} motion ({span})", f"pck_{name}"), ("... clean frames", f"pck_{name}_clean"),
                     ("... corrupted frames", f"pck_{name}_corrupted")]
        elif name == "fast":
            rows.append((f"PCK@0.05, fast motion ({span}% of the box per frame)", "pck_fast"))
    return rows + [("jitter (px/frame², lower is steadier)", "jitter")]


def gain_filters_table() -> str:
    """The demo page's four-series table with TAR's and TAR + filter's difference to single + filter."""
    results, names = _gain()
    lines = ["| metric | " + " | ".join(names[m] for m in FOUR) + f" | TAR - ({names['single_frame+filter']}) "
             f"| {names['temporal+filter']} - ({names['single_frame+filter']}) |", "|---" * 7 + "|"]
    for label, key in _rows(results, detail=True):
        v = [results[m][key] for m in FOUR]
        lines.append(f"| {label} | " + " | ".join(f"{x:.2f}" for x in v) + f" | {v[2] - v[1]:+.2f} | {v[3] - v[1]:+.2f} |")
    return "\n".join(lines) + "\n"


def gain_filters_short() -> str:
    """The README's four-series table, the best of each row in bold."""
    results, names = _gain()
    lines = ["| metric | " + " | ".join(names[m] for m in FOUR) + " |", "|---" * 5 + "|"]
    for label, key in _rows(results, detail=False):
        v = [round(results[m][key], 2) for m in FOUR]
        best = min(v) if key == "jitter" else max(v)
        lines.append(f"| {label} | " + " | ".join(f"**{x:.2f}**" if x == best else f"{x:.2f}" for x in v) + " |")
    return "\n".join(lines) + "\n\n" + gain_verdict(bullets=False)


def _than(d: float, unit: str = "") -> str:
    return f"{d:+.1f}{unit}"


def gain_verdict(bullets: bool = True) -> str:
    """What the four-series comparison says, in words chosen by the measured signs."""
    from tarpose import Window
    from tarpose.demo import ASSETS

    results, names = _gain()
    s, sf, t, tf = (results[m] for m in FOUR)
    # frames an output waits for: the filter's look-ahead; for TAR its window's first, then its filter's
    tar = json.loads((ASSETS / "tar-vitpose-demo" / "config.json").read_text())["temporal"]
    window = Window(tar["num_frames"], tar["target"]).lookahead
    latency = {"single_frame+filter": results["filters"]["single_frame"]["latency_frames"], "temporal": window,
               "temporal+filter": window + results["filters"]["temporal"]["latency_frames"]}
    kinds = [k for k in KIND_LABELS if f"pck_{k}" in s]
    d = lambda a, b, k: a[k] - b[k]
    ahead = [KIND_PHRASES[k] for k in kinds if d(t, sf, f"pck_{k}") > 0]
    behind = [KIND_PHRASES[k] for k in kinds if d(t, sf, f"pck_{k}") <= 0]
    tf_ahead = [KIND_PHRASES[k] for k in kinds if d(tf, sf, f"pck_{k}") > 0]
    and_ = lambda items: items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    top = sorted(kinds, key=lambda k: -d(t, s, f"pck_{k}"))[:2]
    frames = lambda n: f"{n} frame{'s' if n != 1 else ''}"
    word = lambda x: "ahead of" if x > 0 else "behind" if x < 0 else "level with"
    pck, ap = d(t, sf, "pck_corrupted"), d(t, sf, "ap_corrupted")
    most = ", ".join(KIND_PHRASES[k] + " " + _than(d(t, s, "pck_" + k)) for k in top)
    points = [
        (
            f"TAR reads what a frame lacks from its neighbours: over the single-frame model it gains "
            f"{_than(d(t, s, 'pck_corrupted'))} PCK@0.05 and {_than(d(t, s, 'ap_corrupted'))} OKS AP on the corrupted "
            f"frames, most where the frame itself carries least ({most}), "
            f"and changes clean frames by {_than(d(t, s, 'pck_clean'))} PCK / {_than(d(t, s, 'ap_clean'))} AP."
        ),
        (
            f"A {filter_label(results['filters']['single_frame'])} filter over the single-frame model's tracks gains "
            f"{_than(d(sf, s, 'pck_corrupted'))} PCK / {_than(d(sf, s, 'ap_corrupted'))} AP on corrupted frames, changes "
            f"clean ones by {_than(d(sf, s, 'pck_clean'))} / {_than(d(sf, s, 'ap_clean'))} and adds "
            f"{frames(latency['single_frame+filter'])} of latency. On corrupted frames TAR alone is {word(pck)} it "
            f"({_than(pck)} PCK, {_than(ap)} AP)"
            + (f": ahead on {and_(ahead)}" if ahead else "") + (f", behind on {and_(behind)}" if ahead and behind else
                                                                 f": behind on {and_(behind)}" if behind else "")
            + f"; on clean frames {_than(d(t, sf, 'pck_clean'))} PCK / {_than(d(t, sf, 'ap_clean'))} AP, on fast motion "
            f"{_than(d(t, sf, 'pck_fast'))} PCK, with {frames(latency['temporal'])} of latency (its {tar['target']} window's "
            f"look-ahead)."
        ),
        (
            f"{names['temporal+filter']} against {names['single_frame+filter']}: {_than(d(tf, sf, 'pck_corrupted'))} PCK "
            f"and {_than(d(tf, sf, 'ap_corrupted'))} AP on corrupted frames"
            + (f" (ahead on {and_(tf_ahead)})" if tf_ahead else "")
            + f", {_than(d(tf, sf, 'pck_clean'))} / {_than(d(tf, sf, 'ap_clean'))} on clean frames, "
            f"{_than(d(tf, sf, 'pck_fast'))} PCK on fast motion, with {frames(latency['temporal+filter'])} of latency "
            f"(window and filter) against {latency['single_frame+filter']}."
        ),
    ]
    if bullets:
        return "".join(textwrap.fill(p, 100, initial_indent="- ", subsequent_indent="  ") + "\n" for p in points)
    return textwrap.fill(" ".join(points), 100) + "\n"


def filter_choice() -> str:
    """Which filter each model got on the validation videos, and the best of each family."""
    results, _ = _gain()
    parts = []
    for model, who in (("single_frame", "the single-frame model's"), ("temporal", "TAR's")):
        info, scores = results["filters"][model], results["selection"]["scores"][model]
        best = {}
        for spec, score in scores.items():
            family = spec.split(":")[0]
            if family not in best or score > best[family][1]:
                best[family] = (spec, score)
        families = ", ".join(f"{FAMILIES[f]} {sc:.1f} ({filter_label({'spec': sp})})" for f, (sp, sc) in best.items())
        parts.append(f"{who} best filter is {filter_label(info)} (validation PCK@0.05 {info['val_unfiltered']:.1f} -> "
                     f"{info['val_score']:.1f}; the best of each family: {families})")
    text = parts[0][0].upper() + parts[0][1:] + "; " + parts[1] + "."
    return textwrap.fill(text, 100) + "\n"


def vtest_boxes() -> str:
    """The first records of tests/data/vtest_boxes.json, as a JSON block."""
    records = json.loads(VTEST_BOXES.read_text())[:3]
    body = ",\n".join("  " + json.dumps(r) for r in records)
    return f"```json\n[\n{body},\n  ...\n]\n```\n"


def vtest_record() -> str:
    """One person's record of `tarpose predict`'s keypoints JSON, as FramePoses.records() writes
    it for the vtest figure's frame."""
    import torch

    from tarpose.inference import FramePoses

    data = json.loads(INDEX.read_text())["vtest"]["data"]
    poses = FramePoses(index=data["frame"], track_ids=data["track_ids"], boxes=torch.tensor(data["boxes"]).double(),
                       keypoints=torch.tensor(data["keypoints"]).double(), scores=torch.tensor(data["scores"]))
    record = poses.records(decimals=1)[0]
    head = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in record.items() if k != "keypoints")
    points = ",\n    ".join(json.dumps(p) for p in record["keypoints"])
    return f"```json\n{{{head},\n  \"keypoints\": [\n    {points}\n  ]}}\n```\n"


def streaming_table() -> str:
    """The performance page's streaming table and the line that says how it was measured, from
    the streaming benchmark's JSON."""
    r = json.loads(STREAMING_JSON.read_text())
    h, w = r["crop"]
    ms = lambda v: "" if v is None else f"{v:.0f} ms"
    parts = ["| model | encoder | decoder | JTA gathered | JTA dense | K / tokens | GRA + FFN | heatmap embedding |",
             "|---|---|---|---|---|---|---|---|"]
    rounds = "over_floor_quartiles" in next(iter(r["models"].values()))  # paired rounds (since issue 27)
    pipelines = ["| model | single-frame | streaming | windowed | ratio | ratio, dense JTA | floor | ratio / floor |"
                 + (" quartiles of the rounds |" if rounds else ""), "|---" * (9 if rounds else 8) + "|"]
    for name, m in r["models"].items():
        parts.append(f"| {name} | {ms(m['encoder'])} | {ms(m['decoder'])} | {ms(m['jta'])} | {ms(m['jta_dense'])} | "
                     f"{m['largest_tokens']} / {m['tokens']} | {ms(m['gra'])} | {ms(m['embed'])} |")
        windowed = "" if m["windowed"] is None else f"{m['windowed']:.0f} ms ({m['windowed'] / m['single_frame']:.2f}x)"
        pipelines.append(f"| {name} | {ms(m['single_frame'])} | {ms(m['streaming'])} | {windowed} | {m['ratio']:.3f}x | "
                         f"{m['ratio_dense']:.3f}x | {m['floor']:.3f}x | {m['over_floor']:.3f}x |"
                         + (" {:.3f}-{:.3f} |".format(*m["over_floor_quartiles"]) if rounds else ""))
    lines = [*pipelines, "", f"Each part on its own, per frame ({r['persons']} persons):", "", *parts]
    load = lambda key: " ".join(f"{x:.2f}" for x in r[key])
    setup = (f"Measured on {r['device']} ({r['cpus']} cores), {r['threads']} thread(s), torch {r['torch']}, "
             f"{h}x{w} crops, T={r['num_frames']}, {r['persons']} persons, {r['masks']} masks, medians of "
             f"{r['repeats']} interleaved calls"
             + (f" (the pipelines: {r['pipeline_repeats']} rounds, each ratio the median of the rounds' ratios)"
                if rounds else "")
             + f"; load average {load('load_average_start')} at the start, {load('load_average_end')} at the end.")
    return "\n".join(lines) + "\n\n" + textwrap.fill(setup, 100) + "\n"


def streaming_summary() -> str:
    """The streaming benchmark in two sentences (ranges over its models), from its JSON."""
    models = json.loads(STREAMING_JSON.read_text())["models"].values()
    span = lambda values, fmt: (f"{min(values):{fmt}}-{max(values):{fmt}}" if f"{min(values):{fmt}}" != f"{max(values):{fmt}}"
                                else f"{min(values):{fmt}}")
    text = (f"Streaming TAR costs {span([m['ratio'] for m in models], '.2f')}x single-frame, "
            f"{span([100 * (m['over_floor'] - 1) for m in models], '.1f')}% above its floor; "
            f"gathering makes JTA {span([m['jta_dense'] / m['jta'] for m in models], '.2f')}x cheaper than its "
            f"dense attention.")
    windowed = [m["windowed"] / m["single_frame"] for m in models if m["windowed"] is not None]
    if windowed:
        text += (f" Windowed recomputation (every window's crops encoded again, as the reference code does) "
                 f"costs {span(windowed, '.2f')}x single-frame.")
    return textwrap.fill(text, 100) + "\n"


def hog_curve() -> str:
    """The HOG detector's precision / recall over its score threshold (no NMS) and what NMS adds at
    the chosen threshold, from benchmarks/bench_hog.py's JSON."""
    r = json.loads(HOG_JSON.read_text())
    best = r["best"]
    pct = lambda x: f"{100 * x:.1f}"
    lines = ["| score >= | boxes | precision | recall | F1 | recall at IoU 0.3 | frames with a box on the door |",
             "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if row["nms_iou"] is not None:
            continue
        cells = [f"{row['threshold']:g}", str(row["boxes"]), pct(row["precision"]), pct(row["recall"]), pct(row["f1"]),
                 pct(row["recall_iou_0.3"]), str(row["door_frames"])]
        if row["threshold"] == best["threshold"] and best["nms_iou"] is None:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    at_best = {row["nms_iou"]: row for row in r["rows"] if row["threshold"] == best["threshold"]}
    plain = at_best[None]["f1"]
    effects = ", ".join(f"{iou:g}: {100 * (row['f1'] - plain):+.1f}" for iou, row in sorted(
        ((k, v) for k, v in at_best.items() if k is not None), key=lambda kv: kv[0]))
    nms = "no NMS" if best["nms_iou"] is None else f"NMS at IoU {best['nms_iou']:g}"
    text = (f"Chosen: score >= {best['threshold']:g} with {nms} (the highest F1). NMS on top of OpenCV's own "
            f"grouping changes F1 at that threshold by {effects} (by NMS IoU). {r['frames']} frames, "
            f"{r['reference_boxes']} reference boxes, a detection counts at IoU >= {r['match_iou']:g} in an optimal "
            f"one-to-one matching; OpenCV {r['opencv']}.")
    return "\n".join(lines) + "\n\n" + textwrap.fill(text, 100) + "\n"


def tracking_table() -> str:
    """The trackers on the synthetic crowds, from benchmarks/bench_tracking.py's JSON."""
    r = json.loads(TRACKING_JSON.read_text())["synthetic"]
    lines = ["| tracker | ID switches | IDF1 | MOTA | misses | false positives |", "|---|---|---|---|---|---|"]
    for name, row in r.items():
        if not name.startswith("_"):
            label = f"**{name}**" if name == "ByteTracker (default)" else name
            lines.append(f"| {label} | {row['id_switches']} | {row['idf1']:.1f} | {row['mota']:.1f} | {row['misses']} | "
                         f"{row['false_positives']} |")
    setup = r["_setup"]
    return "\n".join(lines) + f"\n\n({setup['clips']} clips, {setup['frames']} frames.)\n"


def tracking_hog() -> str:
    """The trackers on HOG's boxes of vtest.avi, from benchmarks/bench_tracking.py's JSON, and the
    people per frame of tests/data/vtest_boxes.json for reference."""
    r = json.loads(TRACKING_JSON.read_text())["vtest_hog"]
    records = json.loads(VTEST_BOXES.read_text())
    frames = max(rec["frame"] for rec in records) + 1
    lines = ["| HOG score >= | tracker | track ids | of them shorter than 5 frames | frames with a box on the door | "
             "people per frame |", "|---|---|---|---|---|---|"]
    for threshold, block in r["thresholds"].items():
        for name, row in block["trackers"].items():
            lines.append(f"| {threshold} | {name} | {row['track_ids']} | {row['shorter_than_5']} | {row['door_frames']} | "
                         f"{row['people_per_frame']:.2f} |")
    text = (f"(The first {r['frames']} frames of vtest.avi; for reference, tests/data/vtest_boxes.json holds "
            f"{len(records) / frames:.2f} pedestrians per frame over its first {frames}.)")
    return "\n".join(lines) + "\n\n" + textwrap.fill(text, 100) + "\n"


def threads_table() -> str:
    """Frames/s at each thread count, the previous size rule and the default, idle and with every
    core kept busy, from benchmarks/bench_threads.py's JSON."""
    r = json.loads(THREADS_JSON.read_text())
    counts = [n for n in range(1, r["cores"] + 1)]
    parts = []
    for load, block in r["loads"].items():
        what = ("nothing else running (every other process paused)" if load == "idle" else
                f"{r['cores']} spinning processes, one per core")
        seen = [x for row in block["models"].values() for x in row["busy_cores_seen"]]
        parts.append(f"{load.capitalize()}: {what}; the runs found {min(seen):.1f}-{max(seen):.1f} cores busy "
                     "with other work as they started.\n")
        head = " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in counts)
        lines = [f"| model | params | {head} | size rule (its threads) | default (its threads) | default's pick / best |",
                 "|---" * (len(counts) + 5) + "|"]
        for name, row in block["models"].items():
            fps = row["fps"]
            picks = "/".join(str(t) for t in sorted(set(row["default_threads"])))
            rule = row["size_rule_threads"]
            lines.append(f"| {name} | {row['params'] / 1e6:.1f}M | " + " | ".join(f"{fps[str(n)]:.2f}" for n in counts)
                         + f" | {fps[str(rule)]:.2f} ({rule}) | {fps['default']:.2f} ({picks}) | {row['pick_over_best']:.2f}x |")
        parts.append("\n".join(lines) + "\n")
    worst_rule = {load: max(row["best_over_size_rule"] for row in block["models"].values())
                  for load, block in r["loads"].items()}
    rule = "; ".join(f"{load} up to {x:.2f}x" for load, x in worst_rule.items())
    setup = (f"(Frames/s, best of {r['rounds']} rounds of {r['frames']} frames x {r['persons']} persons, "
             f"{r['cores']} cores, torch {r['torch']}. The default's pick is at most "
             f"{r['worst_pick_over_best']:.2f}x slower than the best count; the size rule's pick: {rule}.)")
    return "\n".join(parts) + "\n" + textwrap.fill(setup, 100) + "\n"


def live_table() -> str:
    """Docs' live-video table: each option's latency (frames, and ms at 30 frames/s) and scores,
    the causal options first, the centred ones for reference (the gain benchmark's JSON)."""
    results, names = _gain()
    if "causal" not in results:
        raise SystemExit(f"{GAIN_JSON} has no causal columns: run bench_demo_gain.py without --no-causal")
    f = {m: filter_label(info) for m, info in results["filters"].items()}
    rows = [("single-frame", "single_frame"),
            (f"single + {f['single_frame+causal_filter']} (causal)", "single_frame+causal_filter"),
            ("**causal TAR** (`tar-vitpose-demo-causal`)", "causal"),
            (f"causal TAR + {f['causal+causal_filter']}", "causal+causal_filter"),
            (names["single_frame+filter"], "single_frame+filter"),
            ("centred TAR (`tar-vitpose-demo`)", "temporal"), (names["temporal+filter"], "temporal+filter")]
    columns = [("PCK corrupted", "pck_corrupted"), ("PCK all", "pck_all"), ("PCK clean", "pck_clean"),
               ("AP corrupted", "ap_corrupted"), ("PCK fast motion", "pck_fast"), ("jitter", "jitter")]
    lines = ["| option | waits (frames) | at 30 fps | " + " | ".join(c for c, _ in columns) + " |",
             "|---" * (3 + len(columns)) + "|"]
    for label, key in rows:
        wait = results["latency_frames"][key]
        lines.append(f"| {label} | {wait} | {1000 * wait / 30:.0f} ms | "
                     + " | ".join(f"{results[key][k]:.2f}" for _, k in columns) + " |")
    return "\n".join(lines) + "\n"


def live_verdict() -> str:
    """The causal TAR against the issue's targets, in a few lines, from the same JSON."""
    results = json.loads(GAIN_JSON.read_text())
    c, sc, t, s = (results[k] for k in ("causal", "single_frame+causal_filter", "temporal", "single_frame"))
    text = (f"Against the single-frame model after its best causal filter (chosen on validation videos), the "
            f"causal TAR changes PCK@0.05 by {c['pck_corrupted'] - sc['pck_corrupted']:+.2f} on corrupted frames, "
            f"{c['pck_all'] - sc['pck_all']:+.2f} on all frames and {c['pck_fast'] - sc['pck_fast']:+.2f} on fast "
            f"motion, and OKS AP by {c['ap_corrupted'] - sc['ap_corrupted']:+.2f} on corrupted frames. Against the "
            f"centred TAR it gives up {t['pck_corrupted'] - c['pck_corrupted']:.2f} PCK on corrupted frames for two "
            f"frames less latency; on clean frames it scores {c['pck_clean'] - s['pck_clean']:+.2f} against the "
            f"single-frame model.")
    every = results.get("every_causal_filter")
    if every:  # each causal candidate scored on the test videos, not only the one chosen on validation
        best = {k: max(every, key=lambda spec: every[spec][k]) for k in ("pck_corrupted", "pck_all", "pck_fast")}
        label = lambda spec: filter_label({"spec": spec})  # noqa: E731
        text += (f" Scored on the test videos, the best of all {len(every)} causal candidates reaches "
                 f"{every[best['pck_corrupted']]['pck_corrupted']:.2f} PCK on corrupted frames "
                 f"({label(best['pck_corrupted'])}), {every[best['pck_all']]['pck_all']:.2f} on all frames and "
                 f"{every[best['pck_fast']]['pck_fast']:.2f} on fast motion ({label(best['pck_fast'])}): the "
                 f"causal TAR is {'ahead of' if c['pck_fast'] > every[best['pck_fast']]['pck_fast'] else 'behind'} "
                 f"every one of them on fast motion, and "
                 f"{'ahead' if c['pck_corrupted'] > every[best['pck_corrupted']]['pck_corrupted'] else 'behind'} on "
                 f"corrupted frames by {c['pck_corrupted'] - every[best['pck_corrupted']]['pck_corrupted']:+.2f}.")
    return textwrap.fill(text, 100) + "\n"


LOOKAHEAD_JSON = ROOT / "benchmarks" / "results" / "lookahead.json"


def live_lookahead() -> str:
    """How much of the centred TAR's lead is its look-ahead: the centred model with the frames after
    its target hidden, beside the causal one (lookahead.json)."""
    t = json.loads(LOOKAHEAD_JSON.read_text())["test"]
    c, blind, causal = t["bundled-centred"], t["bundled-centred-no-future"], t["bundled-causal"]
    text = (f"Where the gap to the centred TAR comes from: the centred model itself, its two future frames "
            f"hidden (marked invalid), falls from {c['pck_corrupted']:.2f} to {blind['pck_corrupted']:.2f} PCK on "
            f"corrupted frames ({c['ap_corrupted']:.2f} to {blind['ap_corrupted']:.2f} AP), "
            f"{blind['pck_corrupted'] - causal['pck_corrupted']:.2f} above the causal TAR's "
            f"{causal['pck_corrupted']:.2f}: most of the gap is the look-ahead itself, most of all on heavy noise "
            f"({c['pck_noise']:.2f} with the future frames, {blind['pck_noise']:.2f} without, {causal['pck_noise']:.2f} "
            f"causal) and dropped frames ({c['pck_drop']:.2f}, {blind['pck_drop']:.2f}, {causal['pck_drop']:.2f}), "
            f"which a window can restore from the frames on both sides.")
    return textwrap.fill(text, 100) + "\n"


ADAPT_JSON = ROOT / "benchmarks" / "results" / "adapt_synthetic.json"
ADAPT_VTEST_JSON = ROOT / "benchmarks" / "results" / "adapt_vtest.json"
#: the adaptation runs of the docs' tables, and how each is described
ADAPT_RUNS = {
    "labelfree": "**label-free TAR**, the defaults",
    "heldout": "label-free TAR, adapted with occluders, noise and drops only",
    "labelfree-depth6": "label-free TAR, the defaults but the previous temporal part (JTA depth 6, GRA FFN ratio 2)",
    "A-heatmaps": "label-free, the defaults (the base's heatmaps, threshold 0.1; targets 90 % corrupted)",
    "F-peak": "label-free, joints weighted by the base's peak",
    "E-keypoints": "label-free, teacher: Gaussians at the base's keypoints",
    "B-filtered": "label-free, teacher: the base's keypoints filtered in time (median of 5)",
    "C-target0.5": "label-free, targets 50 % corrupted",
    "D-heldout": "label-free, occluders, noise and drops only",
}
ADAPT_COLUMNS = [("PCK clean", "pck_clean"), ("PCK corrupted", "pck_corrupted"), ("PCK all", "pck_all"),
                 ("AP clean", "ap_clean"), ("AP corrupted", "ap_corrupted"), ("PCK fast motion", "pck_fast")]


def _adapt_rows(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = ["| model | " + " | ".join(c for c, _ in ADAPT_COLUMNS) + " |", "|---" * (1 + len(ADAPT_COLUMNS)) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{scores[k]:.2f}" for _, k in ADAPT_COLUMNS) + " |" for label, scores in rows]
    return "\n".join(lines) + "\n"


def adapt_table() -> str:
    """The full-budget label-free runs against the single-frame model, its best filter and the
    supervised bundled TAR (adapt_synthetic.json and demo_gain.json: the same 64 test videos)."""
    runs = json.loads(ADAPT_JSON.read_text())["runs"]
    gain = json.loads(GAIN_JSON.read_text())
    full = {n: r for n, r in runs.items() if r["steps"] == 4800}
    first = next(iter(full.values()))
    f = {m: filter_label(info) for m, info in first["filters"].items()}
    rows = [("single-frame", first["scores"]["single_frame"]),
            (f"single + {f['single_frame']}", first["scores"]["single_frame+filter"]),
            ("supervised TAR (`tar-vitpose-demo`, labels)", gain["temporal"])]
    for name, run in full.items():
        rows.append((f"{ADAPT_RUNS[name]} ({run['steps']} steps)", run["scores"]["temporal"]))
        rows.append((f"... + {filter_label(run['filters']['temporal'])}", run["scores"]["temporal+filter"]))
    return _adapt_rows(rows)


def adapt_verdict() -> str:
    """The full label-free run against the supervised TAR and the single-frame model's best
    filter, in words (adapt_synthetic.json and demo_gain.json)."""
    run = json.loads(ADAPT_JSON.read_text())["runs"]["labelfree"]
    supervised = json.loads(GAIN_JSON.read_text())["temporal"]
    s, sf, t = run["scores"]["single_frame"], run["scores"]["single_frame+filter"], run["scores"]["temporal"]
    f = filter_label(run["filters"]["single_frame"])
    sign = lambda v: f"{v:+.2f}"  # noqa: E731
    text = (f"Without a label, at the supervised model's budget, the adapted TAR scores "
            f"{sign(t['pck_corrupted'] - supervised['pck_corrupted'])} PCK and "
            f"{sign(t['ap_corrupted'] - supervised['ap_corrupted'])} AP against the supervised TAR on the "
            f"corrupted frames, {sign(t['pck_corrupted'] - sf['pck_corrupted'])} PCK and "
            f"{sign(t['ap_corrupted'] - sf['ap_corrupted'])} AP against the single-frame model + {f}, and "
            f"{sign(t['pck_clean'] - s['pck_clean'])} PCK on clean frames against the single-frame model it "
            f"learns from (the supervised TAR, which sees the labels, gains "
            f"{sign(supervised['pck_clean'] - s['pck_clean'])} there). Its gain over the single-frame model "
            f"on corrupted frames is {100 * (t['pck_corrupted'] - s['pck_corrupted']) / (supervised['pck_corrupted'] - s['pck_corrupted']):.0f}% "
            f"of the supervised TAR's. Self-consistency on the held-out tenth of the footage: "
            f"{run['self_consistency']['before']['corrupted']:.2f} -> {run['self_consistency']['after']['corrupted']:.2f} "
            f"on corrupted windows, {run['self_consistency']['before']['clean']:.2f} -> "
            f"{run['self_consistency']['after']['clean']:.2f} on clean ones.")
    runs = json.loads(ADAPT_JSON.read_text())["runs"]
    held = runs.get("heldout")
    if held is not None:  # kinds never seen in adaptation: what carries over
        unseen = [k for k in run["kinds"] if k not in held["kinds"]]
        hs, hf, ht = (held["scores"][m] for m in ("single_frame", "single_frame+filter", "temporal"))
        text += (f" Adapted with {', '.join(held['kinds'])} only, the kinds it never saw score "
                 + "; ".join(f"{KIND_PHRASES.get(k, k)} {ht[f'pck_{k}']:.2f} (single-frame {hs[f'pck_{k}']:.2f}, "
                             f"single + {filter_label(held['filters']['single_frame'])} {hf[f'pck_{k}']:.2f})"
                             for k in unseen) + ".")
    return textwrap.fill(text, 100) + "\n"


def adapt_detail() -> str:
    """Per corruption kind and motion speed: the single-frame model, its best filter, the
    supervised TAR and the label-free TAR (alone and + its filter), PCK@0.05."""
    run = json.loads(ADAPT_JSON.read_text())["runs"]["labelfree"]
    gain = json.loads(GAIN_JSON.read_text())
    sc = run["scores"]
    f = {m: filter_label(info) for m, info in run["filters"].items()}
    columns = [("single-frame", sc["single_frame"]), (f"single + {f['single_frame']}", sc["single_frame+filter"]),
               ("supervised TAR", gain["temporal"]), ("label-free TAR", sc["temporal"]),
               (f"label-free + {f['temporal']}", sc["temporal+filter"])]
    keys = [(KIND_PHRASES[k], f"pck_{k}") for k in KIND_LABELS if f"pck_{k}" in sc["temporal"]]
    for name, (low, high) in gain["speed_buckets"].items():
        span = f"< {high:g}" if low == 0 else f">= {low:g}" if high is None else f"{low:g}-{high:g}"
        keys += [(f"{name} motion ({span}% of the box per frame)", f"pck_{name}"),
                 (f"... {name}, corrupted frames", f"pck_{name}_corrupted")]
    lines = ["| PCK@0.05 | " + " | ".join(c for c, _ in columns) + " |", "|---" * (1 + len(columns)) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{scores[key]:.2f}" for _, scores in columns) + " |" for label, key in keys]
    return "\n".join(lines) + "\n"


def adapt_probes() -> str:
    """The 800-step probes (teachers, weighting, corruption mix) against the same baselines."""
    runs = json.loads(ADAPT_JSON.read_text())["runs"]
    probes = {n: r for n, r in runs.items() if r["steps"] == 800}
    first = next(iter(probes.values()))
    f = filter_label(first["filters"]["single_frame"])
    rows = [("single-frame", first["scores"]["single_frame"]), (f"single + {f}", first["scores"]["single_frame+filter"])]
    rows += [(ADAPT_RUNS[n], r["scores"]["temporal"]) for n, r in probes.items()]
    return _adapt_rows(rows)


def adapt_vtest() -> str:
    """Real footage: agreement with the base on held-out frames of vtest.avi (adapt_vtest.json)."""
    r = json.loads(ADAPT_VTEST_JSON.read_text())
    filters = [k for k in r["corrupted"] if k.startswith("base+")]
    best = max(filters, key=lambda k: r["corrupted"][k])
    lines = ["| model | corrupted frames | clean frames | jitter (px/frame², clean) |", "|---|---|---|---|",
             f"| the base (`{r['base']}`) | {r['corrupted']['base']:.2f} | {r['clean']['base']:.2f} | "
             f"{r['jitter']['base']:.3f} |"]
    lines += [f"| base + {k[5:]} over the window | {r['corrupted'][k]:.2f} | {r['clean'][k]:.2f} | - |"
              for k in filters if k == best]
    lines.append(f"| **adapted** ({r['steps']} steps on frames 0-{r['train_frames'][1] - 1}) | "
                 f"{r['corrupted']['adapted']:.2f} | {r['clean']['adapted']:.2f} | {r['jitter']['adapted']:.3f} |")
    text = (f"{r['eval_tracks']} tracks, {r['eval_windows']} windows of frames {r['eval_frames'][0]} and later; "
            f"agreement is PCK@0.05 against the base's keypoints on the same frames clean, over "
            f"{r['joints']} joints the base scores at least 0.1. The other window filters: "
            + ", ".join(f"{k[5:]} {r['corrupted'][k]:.2f}" for k in filters if k != best) + ".")
    out = "\n".join(lines) + "\n\n" + textwrap.fill(text, 100) + "\n"
    kinds = r.get("figure_kinds")
    if kinds:  # bench_adapt_real.py --figure docs/figures/adapt_vtest.png
        out += ("\n![Held-out corrupted frames of vtest.avi: the base and the adapted model](figures/adapt_vtest.png)\n\n"
                + textwrap.fill(f"*Held-out frames of vtest.avi, one corrupted window of each kind ({', '.join(k.replace('_', ' ') for k in kinds)}; "
                                "a dropped frame shows nothing to draw on): the target frame as the models saw it, the "
                                "base's keypoints on it in red, the adapted model's in green, the base's on the same frame "
                                "clean in thin white.*", 100) + "\n")
    return out


def models_table() -> str:
    """The README's table of registered architectures, the parameter counts from the models
    themselves (built on the meta device: no memory, no initialisation)."""
    from tarpose.factory import probe_model
    from tarpose.models import count_parameters

    def params(*names: str) -> str:
        return " / ".join(f"{count_parameters(probe_model(n)) / 1e6:.1f}M" for n in names)

    sizes = ("s", "b", "l", "h")
    rows = [
        ("`vitpose-s`, `vitpose-b`, `vitpose-l`, `vitpose-h`", "ViT-S/B/L/H, classic decoder",
         params(*(f"vitpose-{x}" for x in sizes))),
        ("`vitpose-{s,b,l,h}-simple`", "same, simple decoder", params(*(f"vitpose-{x}-simple" for x in sizes))),
        ("`tar-vitpose-{s,b,l,h}[-simple]`", "the same wrapped in `TemporalWrapper`",
         params(*(f"tar-vitpose-{x}" for x in sizes))),
        ("`vitpose-demo`, `tar-vitpose-demo`, `tar-vitpose-demo-causal`",
         "the bundled demo models (6-layer, 128-wide ViT, 128x96 crops; the last with a causal window)",
         params("vitpose-demo", "tar-vitpose-demo", "tar-vitpose-demo-causal")),
        ("`[tar-]vitpose-plus-{s,b,l,h}`, `[tar-]vitpose-b-coco-aic-mpii`",
         "names for the public ViTPose+ / multi-dataset weights (see [Weights](#weights))", "as `vitpose-{s,b,l,h}`"),
    ]
    lines = ["| name | backbone | params |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


ABLATION_JSON = ROOT / "benchmarks" / "results" / "ablation_depth.json"


def ablation_table() -> str:
    """Cheaper temporal parts at the bundled budget against the previous default's bundled model
    (the same evaluator, 64 test videos), and today's bundled model, from ablation_depth.json."""
    test = json.loads(ABLATION_JSON.read_text())["test"]
    rows = [("previous default, bundled until the switch (JTA depth 6, GRA FFN ratio 2)", "bundled-depth6"),
            ("`jta_depth=2` (ablation arm)", "default+frozen+depth2@4800"),
            ("`jta_depth=2 gra_ffn_ratio=1.0` (ablation arm)", "default+frozen+depth2+ffn1@4800"),
            ("**today's default** (the same), bundled: `examples/train_demo.py`", "bundled-centred")]
    base = test["bundled-depth6"]
    lines = ["| temporal part | PCK clean | PCK corrupted | AP clean | AP corrupted | corrupted vs previous |",
             "|---|---|---|---|---|---|"]
    for label, key in rows:
        r = test[key]
        lines.append(f"| {label} | {r['pck_clean']:.2f} | {r['pck_corrupted']:.2f} | {r['ap_clean']:.2f} | "
                     f"{r['ap_corrupted']:.2f} | {r['pck_corrupted'] - base['pck_corrupted']:+.2f} PCK, "
                     f"{r['ap_corrupted'] - base['ap_corrupted']:+.2f} AP |")
    return "\n".join(lines) + "\n"


#: what each extra of pyproject.toml is for (the table's packages are read from pyproject.toml)
EXTRA_USES = {
    "video": "reading and writing video, the progress bar (`tarpose predict`, the demo's video)",
    "detect": "the HOG person detector (`--detector hog`, offline; OpenCV 5 dropped it), webcams through OpenCV",
    "hf": "the RT-DETR person detector (`--detector rtdetr`, the default), wrapping transformers' ViTPose",
    "eval": "COCO OKS AP computed by pycocotools itself (`tarpose.eval`)",
    "data": "reading the frames of image datasets (PoseTrack) for `tarpose train`",
    "onnx": "`tarpose export` and running the exported model",
    "docs": "building the documentation site (`mkdocs build`), `scripts/figures.py`",
    "test": "the test suite: every extra's packages but matplotlib, and the reference libraries the tests compare with",
}


def extras_table() -> str:
    """The extras of pyproject.toml: the packages each brings (in name order) and what for."""
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # 3.10: the installed package's metadata (written from the same file)
        from importlib.metadata import metadata

        extras: dict[str, list[str]] = {}
        info = metadata("tarpose")
        for extra in info.get_all("Provides-Extra") or []:
            extras[extra] = [r.split(";")[0].strip() for r in info.get_all("Requires-Dist") or []
                             if re.search(rf"extra\s*==\s*['\"]{re.escape(extra)}['\"]", r)]
    else:
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    if set(extras) != set(EXTRA_USES):
        raise SystemExit(f"scripts/figures.py's EXTRA_USES does not match pyproject.toml's extras: {sorted(extras)}")
    name = lambda requirement: re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
    lines = ["| extra | brings | for |", "|---|---|---|"]
    lines += [f"| `{extra}` | {', '.join(sorted(name(r).lower() for r in extras[extra]))} | {uses} |"
              for extra, uses in EXTRA_USES.items()]
    return "\n".join(lines) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "demo-gain": gain_table, "gain-summary": gain_summary, "gain-short": gain_short,
    "vtest-boxes": vtest_boxes, "vtest-record": vtest_record, "streaming-table": streaming_table,
    "streaming-summary": streaming_summary, "gain-filters": gain_filters_table,
    "gain-filters-short": gain_filters_short, "gain-verdict": gain_verdict, "filter-choice": filter_choice,
    "hog-threshold": hog_curve, "extras": extras_table, "tracking": tracking_table, "tracking-hog": tracking_hog,
    "threads": threads_table, "live": live_table, "live-verdict": live_verdict, "live-lookahead": live_lookahead,
    "models": models_table, "ablation": ablation_table, "adapt": adapt_table, "adapt-probes": adapt_probes, "adapt-detail": adapt_detail, "adapt-verdict": adapt_verdict, "adapt-vtest": adapt_vtest,
}
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def render_tables(text: str) -> str:
    """``text`` with every generated block rewritten."""
    def fill(m: re.Match[str]) -> str:
        if m.group(2) not in TABLES:
            raise SystemExit(f"unknown generated block {m.group(2)!r}; known: {', '.join(TABLES)}")
        return m.group(1) + TABLES[m.group(2)]() + m.group(4)

    return MARKER.sub(fill, text)


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="these figures only")
    parser.add_argument("--out", type=Path, default=FIGURES_DIR, help="where the figures go")
    parser.add_argument("--bench", action="store_true",
                        help="re-measure benchmarks/results/demo_gain.json first (a few minutes)")
    args = parser.parse_args(argv)
    if args.bench:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_demo_gain.py"), "--threads", "1",
                        "--every-causal-filter", "--json", str(GAIN_JSON)], check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    index_path = args.out / "figures.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for name in args.only or FIGURES:
        figure = FIGURES[name]
        if figure.needs == "vtest" and not VTEST.exists():
            print(f"skipped {name}: {VTEST} is not here")
            continue
        data = figure.compute()
        path = args.out / figure.file
        figure.draw(data, path)
        index[name] = {"file": figure.file, "sha256": digest(path), "data": data}
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")
    if args.only is None and args.out == FIGURES_DIR:
        for page in PAGES:
            text = page.read_text()
            new = render_tables(text)
            if new != text:
                page.write_text(new)
                print(f"updated the generated tables of {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How many tokens JTA's heatmap mask lets a joint attend, counted on real heatmaps.

JTA's cost depends on these counts when it gathers each joint's allowed tokens
(tarpose.layers.gather): per call it attends, for every joint, as many tokens as the largest count
of the batch. Random weights say nothing here (their heatmaps are flat noise, masks allow nearly
everything), so the heatmaps come from the bundled, trained demo model (`vitpose-demo`'s
TAR-ViTPose, 128x96 crops, 32x24 heatmaps, 8x6 tokens):

- synthetic: test-split videos of tarpose.data.synthetic (30% corrupted frames), each frame
  cropped with its own box (as streaming does);
- vtest: ../shared/data/vtest.avi with the boxes of tests/data/vtest_boxes.json, linked by the IoU
  tracker (real pedestrians, which the demo model never saw: a check out of its domain).

Each window of 5 frames (missing frames at a video's ends excluded, as streaming does) gives one
count per joint: its mask summed over the window's valid frames, as JTA's cross-attention sees it
(an empty row counts every valid token). Counted on the demo's own token grid ("8x6": 4 heatmap
pixels a token, as a 256x192 ViTPose trained with the same Gaussian sigma of 2 heatmap pixels, so
the same counts out of 960 tokens there if it is as sure as the demo), and with the heatmaps
stretched onto the grids of 256x192 crops ("16x12 stretched") and 384x288 crops ("24x18
stretched"): a blob covering the same share of the crop, about 4x the tokens (a model as unsure,
relative to the crop, as the demo).

    python benchmarks/mask_counts.py                  # 16 synthetic videos x 32 frames, 40 vtest frames
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tarpose.data.synthetic import SyntheticVideo, split_seeds  # noqa: E402
from tarpose import load_model  # noqa: E402
from tarpose.geometry import box_to_center_scale, crop_matrices, normalize_images  # noqa: E402
from tarpose.layers.mask import heatmap_mask  # noqa: E402
from tarpose.preprocess import resolve_data_config  # noqa: E402

VTEST = ROOT.parent / "shared" / "data" / "vtest.avi"
BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"
#: token grids: the demo's own (128x96 crops), 256x192 and 384x288 crops
GRIDS = {"8x6": (8, 6), "16x12 stretched": (16, 12), "24x18 stretched": (24, 18)}
PERCENTILES = (0.1, 0.5, 0.9, 0.99)


def synthetic_heatmaps(videos: int, frames: int, corruption: float = 0.3) -> Tensor:
    """The demo model's heatmaps of each frame of ``videos`` test-split synthetic videos, every
    frame cropped with its own box: ``(videos, frames, 17, 32, 24)``."""
    model = load_model("tar-vitpose-demo")
    data = resolve_data_config(model)
    size = data.input_size
    out = []
    for seed in split_seeds("test", videos):
        video = SyntheticVideo(seed, frames, corruption=corruption)
        center, scale = box_to_center_scale(video.boxes.double(), aspect_ratio=size[1] / size[0], padding=1.25)
        crops, _ = video.render(matrix=crop_matrices(center, scale, size), size=size)
        with torch.inference_mode():
            out.append(model.encode(normalize_images(crops, data.mean, data.std))[1])
    return torch.stack(out)


def heatmap_bank(persons: int, frames: int, size: tuple[int, int], stretch: bool = False) -> Tensor:
    """The demo model's heatmaps of ``persons`` synthetic videos, sized for a model with
    ``size`` heatmaps: ``(frames, persons, 17, *size)``.

    ``stretch=False``: each 32x24 map placed at its own scale in the middle of the larger map, the
    rest filled with its minimum, so a blob covers as many tokens (4 heatmap pixels each) as on
    the demo's grid: a model trained with the same Gaussian sigma in heatmap pixels (ViTPose: 2 at
    64x48), as sure as the demo. ``stretch=True``: resized over the whole map, so a blob covers
    the same share of the crop: a model as unsure, relative to the crop, as the demo (4x the tokens
    at 64x48).
    """
    heat = synthetic_heatmaps(persons, frames)  # (p, f, j, 32, 24)
    heat = rearrange(heat, "p f j h w -> f p j h w")
    hh, ww = heat.shape[-2:]
    if stretch:
        return F.interpolate(heat.flatten(0, 1), size=size, mode="bilinear", align_corners=False).view(
            frames, persons, -1, *size)
    if size[0] < hh or size[1] < ww:
        raise ValueError(f"heatmaps of {size} are smaller than the demo's {(hh, ww)}: use stretch=True")
    top, left = (size[0] - hh) // 8 * 4, (size[1] - ww) // 8 * 4  # whole tokens: the same masks
    canvas = heat.amin(dim=(-2, -1), keepdim=True).expand(*heat.shape[:3], *size).clone()
    canvas[..., top : top + hh, left : left + ww] = heat
    return canvas


def track_windows(heatmaps: Tensor, window: int = 5) -> tuple[Tensor, Tensor]:
    """Centred windows over one track's frames ``(F, J, H, W)`` -> ``(F, T, J, H, W)`` and the
    valid frames ``(F, T)`` (clamped at the ends, marked invalid there)."""
    f = heatmaps.shape[0]
    index = torch.arange(f)[:, None] + torch.arange(window) - window // 2  # (f, t)
    valid = (index >= 0) & (index < f)
    return heatmaps[index.clamp(0, f - 1)], valid


def row_counts(windows: Tensor, valid: Tensor, grid: tuple[int, int]) -> Tensor:
    """Allowed tokens per (window, joint), as JTA attends them: ``(N, J)``."""
    mask = heatmap_mask(windows, grid) & rearrange(valid, "n t -> n t 1 1 1")  # (n, t, j, h, w)
    counts = mask.sum(dim=(1, 3, 4))  # (n, j)
    everywhere = valid.sum(dim=1, keepdim=True) * grid[0] * grid[1]  # an empty row: all valid tokens
    return torch.where(counts > 0, counts, everywhere)


def vtest_heatmaps(frames: int) -> list[Tensor]:
    """The demo model's heatmaps of every track of the first ``frames`` frames of vtest.avi, each
    crop with its own box (IoU tracker): one ``(F_track, 17, 32, 24)`` per track of >= 5 frames."""
    from tarpose.io.video import read_video
    from tarpose.topdown import as_image_tensor, box_matrices, crop_images
    from tarpose.tracking import IoUTracker

    model = load_model("tar-vitpose-demo")
    video, _ = read_video(VTEST, max_frames=frames)
    boxes: dict[int, list[list[float]]] = {}
    for record in json.loads(BOXES.read_text()):
        boxes.setdefault(record["frame"], []).append(record["bbox"])
    tracker, tracks = IoUTracker(), {}
    for index, frame in enumerate(video):
        frame_boxes = torch.tensor(boxes.get(index, []), dtype=torch.float64).reshape(-1, 4)
        ids = tracker.update(frame_boxes)
        if not ids:
            continue
        data = resolve_data_config(model)
        size = data.input_size
        crops = crop_images(as_image_tensor(frame), box_matrices(frame_boxes, size), size,
                            mean=data.mean, std=data.std)
        with torch.inference_mode():
            heat = model.encode(crops)[1]
        for track_id, h in zip(ids, heat):
            tracks.setdefault(track_id, []).append(h)
    return [torch.stack(t) for t in tracks.values() if len(t) >= 5]


def describe(counts: Tensor, tokens: int) -> str:
    q = torch.quantile(counts.double(), torch.tensor(PERCENTILES, dtype=torch.float64))
    cells = " ".join(f"{v:>6.0f}" for v in q.tolist())
    return f"{cells} {int(counts.max()):>6d} {100 * counts.double().mean() / tokens:>7.1f}%"


def batch_largest(counts: Tensor, persons: int) -> Tensor:
    """The largest count of each batch of ``persons`` windows (all their joints): what the
    gathered attention pads every row of a call to. ``counts`` ``(N, J)`` -> ``(N // persons,)``."""
    n = counts.shape[0] // persons * persons
    return rearrange(counts[:n], "(b p) j -> b (p j)", p=persons).amax(dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=16, help="synthetic test videos")
    parser.add_argument("--frames", type=int, default=32, help="frames per synthetic video")
    parser.add_argument("--vtest-frames", type=int, default=40, help="vtest.avi frames (0: skip)")
    parser.add_argument("--persons", type=int, default=4, help="windows per batch for the batch maximum")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    sources: dict[str, list[Tensor]] = {}
    heat = synthetic_heatmaps(args.videos, args.frames)  # (v, f, j, 32, 24)
    # batches: the same frame of `persons` different videos, like the persons of one frame
    sources["synthetic"] = [rearrange(heat, "v f j h w -> f v j h w")]
    if args.vtest_frames and VTEST.exists():
        sources["vtest"] = vtest_heatmaps(args.vtest_frames)

    print(f"allowed tokens per joint and window (T=5), percentiles {', '.join(f'{p:g}' for p in PERCENTILES)}, "
          f"max, mean share of the window's tokens")
    print(f"{'source':<10} {'grid':<16} {'tokens':>6} {'what':<18} "
          + " ".join(f"{'p' + format(100 * p, 'g'):>6}" for p in PERCENTILES) + f" {'max':>6} {'share':>8}")
    for name, tracks in sources.items():
        for grid_name, grid in GRIDS.items():
            tokens = 5 * grid[0] * grid[1]
            rows, largest = [], []
            for track in tracks:
                if name == "synthetic":  # (f, v, j, h, w): windows along f for each video
                    per_video = [row_counts(*track_windows(track[:, v]), grid) for v in range(track.shape[1])]
                    counts = rearrange(torch.stack(per_video), "v f j -> (f v) j")  # frame-major
                    largest.append(batch_largest(counts, args.persons))
                else:
                    counts = row_counts(*track_windows(track), grid)
                rows.append(counts.flatten())
            rows = torch.cat(rows)
            print(f"{name:<10} {grid_name:<16} {tokens:>6} {'per joint':<18} {describe(rows, tokens)}")
            if largest:
                largest = torch.cat(largest)
                what = f"batch max ({args.persons} p.)"
                print(f"{name:<10} {grid_name:<16} {tokens:>6} {what:<18} {describe(largest, tokens)}")
    if "vtest" in sources:
        print(f"vtest: {len(sources['vtest'])} tracks of >= 5 frames in {args.vtest_frames} frames "
              "(per-joint counts only: its persons per frame vary)")


if __name__ == "__main__":
    main()

"""Label-free adaptation on real footage: adapt on the first part of a video, measure on the rest.

    python benchmarks/bench_adapt_real.py --work runs/vtest --json benchmarks/results/adapt_vtest.json

The video (default ../shared/data/vtest.avi, 795 frames of a street, 768x576) is split in time:
frames [0, 500) are the footage `tarpose adapt` learns from, frames [500, 795) are never seen in
training and are where every number is measured. People come from the HOG detector at its
default threshold (offline) linked by the ByteTracker, as `tarpose adapt --detector hog` does. No
keypoint label exists for this video, so what is measured is what needs none, on the held-out
frames:

- agreement with the base on corrupted frames: each held-out window's target frame corrupted (the
  training mix: occluders, blur, defocus, noise, a dropped frame), its neighbours with probability
  0.3, the same corruptions for every row; PCK@0.05 of each row's keypoints on the corrupted target
  against the frozen base's on the same frame clean (joints the base scores >= 0.1);
- the same with the base's keypoints of the window's frames filtered (median or mean of 3 or 5
  frames around the target): what a post-hoc filter gets from the same corrupted window;
- agreement on clean frames (the adapted model should keep the base's poses where nothing is
  wrong) and jitter (mean keypoint acceleration, px/frame^2) of each track over clean frames.

Agreement is not accuracy: where the base is wrong on a clean frame, agreeing is wrong too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tarpose
from tarpose.codec import decode_heatmaps, heatmap_to_image
from tarpose.demo import mean_jitter
from tarpose.eval.metrics import pck
from tarpose.geometry import apply_affine, invert_affine
from tarpose.training import AdaptConfig, adapt, cached_encoding, freeze_base
from tarpose.training.adaptation import CropCorruptor, Teacher, UnlabelledWindows, WindowCache
from tarpose.training.adaptation.footage import FootageOptions, footage_tracks

#: window filters of the base's keypoints: name -> (frames around the target, reducer)
FILTERS = {"median:window=3": (1, "median"), "median:window=5": (2, "median"),
           "mean:window=3": (1, "mean"), "mean:window=5": (2, "mean")}


def predictions(model, cache, rows, corruptor, target_rate, neighbour_rate, seed):
    """The model's target keypoints (n, J, 2) in image pixels, and the base's keypoints of every
    window frame (n, T, J, 2) as the corrupted window shows them, with the frames' validity."""
    data = UnlabelledWindows(cache, rows, corruptor=corruptor, teacher=Teacher(floor=0.1),
                             target_rate=target_rate, neighbour_rate=neighbour_rate, seed=seed)
    ours, base, valid = [], [], []
    with torch.no_grad():
        for batch in DataLoader(data, batch_size=32):
            features, heatmaps = cached_encoding(model, batch, batch["clip"], torch.device("cpu"))
            out = model(features=features, heatmaps=heatmaps, frame_valid=batch["frame_valid"])
            coords, _ = decode_heatmaps(out)
            ours.append(heatmap_to_image(coords, batch["matrix"], cache.input_size, cache.heatmap_size, cache.geometry))
            b, t = heatmaps.shape[:2]
            coords, _ = decode_heatmaps(heatmaps.flatten(0, 1).float())  # (b t, j, 2)
            matrix = batch["matrix"].repeat_interleave(t, 0)
            frames = heatmap_to_image(coords, matrix, cache.input_size, cache.heatmap_size, cache.geometry)
            base.append(frames.reshape(b, t, *frames.shape[1:]))
            valid.append(batch["frame_valid"])
    return torch.cat(ours), torch.cat(base), torch.cat(valid)


def window_filter(frames, valid, target, reach, reducer):
    """The base's keypoints of the frames ``target - reach .. target + reach`` that exist,
    reduced per joint: (n, J, 2)."""
    lo, hi = max(0, target - reach), min(frames.shape[1], target + reach + 1)
    x = frames[:, lo:hi]  # (n, w, j, 2)
    ok = valid[:, lo:hi, None, None].expand_as(x)
    if reducer == "mean":
        return (x * ok).sum(1) / ok.sum(1).clamp_min(1)
    x = torch.where(ok, x, torch.full_like(x, float("nan")))
    return x.nanmedian(dim=1).values


def _in_crop(heatmaps, matrix, cache):
    """Keypoints ``(J, 2)`` of heatmaps ``(J, h, w)`` in the pixels of the crop ``matrix`` made."""
    coords, _ = decode_heatmaps(heatmaps[None])
    image = heatmap_to_image(coords, matrix, cache.input_size, cache.heatmap_size, cache.geometry)  # (1, j, 2)
    return apply_affine(image.double(), matrix)[0]


def picture(model, cache, rows, corruptor, rate, seed, path: Path, zoom: int = 3) -> list[str]:
    """One held-out window of each corruption kind, its target frame as the model saw it
    (corrupted), with the base's keypoints on it (red), the adapted model's (green) and the base's
    on the same frame clean (white, thin): a row of crops, enlarged, written as a PNG."""
    import numpy as np

    from tarpose.data.synthetic.corruptions import names
    from tarpose.io.render import draw_pose, write_png

    data = UnlabelledWindows(cache, rows, corruptor=corruptor, teacher=Teacher(floor=0.1),
                             target_rate=1.0, neighbour_rate=rate, seed=seed)
    target = cache.window.target_index
    mean, std = torch.tensor(cache.data.mean)[:, None, None], torch.tensor(cache.data.std)[:, None, None]
    panels, shown = [], []
    with torch.no_grad():
        for batch in DataLoader(data, batch_size=32):
            features, heatmaps = cached_encoding(model, batch, batch["clip"], torch.device("cpu"))
            out = model(features=features, heatmaps=heatmaps, frame_valid=batch["frame_valid"])
            for i in range(len(out)):
                kind = "+".join(names(int(batch["corruption"][i, target])))
                if kind in shown or kind == "drop":  # a dropped frame shows nothing to draw on
                    continue
                row = int(batch["meta"]["window"][i])
                crop = (batch["clip"][i, target] * std + mean).clamp(0, 1) * 255  # (3, h, w)
                image = crop.round().to(torch.uint8).permute(1, 2, 0).numpy().repeat(zoom, 0).repeat(zoom, 1)
                matrix = batch["matrix"][i : i + 1]  # (1, 2, 3) image -> crop
                clean = zoom * torch.from_numpy(cache["base_keypoints"][row, target].copy())  # crop pixels
                image = draw_pose(image, clean, color=(255, 255, 255), thickness=1.0, radius=1.5)
                image = draw_pose(image, zoom * _in_crop(heatmaps[i, target].float(), matrix, cache), color=(230, 40, 40))
                image = draw_pose(image, zoom * _in_crop(out[i], matrix, cache), color=(40, 210, 60))
                panels.append(image)
                shown.append(kind)
    if panels:
        gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
        write_png(path, np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1))
    return shown


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=ROOT.parent / "shared" / "data" / "vtest.avi")
    parser.add_argument("--detector", default="hog", help="person detector (default hog: offline)")
    parser.add_argument("--boxes", type=Path, help="a boxes JSON file instead of the detector")
    parser.add_argument("--base", default="vitpose-demo", help="the single-frame model (load_model)")
    parser.add_argument("--split", type=int, default=500, help="first held-out frame (default 500)")
    parser.add_argument("--eval-frames", type=int, help="held-out frames measured (default: to the end)")
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("runs/adapt-real"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figure", type=Path, help="also draw one held-out corrupted window of each kind (PNG)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    base = tarpose.load_model(args.base)
    config = AdaptConfig(steps=args.steps, seed=args.seed, log_every=100, save_every=200)
    size = tuple(base.data_config.input_size)

    detector = str(args.boxes) if args.boxes is not None else args.detector

    def tracks(first: int, count: int | None, folder: str):
        options = FootageOptions(input_size=size, padding=config.padding, window=config.temporal.window.length,
                                 detector=detector, start_frame=first, max_frames=count)
        return footage_tracks([args.video], args.work / folder, options, detectors=detector, log=print)

    run = args.work / "run"
    resume = (run / "checkpoint.safetensors").exists()
    adapted = adapt(base, tracks(0, args.split, "footage-train"), run, config, resume=resume,
                    cache_dir=args.work / "cache", label=args.base, device="cpu")
    report = json.loads((run / "adapt.json").read_text())
    identity = tarpose.TemporalWrapper(base, config.temporal)  # untrained: the base itself
    freeze_base(identity)
    held = tracks(args.split, args.eval_frames, "footage-eval")
    cache = WindowCache.build(identity, held, folder=args.work / "cache", dtype=config.cache_dtype, log=print)
    rows = list(range(len(cache)))
    target = cache.window.target_index
    corruptor = CropCorruptor(config.kinds, config.placement, config.confidence_floor)
    scores = torch.from_numpy(cache["base_scores"][:, target].copy())
    points = torch.from_numpy(cache["base_keypoints"][:, target].copy())
    matrix = torch.from_numpy(cache["matrix"][:].copy())
    box = torch.from_numpy(cache["box"][:].copy())
    reference = apply_affine(points.double(), invert_affine(matrix)).float()  # the base, clean target
    counted = scores >= config.confidence_floor
    norm = torch.maximum(box[:, 2], box[:, 3]).float()

    def agreement(keypoints):
        return 100 * pck(keypoints.float(), reference, counted, norm, 0.05)

    result: dict = {"video": args.video.name, "base": args.base, "train_frames": [0, args.split],
                    "eval_frames": [args.split, None], "eval_tracks": len(held), "eval_windows": len(rows),
                    "joints": int(counted.sum()), "steps": args.steps, "adapt": report}
    for name, target_rate, rate in (("corrupted", 1.0, config.neighbour_rate), ("clean", 0.0, 0.0)):
        ours, frames, valid = predictions(adapted, cache, rows, corruptor, target_rate, rate, args.seed + 1)
        base_target = frames[:, target]
        row = {"base": agreement(base_target), "adapted": agreement(ours)}
        for spec, (reach, reducer) in FILTERS.items():
            row[f"base+{spec}"] = agreement(window_filter(frames, valid, target, reach, reducer))
        result[name] = row
        if name == "clean":  # jitter over each track's clean frames
            track_of = cache.index[:, 0]
            vis = counted
            result["jitter"] = {
                "base": mean_jitter([base_target[track_of == k] for k in track_of.unique()],
                                    [vis[track_of == k] for k in track_of.unique()]),
                "adapted": mean_jitter([ours[track_of == k] for k in track_of.unique()],
                                       [vis[track_of == k] for k in track_of.unique()]),
            }
    if args.figure is not None:
        result["figure_kinds"] = picture(adapted, cache, rows, corruptor, config.neighbour_rate, args.seed + 1,
                                         args.figure)
    result["seconds"] = time.perf_counter() - start
    best = max(FILTERS, key=lambda s: result["corrupted"][f"base+{s}"])
    print(f"held-out frames {args.split}+ of {args.video.name}: {len(held)} tracks, {len(rows)} windows")
    print(f"{'':24} {'corrupted':>9} {'clean':>7}")
    for key in ("base", f"base+{best}", "adapted"):
        print(f"{key:24} {result['corrupted'][key]:9.2f} {result['clean'][key]:7.2f}")
    print(f"jitter (px/frame^2, clean frames): base {result['jitter']['base']:.3f}, "
          f"adapted {result['jitter']['adapted']:.3f}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

"""Adapt TAR's temporal modules to your own unlabelled video, then compare with the base on the
frames it did not learn from.

    python examples/adapt_unlabelled.py                      # footage it makes: a synthetic street
    python examples/adapt_unlabelled.py street.mp4 --base vitpose-demo --detector hog --out runs/street
    python examples/adapt_unlabelled.py street.mp4 --boxes boxes.json --steps 800 --split 500

Without a video the script makes its footage: procedural people walking (tarpose.data.synthetic),
rendered clean to a folder of frames, with their boxes standing in for a detector.

The first ``--split`` frames of the video are the footage (people found by ``--detector`` or a
``--boxes`` file, linked by the ByteTracker); the rest are held out. No label is read: the frozen
base's poses on clean frames are what the temporal modules learn to restore from corrupted windows
(``tarpose.training.adapt``, what ``tarpose adapt`` runs). At the end the script runs the base and
the adapted model over the held-out frames with the same boxes (``tarpose.PoseInferencer``) and
prints, per model, the frames and poses and how steady the tracks are (mean keypoint acceleration,
px/frame^2; lower is steadier), and how far the adapted model's keypoints lie from the base's.
The run directory (default: a new temporary folder) is a model directory: ``tarpose predict VIDEO
--model OUT`` uses it. Needs ``pip install "tarpose[video]"`` (and ``[detect]`` for HOG).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

import tarpose
from tarpose.eval import jitter
from tarpose.training import AdaptConfig, adapt
from tarpose.training.adaptation.footage import FootageOptions, footage_tracks


def make_footage(folder: Path, frames: int = 96, seed: int = 5) -> tuple[Path, Path]:
    """A clip of a procedural person rendered clean as PNG frames, and their boxes as a boxes file."""
    from tarpose.data.synthetic import SyntheticVideo
    from tarpose.io.render import write_png

    video = SyntheticVideo(seed, frames, image_size=(192, 256))
    images = video.render(list(range(frames)), corrupt=False)[0]  # (f, 3, h, w) uint8
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        write_png(folder / "frames" / f"{i:04d}.png", image.permute(1, 2, 0).numpy())
    boxes = [{"frame": i, "bbox": [float(v) for v in box]} for i, box in enumerate(video.boxes)]
    (folder / "boxes.json").write_text(json.dumps(boxes))
    return folder / "frames", folder / "boxes.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path, nargs="?", help="a video or folder of frames (default: made here)")
    parser.add_argument("--base", default="vitpose-demo", help="the single-frame model (anything load_model reads)")
    parser.add_argument("--detector", default="hog", help="rtdetr, hog or full-frame (default hog: offline)")
    parser.add_argument("--boxes", type=Path, help="a boxes JSON file instead of the detector")
    parser.add_argument("--split", type=int, default=None,
                        help="frames adapted on; the rest are held out (default 500, or 3/4 of made footage)")
    parser.add_argument("--held-out", type=int, default=None, help="held-out frames compared (default: all)")
    parser.add_argument("--steps", type=int, default=800, help="adaptation steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a new temporary folder)")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="tarpose-adapt-")) if args.out is None else args.out
    if args.video is None:
        args.video, args.boxes = make_footage(out / "made")
    detector = str(args.boxes) if args.boxes is not None else args.detector
    if args.split is None:
        args.split = 500 if args.video.suffix else 3 * len(list(args.video.glob("*.png"))) // 4

    base = tarpose.load_model(args.base)
    # a tenth of the footage, in blocks, held out of training to measure self-consistency on
    config = AdaptConfig(steps=args.steps, batch_size=args.batch_size, log_every=max(1, args.steps // 8),
                         holdout_block=max(1, min(32, args.split // 10)))
    options = FootageOptions(input_size=tuple(base.data_config.input_size), padding=config.padding,
                             window=config.temporal.window.length, detector=detector, max_frames=args.split)
    tracks = footage_tracks([args.video], out / "footage", options, detectors=detector, log=print)
    resume = (out / "checkpoint.safetensors").exists()
    adapt(base, tracks, out, config, resume=resume, label=args.base, log=None)
    report = json.loads((out / "adapt.json").read_text())["self_consistency"]
    if report["after"] is not None:  # agreement with the base on clean frames, a held-out part of the footage
        print("self-consistency on held-out windows (PCK@0.05 against the base on the clean frame):")
        print(f"  {'':10} {'corrupted':>9} {'clean':>7}")
        for when in ("before", "after"):
            print(f"  {when:10} {report[when]['corrupted']:9.2f} {report[when]['clean']:7.2f}")

    # the held-out frames, both models, the same detector and tracker
    steadiness = {}
    keypoints = {}
    for name, model in (("base", base), ("adapted", tarpose.load_model(out))):
        inferencer = tarpose.PoseInferencer(model, detector=detector)
        per_track: dict[int, dict[int, torch.Tensor]] = defaultdict(dict)
        frames = poses = 0
        for index, frame_poses in enumerate(inferencer(args.video, max_frames=args.split + (args.held_out or 10**9))):
            if frame_poses.index < args.split:
                continue
            frames += 1
            poses += len(frame_poses)
            for track, kps in zip(frame_poses.track_ids, frame_poses.keypoints):
                per_track[int(track)][frame_poses.index] = kps[:, :2]
        keypoints[name] = per_track
        values = []
        for seen in per_track.values():
            ordered = sorted(seen)
            if len(ordered) >= 3 and ordered[-1] - ordered[0] + 1 == len(ordered):
                values.append(jitter(torch.stack([seen[f] for f in ordered]), torch.ones(len(ordered), 17, dtype=torch.bool)))
        steadiness[name] = sum(values) / len(values) if values else float("nan")
        print(f"{name}: {frames} held-out frames, {poses} poses, jitter {steadiness[name]:.2f} px/frame^2")
    shared = [(t, f) for t, seen in keypoints["base"].items() for f in seen if f in keypoints["adapted"].get(t, {})]
    if shared:
        distance = torch.stack([(keypoints["adapted"][t][f] - keypoints["base"][t][f]).norm(dim=-1).mean()
                                for t, f in shared]).mean()
        print(f"adapted vs base: {float(distance):.2f} px apart on average over {len(shared)} poses")
    print(f"the adapted model: {out} (tarpose predict {args.video} --model {out})")


if __name__ == "__main__":
    main()

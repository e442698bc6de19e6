"""Adapt TAR's temporal modules to your own unlabelled video, then compare with the base on the
frames it did not learn from.

    python examples/adapt_unlabelled.py street.mp4 --base vitpose-demo --detector hog --out runs/street
    python examples/adapt_unlabelled.py street.mp4 --boxes boxes.json --steps 800 --split 500

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
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

import tarpose
from tarpose.eval import jitter
from tarpose.training import AdaptConfig, adapt
from tarpose.training.adaptation.footage import FootageOptions, footage_tracks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--base", default="vitpose-demo", help="the single-frame model (anything load_model reads)")
    parser.add_argument("--detector", default="hog", help="rtdetr, hog or full-frame (default hog: offline)")
    parser.add_argument("--boxes", type=Path, help="a boxes JSON file instead of the detector")
    parser.add_argument("--split", type=int, default=500, help="frames adapted on; the rest are held out")
    parser.add_argument("--held-out", type=int, default=None, help="held-out frames compared (default: all)")
    parser.add_argument("--steps", type=int, default=800, help="adaptation steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a new temporary folder)")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="tarpose-adapt-")) if args.out is None else args.out
    detector = str(args.boxes) if args.boxes is not None else args.detector

    base = tarpose.load_model(args.base)
    config = AdaptConfig(steps=args.steps, batch_size=args.batch_size, log_every=max(1, args.steps // 8))
    options = FootageOptions(input_size=tuple(base.data_config.input_size), padding=config.padding,
                             window=config.temporal.window.length, detector=detector, max_frames=args.split)
    tracks = footage_tracks([args.video], out / "footage", options, detectors=detector, log=print)
    resume = (out / "checkpoint.safetensors").exists()
    adapt(base, tracks, out, config, resume=resume, label=args.base)

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

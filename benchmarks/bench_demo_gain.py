"""What temporal aggregation buys: the bundled TAR-ViTPose vs the bundled single-frame ViTPose on
held-out synthetic videos (test-split seeds, never used in training).

Both models share the backbone architecture and the training budget (the single-frame model got
as many extra steps on the same windows as the temporal stage had; see examples/train_demo.py).
Every frame of every video is scored, windows t-2..t+2 cropped with frame t's box (the
ground-truth silhouette box, so the comparison is about the pose model, not a detector).

    python benchmarks/bench_demo_gain.py                # 64 videos x 32 frames, 30% corrupted
    python benchmarks/bench_demo_gain.py --videos 8 --json gain.json

Prints PCK@0.05 (of the box's longer side) and COCO OKS AP on the clean and the corrupted frames,
PCK per corruption kind, and the jitter (mean keypoint acceleration) of the tracks.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch

import tarpose
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.demo import SINGLE, TEMPORAL, compare, load_demo_models, predict_video


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=64, help="held-out test videos (default 64)")
    parser.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    parser.add_argument("--first-video", type=int, default=0, help="first video of the test split")
    parser.add_argument("--corruption", type=float, default=0.3, help="fraction of corrupted frames")
    parser.add_argument("--single", type=Path, help="a trained single-frame run (default: bundled)")
    parser.add_argument("--temporal", type=Path, help="a trained temporal run (default: bundled)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    bundled = None if args.single and args.temporal else load_demo_models()
    single = tarpose.load_model(args.single).eval() if args.single else bundled[0]
    temporal = tarpose.load_model(args.temporal).eval() if args.temporal else bundled[1]
    seeds = split_seeds("test", args.videos, args.first_video)
    start = time.perf_counter()
    results = []
    with torch.inference_mode():
        for seed in seeds:
            video = SyntheticVideo(seed, args.frames, corruption=args.corruption)
            results.append(predict_video(video, single, temporal))
    scores = compare(results, kinds=True)
    elapsed = time.perf_counter() - start
    frames = sum(len(r.corrupted) for r in results)
    corrupted = sum(int(r.corrupted.sum()) for r in results)
    print(f"held-out test videos {seeds.start}..{seeds.stop - 1}: {frames} frames, {corrupted} corrupted "
          f"({elapsed:.0f} s)")
    print(format_table(scores))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**scores, "frames": frames, "corrupted_frames": corrupted,
                                         "videos": [seeds.start, seeds.stop]}, indent=2) + "\n")
    return scores


def format_table(scores: dict[str, dict[str, float]]) -> str:
    """Metric rows, single-frame vs temporal and their difference."""
    s, t = scores[SINGLE], scores[TEMPORAL]
    rows = [("PCK@0.05 clean", "pck_clean"), ("PCK@0.05 corrupted", "pck_corrupted"),
            ("PCK@0.05 all", "pck_all"), ("OKS AP clean", "ap_clean"),
            ("OKS AP corrupted", "ap_corrupted"), ("OKS AP all", "ap_all")]
    rows += [(f"  PCK {k[4:]}", k) for k in s if k.startswith("pck_") and k[4:] not in ("clean", "corrupted", "all")]
    rows += [("jitter (px/frame^2)", "jitter")]
    lines = [f"{'metric':<22}{'single-frame':>14}{'temporal':>10}{'gain':>8}"]
    for label, key in rows:
        a, b = s[key], t[key]
        if math.isnan(a) or math.isnan(b):
            continue
        lines.append(f"{label:<22}{a:>14.2f}{b:>10.2f}{b - a:>+8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

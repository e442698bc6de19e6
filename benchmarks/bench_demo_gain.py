"""What temporal aggregation buys, next to what a keypoint filter buys: the bundled TAR-ViTPose and
the bundled single-frame ViTPose, each alone and each after its best filter, on held-out
synthetic videos (test-split seeds, never used in training).

Both models share the backbone architecture and the training budget (the single-frame model got
as many extra steps on the same windows as the temporal stage had; see examples/train_demo.py).
Every frame of every video is scored, windows t-2..t+2 cropped with frame t's box (the
ground-truth silhouette box, so the comparison is about the pose model, not a detector).

Each model's best filter is chosen among tarpose.demo.FILTER_CANDIDATES (median, score-weighted
mean, Savitzky-Golay, One-Euro; a small grid of windows and parameters) by PCK@0.05 over all
frames of validation videos (the "val" split: disjoint from the training and the test videos),
then measured on the test videos with everything else.

Live video (zero latency): the causal TAR (tar-vitpose-demo-causal, frames t-4..t) against the
single-frame model after its best *causal* filter (tarpose.demo.CAUSAL_FILTER_CANDIDATES: trailing
median, mean and Savitzky-Golay windows, One-Euro and a constant-velocity Kalman filter, chosen on
the same validation videos), and the causal TAR after its best causal filter. Every column states
its latency in frames (how long an output waits for later frames).

    python benchmarks/bench_demo_gain.py --threads 1     # 64 test + 32 val videos x 32 frames
    python benchmarks/bench_demo_gain.py --videos 8 --val-videos 4 --json gain.json

Prints PCK@0.05 (of the box's longer side) and COCO OKS AP on the clean and the corrupted frames,
PCK per corruption kind and per motion speed (ground-truth joint speed in % of the box per frame,
buckets at tarpose.demo.SPEED_EDGES), and the jitter (mean keypoint acceleration) of the tracks.
The JSON also records the settings, the frames in each speed bucket and the SHA-256 of the weights
measured, so `scripts/figures.py` and the docs tests can tell when the bundled models changed and
the results must be measured again (`python scripts/figures.py --bench` reruns this script into
benchmarks/results/demo_gain.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch

import tarpose
from tarpose.filters import build_filter
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.demo import (
    ASSETS,
    CAUSAL,
    CAUSAL_FILTER_CANDIDATES,
    CAUSAL_FILTERED,
    FILTERED,
    SINGLE,
    SPEED_EDGES,
    TEMPORAL,
    apply_filters,
    compare,
    frame_speed,
    predict_video,
    select_filter,
    speed_buckets,
)

#: column -> heading
def weights_digest(path: Path) -> str:
    """SHA-256 of a run's or a bundled model's ``model.safetensors`` (a directory or the file)."""
    path = path / "model.safetensors" if path.is_dir() else path
    return hashlib.sha256(path.read_bytes()).hexdigest()


COLUMNS = {SINGLE: "single", SINGLE + FILTERED: "single+filt", TEMPORAL: "TAR", TEMPORAL + FILTERED: "TAR+filt"}
#: the live (zero-latency) columns
CAUSAL_COLUMNS = {SINGLE + CAUSAL_FILTERED: "single+cfilt", CAUSAL: "cTAR", CAUSAL + CAUSAL_FILTERED: "cTAR+cfilt"}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=64, help="held-out test videos (default 64)")
    parser.add_argument("--val-videos", type=int, default=32,
                        help="validation videos the best filters are chosen on (default 32)")
    parser.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    parser.add_argument("--first-video", type=int, default=0, help="first video of the test split")
    parser.add_argument("--corruption", type=float, default=0.3, help="fraction of corrupted frames")
    parser.add_argument("--metric", default="pck_all",
                        help="what the filter choice maximises on the validation videos (default pck_all)")
    parser.add_argument("--single", type=Path, help="a trained single-frame run (default: bundled)")
    parser.add_argument("--temporal", type=Path, help="a trained temporal run (default: bundled)")
    parser.add_argument("--causal", type=Path, help="a trained causal temporal run (default: bundled)")
    parser.add_argument("--no-causal", action="store_true", help="leave out the live (causal) columns")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--every-causal-filter", action="store_true",
                        help="also score the single-frame model after each causal candidate on the test videos "
                             "(PCK corrupted, all, fast motion): does the causal TAR beat every one?")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    single = tarpose.load_model(args.single or "vitpose-demo")
    temporal = tarpose.load_model(args.temporal or "tar-vitpose-demo")
    causal = None if args.no_causal else tarpose.load_model(args.causal or "tar-vitpose-demo-causal")

    def run(seeds: range) -> list:
        with torch.inference_mode():
            return [predict_video(SyntheticVideo(seed, args.frames, corruption=args.corruption), single, temporal,
                                  causal=causal) for seed in seeds]

    start = time.perf_counter()
    val_seeds = split_seeds("val", args.val_videos)
    val = run(val_seeds)
    choices = {model + FILTERED: select_filter(val, model, metric=args.metric) for model in (SINGLE, TEMPORAL)}
    if causal is not None:  # the live columns: causal filters only
        for model in (SINGLE, CAUSAL):
            choices[model + CAUSAL_FILTERED] = select_filter(val, model, CAUSAL_FILTER_CANDIDATES, args.metric)
    print(f"validation videos {val_seeds.start}..{val_seeds.stop - 1} ({len(val) * args.frames} frames): "
          f"best filter by {args.metric}")
    for column, choice in choices.items():
        print(f"  {(COLUMNS | CAUSAL_COLUMNS)[column]:<12} {choice.filter.spec():<44} {choice.score:6.2f} "
              f"(unfiltered {choice.unfiltered:.2f}; latency {choice.filter.latency} frames)")
    seeds = split_seeds("test", args.videos, args.first_video)
    results = run(seeds)
    for suffix in (FILTERED, CAUSAL_FILTERED):
        chosen = {c.model: c.filter for column, c in choices.items() if column.endswith(suffix)}
        results = [apply_filters(r, chosen, suffix) for r in results]
    scores = compare(results, kinds=True, speeds=True)
    if args.every_causal_filter and causal is not None:
        every = {}
        for candidate in CAUSAL_FILTER_CANDIDATES:
            filtered = compare([apply_filters(r, {SINGLE: candidate}, "+each") for r in results], speeds=True)
            every[build_filter(candidate).spec()] = filtered[SINGLE + "+each"]
        print(f"the single-frame model after each causal candidate, test videos ({len(every)} filters):")
        print(f"  {'filter':<52} {'corrupted':>9} {'all':>7} {'fast':>7}")
        for spec, row in sorted(every.items(), key=lambda item: -item[1]["pck_fast"]):
            print(f"  {spec:<52} {row['pck_corrupted']:9.2f} {row['pck_all']:7.2f} {row['pck_fast']:7.2f}")
        c = scores[CAUSAL]
        print(f"  causal TAR                                           {c['pck_corrupted']:9.2f} {c['pck_all']:7.2f} "
              f"{c['pck_fast']:7.2f}")
        scores_every = every
    else:
        scores_every = None
    lookahead = {SINGLE: 0, TEMPORAL: temporal.window.lookahead, CAUSAL: causal.window.lookahead if causal else 0}
    latency = {name: lookahead[name.split("+")[0]] + (choices[name].filter.latency if name in choices else 0)
               for name in scores}
    elapsed = time.perf_counter() - start
    frames = sum(len(r.corrupted) for r in results)
    corrupted = sum(int(r.corrupted.sum()) for r in results)
    print(f"held-out test videos {seeds.start}..{seeds.stop - 1}: {frames} frames, {corrupted} corrupted "
          f"({elapsed:.0f} s with {torch.get_num_threads()} torch threads)")
    print(format_table(scores, latency))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            **scores,
            "filters": {c.model if column.endswith(FILTERED) else column:
                        {**c.filter.describe(), "val_score": c.score, "val_unfiltered": c.unfiltered}
                        for column, c in choices.items()},
            "selection": {"metric": args.metric, "videos": [val_seeds.start, val_seeds.stop],
                          "scores": {c.model if column.endswith(FILTERED) else column: c.scores
                                     for column, c in choices.items()}},
            "latency_frames": latency,
            "speed_edges": list(SPEED_EDGES),
            "speed_buckets": {"slow": [0.0, SPEED_EDGES[0]], "medium": list(SPEED_EDGES), "fast": [SPEED_EDGES[1], None]},
            "speed_frames": {name: int(sel.sum()) for name, sel in speed_buckets(
                torch.cat([frame_speed(r.keypoints, r.boxes) for r in results])).items()},
            "weights": {
                SINGLE: weights_digest(args.single or ASSETS / "vitpose-demo"),
                TEMPORAL: weights_digest(args.temporal or ASSETS / "tar-vitpose-demo"),
                **({} if causal is None else {CAUSAL: weights_digest(args.causal or ASSETS / "tar-vitpose-demo-causal")}),
            },
            "bundled": args.single is None and args.temporal is None and args.causal is None,
            "frames_per_video": args.frames, "corruption": args.corruption,
            "frames": frames, "corrupted_frames": corrupted, "videos": [seeds.start, seeds.stop],
            "threads": torch.get_num_threads(), "seconds": elapsed,
            **({} if scores_every is None else {"every_causal_filter": scores_every}),
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return scores


def format_table(scores: dict[str, dict[str, float]], latency: dict[str, int] | None = None) -> str:
    """Metric rows; a column per model (alone and after its filter), then TAR and TAR + its filter
    against the single-frame model + its filter; with the causal columns, the same for live video
    (causal TAR and causal TAR + its causal filter against the single-frame model + its causal
    filter). The first row is each column's latency in frames."""
    keys = list(scores[SINGLE])
    rows = [("PCK@0.05 clean", "pck_clean"), ("PCK@0.05 corrupted", "pck_corrupted"),
            ("PCK@0.05 all", "pck_all"), ("OKS AP clean", "ap_clean"),
            ("OKS AP corrupted", "ap_corrupted"), ("OKS AP all", "ap_all")]
    speeds = ("slow", "medium", "fast")
    rows += [(f"  PCK {k[4:]}", k) for k in keys if k.startswith("pck_") and k[4:] not in
             ("clean", "corrupted", "all") and not k[4:].startswith(speeds)]
    lo, hi = SPEED_EDGES
    label = {"slow": f"slow <{lo}", "medium": f"medium {lo}-{hi}", "fast": f"fast >={hi}"}
    rows += [(f"  PCK {label[k[4:].split('_')[0]]}{' ' + k.split('_')[2] if k.count('_') == 2 else ''}", k)
             for k in keys if k.startswith("pck_") and k[4:].startswith(speeds)]
    rows += [("jitter (px/frame^2)", "jitter")]
    columns = {**COLUMNS, **(CAUSAL_COLUMNS if CAUSAL in scores else {})}
    live = CAUSAL in scores
    heads = list(columns.values()) + ["TAR-S+f", "TAR+f-S+f"] + (["cTAR-S+cf", "cTAR+cf-S+cf"] if live else [])
    lines = [f"{'metric':<32}" + "".join(f"{h:>13}" for h in heads)]
    if latency is not None:
        lines.append(f"{'latency (frames)':<32}" + "".join(f"{latency[m]:>13d}" for m in columns))
    for name, key in rows:
        values = [scores[m][key] for m in columns]
        if any(math.isnan(v) for v in values):
            continue
        s_f, t, t_f = values[1], values[2], values[3]
        deltas = [t - s_f, t_f - s_f] + ([values[5] - values[4], values[6] - values[4]] if live else [])
        lines.append(f"{name:<32}" + "".join(f"{v:>13.2f}" for v in values) + "".join(f"{d:>+13.2f}" for d in deltas))
    return "\n".join(lines)


if __name__ == "__main__":
    main()

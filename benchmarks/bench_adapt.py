"""Label-free adaptation on the synthetic benchmark: adapt the bundled ``vitpose-demo``'s temporal
modules to unlabelled footage, then score it with ``bench_demo_gain.py``'s protocol.

Footage: the videos the bundled TAR was trained on (train split from video 500000, 500 videos x 32
frames, ``examples/train_demo.py``), rendered clean (``corruption=0``) as plain frames; the person
boxes are the generator's silhouette boxes, standing in for a detector. No keypoint, visibility or
corruption label is read: a track is the rendered frames and the boxes. The base is
``tarpose/assets/vitpose-demo``; the optimiser, schedule and batch are the bundled temporal
stage's (``tarpose.training.AdaptConfig``'s defaults: lr 2e-3, 100 warm-up steps, cosine, weight
decay 0.05, batch 16, COCO joint weights, frozen base).

    python benchmarks/bench_adapt.py --work runs/adapt --run labelfree            # 4800 steps, all kinds
    python benchmarks/bench_adapt.py --work runs/adapt --run heldout --kinds occlude,noise,drop
    python benchmarks/bench_adapt.py --work runs/adapt --run probe --steps 800 --threads 1
    python benchmarks/bench_adapt.py --work runs/adapt --step-cost                 # what a step costs
    python benchmarks/bench_adapt.py --work runs/adapt --collect labelfree heldout probe \
        --json benchmarks/results/adapt_synthetic.json                              # for the docs

A run adapts into ``WORK/RUN`` (resumable: the same command continues from the last checkpoint;
the window cache in ``WORK/cache`` is shared by runs with the same crops), then scores it on the 64
test videos with the filters chosen on 32 validation videos (``bench_demo_gain.py --temporal
WORK/RUN``), writes ``WORK/RUN/gain.json`` and prints the table, the corruption kinds held out of
adaptation, and the issue's targets against the single-frame model and its best filter.

``--step-cost`` times training steps with the cache (the corrupted frames encoded, the others
read) against the same steps without it (every frame of every window encoded), side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import tarpose
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.data.synthetic.corruptions import DEFAULT_WEIGHTS, KINDS
from tarpose.demo import ASSETS, SINGLE, TEMPORAL
from tarpose.training import AdaptConfig, Track, adapt

BASE = ASSETS / "vitpose-demo"
GAIN_JSON = Path(__file__).resolve().parent / "results" / "demo_gain.json"
#: the bundled TAR's training videos (examples/train_demo.py, stage 2-3)
FIRST_VIDEO, VIDEOS, FRAMES = 500_000, 500, 32


class RenderedFrames:
    """The frames of a synthetic video rendered clean, as plain RGB uint8 ``(H, W, 3)`` images:
    rendered all at once on first access, kept until ``release``."""

    def __init__(self, video: SyntheticVideo) -> None:
        self.video = video
        self._frames: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.video.num_frames

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._frames is None:
            self._frames = self.video.render(corrupt=False)[0].permute(0, 2, 3, 1)  # (f, h, w, 3)
        frame = self._frames[index]
        if index == self.video.num_frames - 1:
            self._frames = None  # the cache reads frames in order: the last one frees them
        return frame


def footage(videos: int, first: int = FIRST_VIDEO, frames: int = FRAMES) -> list[Track]:
    """Train-split videos as tracks: rendered frames and the generator's person boxes."""
    tracks = []
    for seed in split_seeds("train", videos, first):
        video = SyntheticVideo(seed, frames, corruption=0.0)
        tracks.append(Track(RenderedFrames(video), video.boxes.clone(), key=f"synthetic train video {seed}, {frames} frames, clean"))
    return tracks


def config_from(args: argparse.Namespace) -> AdaptConfig:
    kinds = dict(DEFAULT_WEIGHTS)
    if args.kinds:
        chosen = args.kinds.split(",")
        unknown = sorted(set(chosen) - set(KINDS))
        if unknown:
            raise SystemExit(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
        kinds = {k: v for k, v in kinds.items() if k in chosen}
    return AdaptConfig(
        steps=args.steps, kinds=kinds, teacher=args.teacher, target_rate=args.target_rate,
        neighbour_rate=args.neighbour_rate, placement=args.placement,
        confidence_weighting=args.weighting, confidence_floor=args.floor, teacher_filter=args.filter,
        log_every=100, save_every=250, seed=args.seed,
    )


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/adapt"), help="work directory")
    parser.add_argument("--run", default="labelfree", help="run name (WORK/RUN)")
    parser.add_argument("--videos", type=int, default=VIDEOS, help="footage videos (default 500)")
    parser.add_argument("--steps", type=int, default=4800, help="adaptation steps (default 4800)")
    parser.add_argument("--kinds", default="", help="corruption kinds to adapt with, comma-separated (default all)")
    parser.add_argument("--teacher", default="heatmaps", choices=("heatmaps", "keypoints", "filtered"))
    parser.add_argument("--filter", default="median:window=5", help="the filtered teacher's filter")
    parser.add_argument("--weighting", default="threshold", choices=("threshold", "peak"))
    parser.add_argument("--floor", type=float, default=0.1, help="confidence floor")
    parser.add_argument("--target-rate", type=float, default=0.9)
    parser.add_argument("--neighbour-rate", type=float, default=0.3)
    parser.add_argument("--placement", default="joints", choices=("joints", "random"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-score", action="store_true", help="adapt only")
    parser.add_argument("--test-videos", type=int, default=64)
    parser.add_argument("--val-videos", type=int, default=32)
    parser.add_argument("--step-cost", action="store_true", help="time steps with and without the cache")
    parser.add_argument("--collect", nargs="+", metavar="RUN", help="gather finished runs' results into --json")
    parser.add_argument("--json", type=Path, help="with --collect: where the results go")
    args = parser.parse_args(argv)
    if args.collect:
        return collect(args.work, args.collect, args.json)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step_cost:
        return step_cost(args)
    run = args.work / args.run
    config = config_from(args)
    if not (run / "adapt.json").exists():
        resume = (run / "checkpoint.safetensors").exists()
        adapt(str(BASE), footage(args.videos), run, config, resume=resume, cache_dir=args.work / "cache",
              name="tar-vitpose-demo-adapted")
    if args.no_score:
        return None
    import bench_demo_gain

    scores = bench_demo_gain.main(["--temporal", str(run), "--videos", str(args.test_videos),
                                   "--val-videos", str(args.val_videos), "--json", str(run / "gain.json")]
                                  + (["--threads", str(args.threads)] if args.threads else []))
    summary(scores, config, json.loads((run / "adapt.json").read_text()))
    return scores


def collect(work: Path, runs: list[str], out: Path | None) -> dict:
    """The finished runs' scores (their gain.json: the single-frame model, its best filter, the
    adapted TAR, the adapted TAR + its best filter), settings and self-consistency, as one JSON."""
    document: dict = {"runs": {}}
    for name in runs:
        gain = json.loads((work / name / "gain.json").read_text())
        report = json.loads((work / name / "adapt.json").read_text())
        config = report["config"]
        document["runs"][name] = {
            "steps": report["steps"], "teacher": config["teacher"], "kinds": sorted(config["kinds"]),
            "target_rate": config["target_rate"], "confidence_weighting": config["confidence_weighting"],
            "teacher_filter": config["teacher_filter"], "temporal": config["temporal"],
            "self_consistency": report["self_consistency"],
            "seconds_per_step": report["seconds_per_step"],
            "scores": {k: gain[k] for k in (SINGLE, SINGLE + "+filter", TEMPORAL, TEMPORAL + "+filter")},
            "filters": gain["filters"], "frames": gain["frames"], "corrupted_frames": gain["corrupted_frames"],
            "videos": gain["videos"],
        }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {out}")
    return document


def summary(scores: dict, config: AdaptConfig, report: dict) -> None:
    """The issue's targets and the held-out kinds."""
    single, filtered, tar = scores[SINGLE], scores[SINGLE + "+filter"], scores[TEMPORAL]
    # the bundled supervised TAR's gain on corrupted frames, as bench_demo_gain.py measured it on
    # the same test videos (benchmarks/results/demo_gain.json, of the weights that ship)
    bundled = json.loads(GAIN_JSON.read_text())
    supervised_gain = bundled[TEMPORAL]["pck_corrupted"] - bundled[SINGLE]["pck_corrupted"]
    gain = tar["pck_corrupted"] - single["pck_corrupted"]
    print(f"\nlabel-free TAR ({config.steps} steps, teacher {config.teacher}, kinds {','.join(config.kinds)}):")
    print(f"  corrupted PCK {tar['pck_corrupted']:.2f} vs single+filter {filtered['pck_corrupted']:.2f} "
          f"({tar['pck_corrupted'] - filtered['pck_corrupted']:+.2f}; target >= +1)")
    print(f"  corrupted AP  {tar['ap_corrupted']:.2f} vs single+filter {filtered['ap_corrupted']:.2f} "
          f"({tar['ap_corrupted'] - filtered['ap_corrupted']:+.2f}; target >= +1)")
    print(f"  gain over single on corrupted frames {gain:+.2f} = {100 * gain / supervised_gain:.0f}% of the "
          f"supervised bundled TAR's {supervised_gain:+.2f} (target >= 90%)")
    print(f"  clean PCK {tar['pck_clean']:.2f} vs single {single['pck_clean']:.2f} "
          f"({tar['pck_clean'] - single['pck_clean']:+.2f}; target within 0.5)")
    held_out = [k for k in KINDS if k not in config.kinds]
    for kind in held_out:
        key = f"pck_{kind}"
        print(f"  held-out kind {kind}: TAR {tar[key]:.2f}, single {single[key]:.2f}, single+filter {filtered[key]:.2f}")
    consistency = report["self_consistency"]
    if consistency["after"]:
        print(f"  self-consistency on held-out footage: corrupted {consistency['before']['corrupted']:.2f} -> "
              f"{consistency['after']['corrupted']:.2f}, clean {consistency['before']['clean']:.2f} -> "
              f"{consistency['after']['clean']:.2f}")


def step_cost(args: argparse.Namespace, videos: int = 24, steps: int = 30) -> dict:
    """Seconds per training step with the cache and without it, on the same windows and draws."""
    from tarpose.training import TrainConfig, train
    from tarpose.training.adaptation import (
        CropCorruptor,
        Teacher,
        UnlabelledWindows,
        WindowCache,
        as_tracks,
    )

    base = tarpose.load_model(BASE)
    config = AdaptConfig(steps=steps)
    timings = {}
    for cached in (True, False):
        model = tarpose.TemporalWrapper(base, config.temporal)
        tarpose.training.freeze_base(model)
        cache = WindowCache.build(model, as_tracks(footage(videos)), folder=args.work / "cache")
        data = UnlabelledWindows(cache, corruptor=CropCorruptor(config.kinds), teacher=Teacher(),
                                 target_rate=config.target_rate, neighbour_rate=config.neighbour_rate, cached=cached)
        stamps: list[float] = []
        train(model, data, TrainConfig(**{**config.train_config().to_dict(), "log_every": steps}),
              on_step=lambda step, loss, stamps=stamps: stamps.append(time.perf_counter()), log=None)
        timings["cached" if cached else "uncached"] = (stamps[-1] - stamps[4]) / (len(stamps) - 5)
        if cached:  # the samples alone: cropping from the cache, corrupting, the teacher's target
            tic = time.perf_counter()
            for i in range(5 * config.batch_size):
                data[i * 7 % len(data)]
            timings["samples"] = (time.perf_counter() - tic) / 5
    t = config.temporal.num_frames
    expected = config.target_rate + config.neighbour_rate * (t - 1)
    print(f"seconds per step of {config.batch_size} windows of {t} frames, {torch.get_num_threads()} thread(s), "
          f"steps 6-{steps}:")
    print(f"  cached (about {expected:.1f} of {t} frames encoded per window): {timings['cached']:.3f}")
    print(f"  uncached (every frame encoded):                   {timings['uncached']:.3f}")
    print(f"  ratio uncached / cached: {timings['uncached'] / timings['cached']:.2f}")
    print(f"  of each step, making the {config.batch_size} samples (corrupting, the target): {timings['samples']:.3f}")
    return timings


if __name__ == "__main__":
    main()

"""Reproduce the bundled demo models from scratch with ``tarpose train``.

    python examples/train_demo.py --work demo-runs             # train into demo-runs/
    python examples/train_demo.py --work demo-runs --install   # and replace tarpose/assets/

Three runs of the repository's own training entry point, on procedural videos (no download):

1. ``base``: a ViTPose from scratch on single synthetic frames (train split).
2. ``single``: the base trained on for 1600 more steps (``--single-steps``) on the target frames
   of 5-frame windows (base lr 2e-4): ``vitpose-demo``.
3. ``temporal``: ``vitpose-demo``, frozen, wrapped in the default temporal part (JTA, GRA with
   its FFN, the heatmap embedding) and trained on the same windows for 4800 steps
   (``--temporal-steps``; new modules' lr 2e-3): ``tar-vitpose-demo``. Its base is
   ``vitpose-demo`` bit for bit, so every difference between the two models is the temporal
   part's. The temporal part gets three times the single-frame stage's steps because it is new
   and still learning at 1600 steps, while the single-frame model is not: 1600 further steps of
   the single-frame stage leave it where it was (``benchmarks/ablate_temporal.py``, arm
   ``single``; docs/demo.md).
4. ``causal``: the same as ``temporal`` with causal windows ``t-4..t`` (``target="last"``):
   ``tar-vitpose-demo-causal``, the zero-latency model for live video.

``--stages`` picks stages (default: all four); ``--single DIR`` takes an existing single-frame
model (e.g. ``tarpose/assets/vitpose-demo``) as stage 2's result, so stages 3-4 can be retrained
alone on the bundled base.

Rendered crops are cached on disk (``WORK/cache``, about 4 GB) so each sample is drawn once; the
windows of stages 2 and 3 are rendered on one core while stage 1 trains on the other. Every process uses one thread (two OpenMP threads fighting other work for two
cores run several times slower than one). ``--install`` writes the two models into
``tarpose/assets/<name>/`` in the format ``tarpose.save_pretrained`` writes, with half-precision
weights (what ``tarpose.demo.load_demo_models`` loads). A run that
stops can be started again with the same command: finished stages are kept, interrupted ones
resume from their last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: renders a cached synthetic dataset: argv = options as JSON, number of worker processes
FILL = (
    "import json, sys; from tarpose.data.synthetic import SyntheticPoseDataset; "
    "n = SyntheticPoseDataset(**json.loads(sys.argv[1])).fill_cache(int(sys.argv[2])); "
    "print(f'rendered {n} videos', flush=True)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("demo-runs"), help="run directory")
    parser.add_argument("--install", action="store_true", help="write the models into tarpose/assets")
    parser.add_argument("--export", type=Path, help="write the models into this folder instead")
    parser.add_argument("--base-steps", type=int, default=3000)
    parser.add_argument("--base-videos", type=int, default=2000, help="16-frame videos for stage 1")
    parser.add_argument("--base-batch", type=int, default=32)
    parser.add_argument("--single-steps", type=int, default=1600, help="steps of stage 2 (single-frame)")
    parser.add_argument("--temporal-steps", type=int, default=4800, help="steps of stage 3 (temporal)")
    parser.add_argument("--temporal-videos", type=int, default=500, help="32-frame videos for stage 2")
    parser.add_argument("--temporal-batch", type=int, default=16)
    parser.add_argument("--corruption", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to run")
    parser.add_argument("--single", type=Path, help="use this single-frame model as stage 2's result")
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    if args.single is not None:  # stages 1-2 are given
        stages = [s for s in stages if s not in ("base", "single")]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")

    work = args.work
    cache = str(work / "cache")
    # the demo models are trained in tarpose's original "biased" geometry (their config says so;
    # the second stage inherits it from the first)
    data1 = {"split": "train", "first_video": 0, "num_videos": args.base_videos, "video_length": 16,
             "num_frames": 1, "corruption": args.corruption, "geometry": "biased", "cache": cache}
    data2 = {"split": "train", "first_video": 500_000, "num_videos": args.temporal_videos, "video_length": 32,
             "num_frames": 5, "corruption": args.corruption, "geometry": "biased", "cache": cache}
    data3 = {**data2, "target": "last"}  # the same videos, causal windows
    common = ["--joint-weights", "coco", "--weight-decay", "0.05", "--workers", "0",
              "--log-every", "100", "--save-every", "250"]
    optimiser = ["--batch-size", str(args.temporal_batch), "--lr", "2e-4", "--warmup-steps", "100"]
    windows = ["--data-opt", *_opts(data2), *optimiser]
    single = str(args.single or work / "single")
    runs = {
        "base": ["--model", "vitpose-demo", "--model-opt", "geometry=biased", "--data-opt", *_opts(data1),
                 "--steps", str(args.base_steps),
                 "--batch-size", str(args.base_batch), "--lr", "1e-3", "--warmup-steps", "200"],
        "single": ["--model", "vitpose-demo", "--init-from", str(work / "base"), *windows,
                   "--steps", str(args.single_steps)],
        "temporal": ["--model", "tar-vitpose-demo", "--init-from", single, *windows,
                     "--steps", str(args.temporal_steps), "--lr-new", "2e-3", "--freeze-base"],
        "causal": ["--model", "tar-vitpose-demo", "--model-opt", "target=last", "--init-from", single,
                   "--data-opt", *_opts(data3), *optimiser,
                   "--steps", str(args.temporal_steps), "--lr-new", "2e-3", "--freeze-base"],
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": str(args.threads)}
    work.mkdir(parents=True, exist_ok=True)
    log = work / "times.json"
    times = json.loads(log.read_text()) if log.exists() else {}

    def train(name: str) -> list[str] | None:
        out = work / name
        if name not in stages:
            return None
        if (out / "model.safetensors").exists():
            print(f"== {name}: done already ({out})", flush=True)
            return None
        resume = ["--resume"] if (out / "checkpoint.safetensors").exists() else []
        return [sys.executable, "-m", "tarpose", "train", "--dataset", "synthetic", *runs[name], *common,
                "--out", str(out), *resume]

    def fill(options: dict, workers: int, *needed_by: str) -> list[str] | None:
        if not set(needed_by) & set(stages):
            return None
        return [sys.executable, "-c", FILL, json.dumps(options), str(workers)]

    phases = [  # what runs side by side
        {"data (stage 1)": fill(data1, 2, "base")},
        {"base": train("base"), "data (stage 2)": fill(data2, 0, "single", "temporal")},
        {"single": train("single"), "data (stage 4)": fill(data3, 0, "causal")},
        {"temporal": train("temporal"), "causal": train("causal")},
    ]
    for phase in phases:
        phase = {name: command for name, command in phase.items() if command is not None}
        if not phase:
            continue
        start, cpu = time.perf_counter(), _children_cpu()
        processes = {}
        for name, command in phase.items():
            print(f"== {name}: {' '.join(command[1:]) if command[1] != '-c' else 'rendering'}", flush=True)
            processes[name] = subprocess.Popen(command, env=env)
        failed = [name for name, p in processes.items() if p.wait() != 0]
        if failed:
            print(f"== failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        key = " + ".join(phase)
        times[key] = {"wall_s": time.perf_counter() - start, "cpu_s": _children_cpu() - cpu}
        print(f"== {key}: {times[key]['wall_s'] / 60:.1f} min wall, {times[key]['cpu_s'] / 60:.1f} min CPU",
              flush=True)
        log.write_text(json.dumps(times, indent=2) + "\n")
    target = ROOT / "tarpose" / "assets" if args.install else args.export
    if target is not None:
        for name, run in MODELS.items():
            if not (work / run / "model.safetensors").exists():
                continue
            path = export_half(work / run, target / name, name)
            print(f"wrote {path} ({(path / 'model.safetensors').stat().st_size / 1e6:.1f} MB)")
    wall = sum(t["wall_s"] for t in times.values())
    cpu = sum(t["cpu_s"] for t in times.values())
    print(f"total {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (all processes)")
    return 0


#: the stages, in order
STAGES = ("base", "single", "temporal", "causal")
#: the bundled model each stage's run becomes (``--install``)
MODELS = {"vitpose-demo": "single", "tar-vitpose-demo": "temporal", "tar-vitpose-demo-causal": "causal"}


def _opts(options: dict) -> list[str]:
    return [f"{k}={v}" for k, v in options.items()]


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (and theirs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def export_half(run: Path, directory: Path, name: str) -> Path:
    """A trained run's model saved with float16 weights (``tarpose.save_pretrained``)."""
    import torch

    import tarpose

    model = tarpose.load_model(run)
    if not all(bool(torch.isfinite(v.half().float()).all()) for v in model.state_dict().values()):
        raise ValueError(f"{run} does not fit in float16")
    return tarpose.save_pretrained(model, directory, name=name, dtype=torch.float16)


if __name__ == "__main__":
    sys.exit(main())

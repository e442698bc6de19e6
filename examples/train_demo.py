"""Reproduce the bundled demo models from scratch with ``tarpose train``.

    python examples/train_demo.py --work demo-runs             # train into demo-runs/
    python examples/train_demo.py --work demo-runs --install   # and replace tarpose/assets/

Three runs of the repository's own training entry point, on procedural videos (no download):

1. ``base``: ``vitpose-demo`` from scratch on single synthetic frames (train split).
2. ``temporal``: ``tar-vitpose-demo`` = the base wrapped in JTA/GRA, on 5-frame windows.
3. ``single``: the base trained on for exactly as many steps, on the same windows (their target
   frame), with the same batch size and the same base learning rate: the single-frame baseline
   with the same training budget as the temporal model.

Rendered crops are cached on disk (``WORK/cache``, about 3 GB) so each sample is drawn once. The
whole script takes under an hour on 2 CPU cores; ``--install`` then writes the two models as
half-precision safetensors into ``tarpose/assets/`` (what ``tarpose.demo.load_demo_models``
loads).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("demo-runs"), help="run directory")
    parser.add_argument("--install", action="store_true", help="write the models into tarpose/assets")
    parser.add_argument("--export", type=Path, help="write the models into this folder instead")
    parser.add_argument("--base-steps", type=int, default=3000)
    parser.add_argument("--base-videos", type=int, default=2000, help="16-frame videos for stage 1")
    parser.add_argument("--base-batch", type=int, default=32)
    parser.add_argument("--temporal-steps", type=int, default=1200)
    parser.add_argument("--temporal-videos", type=int, default=400, help="32-frame videos for stage 2")
    parser.add_argument("--temporal-batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="data loader processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    parser.add_argument("--corruption", type=float, default=0.3)
    args = parser.parse_args(argv)

    work = args.work
    cache = work / "cache"
    data1 = [f"split=train", "first_video=0", f"num_videos={args.base_videos}", "video_length=16",
             "num_frames=1", f"corruption={args.corruption}", f"cache={cache}"]
    data2 = [f"split=train", "first_video=500000", f"num_videos={args.temporal_videos}", "video_length=32",
             "num_frames=5", f"corruption={args.corruption}", f"cache={cache}"]
    common = ["--joint-weights", "coco", "--weight-decay", "0.05", "--workers", str(args.workers),
              "--log-every", "100", "--save-every", "500"]
    stages = {
        "base": ["--model", "vitpose-demo", "--data-opt", *data1, "--steps", str(args.base_steps),
                 "--batch-size", str(args.base_batch), "--lr", "1e-3", "--warmup-steps", "200"],
        "temporal": ["--model", "tar-vitpose-demo", "--init-from", str(work / "base"), "--data-opt", *data2,
                     "--steps", str(args.temporal_steps), "--batch-size", str(args.temporal_batch),
                     "--lr", "2e-4", "--lr-new", "1e-3", "--warmup-steps", "100"],
        "single": ["--model", "vitpose-demo", "--init-from", str(work / "base"), "--data-opt", *data2,
                   "--steps", str(args.temporal_steps), "--batch-size", str(args.temporal_batch),
                   "--lr", "2e-4", "--warmup-steps", "100"],
    }
    # one thread per process: the data workers render on the other core, and two OpenMP threads
    # fighting workers (or other jobs) for two cores run several times slower than one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": str(args.threads)}
    times = {}
    for name, options in stages.items():
        out = work / name
        if (out / "model.safetensors").exists():
            print(f"== {name}: done already ({out})", flush=True)
            continue
        resume = ["--resume"] if (out / "checkpoint.safetensors").exists() else []
        command = [sys.executable, "-m", "tarpose", "train", "--dataset", "synthetic", *options, *common,
                   "--out", str(out), *resume]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(command, check=True, env=env)
        times[name] = {"wall_s": time.perf_counter() - start, "cpu_s": _children_cpu() - cpu}
        print(f"== {name}: {times[name]['wall_s'] / 60:.1f} min wall, {times[name]['cpu_s'] / 60:.1f} min CPU",
              flush=True)
    target = ROOT / "tarpose" / "assets" if args.install else args.export
    if target is not None:
        for name, run in (("vitpose-demo", "single"), ("tar-vitpose-demo", "temporal")):
            path = export_half(work / run, target / f"{name}.safetensors")
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    (work / "times.json").write_text(json.dumps(times, indent=2) + "\n")
    wall = sum(t["wall_s"] for t in times.values())
    cpu = sum(t["cpu_s"] for t in times.values())
    print(f"total {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (all processes, data workers included)")
    return 0


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (and theirs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def export_half(run: Path, path: Path) -> Path:
    """A trained run's weights as float16 safetensors (its model config kept in the metadata)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    weights = run / "model.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        metadata = f.metadata() or {}
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(weights)).items()}
    assert all(torch.isfinite(v.float()).all() for v in tensors.values()), f"{weights}: non-finite in float16"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


if __name__ == "__main__":
    sys.exit(main())

"""CPU threads for streaming pose estimation: one thread against PyTorch's default, side by side.

Each setting runs in its own process (PyTorch's thread pool is per process), alternating, so a
change in the machine's load hits both. The loop is `tarpose predict`'s: StreamingPredictor over
synthetic frames with 3 persons each. Small models do little work per operation, so extra threads
mostly wait for each other, and on a machine that other processes keep busy a waiting thread
loses its core: that is the case `tarpose predict --threads` defaults to one thread for.

    python benchmarks/bench_threads.py                          # the demo models and ViT-S
    python benchmarks/bench_threads.py --models tar-vitpose-demo --frames 20 --rounds 3
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
sys.path.insert(0, str(ROOT))  # run from a checkout


def child(model_name: str, threads: int, frames: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from tarpose.data.synthetic import SyntheticVideo
    from tarpose.inference import StreamingPredictor, resolve_model

    torch.manual_seed(0)  # a model without pretrained weights is built the same in every process
    model = resolve_model(model_name, warn=False)
    video = SyntheticVideo(7, frames + 2, image_size=(240, 320))
    images = video.render()[0].permute(0, 2, 3, 1).numpy()
    boxes = [[20.0, 30.0, 80.0, 180.0], [120.0, 30.0, 80.0, 180.0], [220.0, 30.0, 80.0, 180.0]]
    predictor = StreamingPredictor(model)
    list(predictor.run((f, boxes, [0, 1, 2]) for f in images[:2]))  # warm-up
    start = time.perf_counter()
    out = list(predictor.run((f, boxes, [0, 1, 2]) for f in images[2:]))
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    return {"fps": len(out) / seconds, "params": params, "checksum": float(out[-1].keypoints.sum())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="vitpose-demo,tar-vitpose-demo,tar-vitpose-s",
                        help="comma-separated model names (default: the demo models and TAR ViT-S)")
    parser.add_argument("--frames", type=int, default=12, help="frames timed per run (default 12)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per setting, alternating (default 2)")
    parser.add_argument("--threads", type=int, default=0,
                        help="the many-thread setting (default: PyTorch's default, one per core)")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.frames)))
        return {}
    import torch

    many = args.threads or torch.get_num_threads()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("OMP_NUM_THREADS", None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} cores, load average {load:.1f}; {args.frames} frames x 3 persons, "
          f"{args.rounds} rounds; frames/s (best of the rounds)")
    print(f"| model | params | 1 thread | {many} threads | 1 thread / {many} |\n|---|---|---|---|---|")
    results = {}
    for name in args.models.split(","):
        best: dict[int, float] = {}
        checks = set()
        for _ in range(args.rounds):
            for threads in (1, many):
                run = subprocess.run(
                    [sys.executable, __file__, "--child", name, str(threads), "--frames", str(args.frames)],
                    capture_output=True, text=True, env=env, check=True,
                )
                row = json.loads(run.stdout.strip().splitlines()[-1])
                best[threads] = max(best.get(threads, 0.0), row["fps"])
                checks.add(round(row["checksum"], 2))
        results[name] = {"params": row["params"], "fps_1": best[1], f"fps_{many}": best[many]}
        print(f"| {name} | {row['params'] / 1e6:.1f}M | {best[1]:.2f} | {best[many]:.2f} | "
              f"{best[1] / best[many]:.2f}x |" + ("" if len(checks) == 1 else " (outputs differ!)"))
    return results


if __name__ == "__main__":
    main()

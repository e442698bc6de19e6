"""CPU threads for streaming pose estimation: every thread count, the default rule, idle and busy.

Each setting runs in its own process (PyTorch's thread pool is per process), alternating, so a
change in the machine's load hits all of them. The loop is `tarpose predict`'s: StreamingPredictor
over synthetic frames with 3 persons each. "default" is what `tarpose predict` picks when started
at that moment (`tarpose.threads.default_threads`, decided in the child, under the same load); "size
rule" is the previous default (one thread under 10M parameters, every core above), read off the
other columns.

The target: the default never more than 1.2x slower than the best thread count. The default only
chooses a thread count (a 0.2 s look at the CPUs before the model runs, outside the timed loop),
so it is judged by the count it chose: "pick / best" is the best count's frames/s over that of the
count the default picked, both from the explicit runs (the same number of rounds each); the
"default" column, the default measured in its own processes, shows the same speed within the
machine's noise (on a shared machine two runs of one setting differ by up to ~1.3x).

Loads: "idle" runs nothing besides (run it with every other process of the machine paused or
stopped, so nothing else is known to run); "busy" starts one spinning process per core first
(a pure-Python loop each, at normal priority) and stops them at the end, so every core is known to
be taken.

    python benchmarks/bench_threads.py --load idle busy --json threads.json
    python benchmarks/bench_threads.py --models vitpose-demo --frames 6 --rounds 1 --load busy   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

MODELS = "vitpose-demo,tar-vitpose-demo,vitpose-s,tar-vitpose-s"
#: the previous default: models with fewer parameters than this ran on one thread
SIZE_RULE = 10_000_000
SPIN = "while True: pass"


def child(model_name: str, threads: str, frames: int) -> dict:
    import torch

    from tarpose.threads import busy_cores, default_threads

    busy = busy_cores()  # what the default sees, measured the same way (before the model runs)
    chosen = default_threads() if threads == "default" else int(threads)
    torch.set_num_threads(chosen)
    from tarpose.data.synthetic import SyntheticVideo
    import tarpose
    from tarpose.inference import StreamingPredictor
    from tarpose.inference.source import runnable_model
    from tarpose.models.demo import DEMO_MODELS

    torch.manual_seed(0)  # a model without pretrained weights is built the same in every process
    model = runnable_model(tarpose.create_model(model_name, pretrained=model_name in DEMO_MODELS))
    video = SyntheticVideo(7, frames + 2, image_size=(240, 320))
    images = video.render()[0].permute(0, 2, 3, 1).numpy()
    boxes = [[20.0, 30.0, 80.0, 180.0], [120.0, 30.0, 80.0, 180.0], [220.0, 30.0, 80.0, 180.0]]
    predictor = StreamingPredictor(model)
    list(predictor.run((f, boxes, [0, 1, 2]) for f in images[:2]))  # warm-up
    start = time.perf_counter()
    out = list(predictor.run((f, boxes, [0, 1, 2]) for f in images[2:]))
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    return {"fps": len(out) / seconds, "params": params, "threads": chosen, "busy_cores": busy,
            "checksum": float(out[-1].keypoints.sum())}


def spinners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep one core busy until stopped."""
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        p.wait()


def measure(name: str, settings: list[str], rounds: int, frames: int, env: dict) -> dict:
    """Best frames/s of each setting over the rounds, the default's choices, and a checksum check."""
    best: dict[str, float] = {}
    chosen: list[int] = []
    busy: list[float] = []
    checks = set()
    for _ in range(rounds):
        for setting in settings:
            run = subprocess.run(
                [sys.executable, __file__, "--child", name, setting, "--frames", str(frames)],
                capture_output=True, text=True, env=env, check=True,
            )
            row = json.loads(run.stdout.strip().splitlines()[-1])
            best[setting] = max(best.get(setting, 0.0), row["fps"])
            checks.add(round(row["checksum"], 2))
            busy.append(row["busy_cores"])
            if setting == "default":
                chosen.append(row["threads"])
    return {"params": row["params"], "fps": best, "default_threads": chosen, "busy_cores_seen": busy,
            "outputs_agree": len(checks) == 1}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=MODELS, help=f"comma-separated model names (default {MODELS})")
    parser.add_argument("--frames", type=int, default=12, help="frames timed per run (default 12)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per setting, alternating (default 2)")
    parser.add_argument("--load", nargs="+", choices=("idle", "busy"), default=["idle", "busy"],
                        help="idle: nothing started besides; busy: one spinning process per core")
    parser.add_argument("--json", type=Path,
                        help="also write the results as JSON (a file of an earlier run with the same settings gets "
                             "this run's loads added)")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.frames)))
        return {}
    import torch

    from tarpose.threads import usable_cores

    cores = usable_cores()
    counts = list(range(1, min(cores, torch.get_num_threads()) + 1))
    settings = [str(n) for n in counts] + ["default"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("OMP_NUM_THREADS", None)
    results: dict = {"cores": cores, "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                     "frames": args.frames, "rounds": args.rounds, "persons": 3, "loads": {}}
    worst = 1.0
    for load in args.load:
        spin = spinners(cores) if load == "busy" else []
        try:
            time.sleep(2 if spin else 0)
            start_load = os.getloadavg()[0]
            print(f"\n{load}: {cores} cores" + (f", {cores} spinning processes" if spin else "") +
                  f", load average {start_load:.2f}; {args.frames} frames x 3 persons, best of {args.rounds} "
                  "rounds, frames/s")
            head = " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in counts)
            print(f"| model | params | {head} | size rule (threads) | default (threads) | pick / best |")
            print("|---" * (len(counts) + 5) + "|")
            rows = {}
            for name in args.models.split(","):
                row = measure(name, settings, args.rounds, args.frames, env)
                fps = row["fps"]
                size_rule = 1 if row["params"] < SIZE_RULE else counts[-1]
                row["size_rule_threads"] = size_rule
                best = max(fps[str(n)] for n in counts)
                # each count the default picked, judged by that count's explicit runs
                row["pick_over_best"] = max(best / fps[str(n)] for n in set(row["default_threads"]))
                row["best_over_size_rule"] = best / fps[str(size_rule)]
                worst = max(worst, row["pick_over_best"])
                picks = "/".join(str(t) for t in sorted(set(row["default_threads"])))
                cells = " | ".join(f"{fps[str(n)]:.2f}" for n in counts)
                print(f"| {name} | {row['params'] / 1e6:.1f}M | {cells} | {fps[str(size_rule)]:.2f} ({size_rule}) | "
                      f"{fps['default']:.2f} ({picks}) | {row['pick_over_best']:.2f}x |"
                      + ("" if row["outputs_agree"] else " (outputs differ!)"), flush=True)
                rows[name] = row
            results["loads"][load] = {"load_average_start": start_load, "load_average_end": os.getloadavg()[0],
                                      "models": rows}
        finally:
            stop(spin)
    results["worst_pick_over_best"] = worst
    print(f"\nthe default's thread count is at most {worst:.2f}x slower than the best one "
          f"({'within' if worst <= 1.2 else 'OVER'} the 1.2x target)")
    if args.json:
        args.json.write_text(json.dumps(merge(args.json, results), indent=1) + "\n")
    return results


def merge(path: Path, results: dict) -> dict:
    """``results`` with the loads of an earlier run in ``path`` that this run did not measure (same
    machine and settings: each load measured separately keeps its own quiet run short)."""
    if not path.exists():
        return results
    earlier = json.loads(path.read_text())
    same = ("cores", "machine", "torch", "frames", "rounds", "persons")
    if any(earlier.get(k) != results[k] for k in same):
        return results
    loads = {**earlier["loads"], **results["loads"]}
    worst = max(row["pick_over_best"] for block in loads.values() for row in block["models"].values())
    return {**results, "loads": loads, "worst_pick_over_best": worst}


if __name__ == "__main__":
    main()

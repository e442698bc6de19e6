"""Streaming TAR-ViTPose per frame, against single-frame ViTPose and windowed recomputation.

Three top-down pipelines on the same frames, boxes and weights, each a StreamingPredictor with the
same crops and DARK decoding, so only the model work differs:

- single-frame: ViTPose on each person crop (SingleFrameModel), the floor (1.0x);
- streaming: TAR-ViTPose (T=5, centred), each crop encoded once, windows from the feature cache;
- windowed: TAR-ViTPose recomputing all T crops of every window (mode="exact", what the reference
  code does for every output frame).

Per-frame times are medians of interleaved pushes in steady state (one output per push). Before
timing, the script checks that at initialisation (GRA gate 0) streaming and windowed give the
single-frame keypoints. Then it runs `tarpose predict` end to end on ../shared/data/vtest.avi (a
subprocess per model) and reports frames per second and peak memory (resident memory on the CPU,
PyTorch's peak allocation on CUDA).

    python benchmarks/bench_streaming.py                     # ViT-B, 256x192, 4 persons, CPU
    python benchmarks/bench_streaming.py --device cuda       # bf16 autocast
    python benchmarks/bench_streaming.py --device cuda --compile   # launch overhead removed
    python benchmarks/bench_streaming.py --small             # tiny dims, no predict run: a smoke run
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tarpose  # noqa: E402
from tarpose.inference import SingleFrameModel, StreamingPredictor  # noqa: E402

VTEST = ROOT.parent / "shared" / "data" / "vtest.avi"
BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def synthetic_stream(n: int, persons: int, size=(576, 768), seed: int = 0):
    """``n`` random uint8 frames ``(H, W, 3)`` and ``persons`` boxes drifting slowly."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, size[0] // 16, size[1] // 16, generator=g)
    frames = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    frames = (frames * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    boxes = [
        [(40.0 + 150 * k + 2 * t, 100.0 + 30 * (k % 2) + t, 60.0, 150.0) for k in range(persons)]
        for t in range(n)
    ]
    return frames, boxes


def per_frame_times(predictors: dict, frames, boxes, repeats: int, device: str) -> dict[str, float]:
    """Median seconds per pushed frame for each predictor, pushes interleaved; every predictor is
    first filled so that each timed push emits exactly one frame."""
    ids = list(range(len(boxes[0])))
    fill = max(p.window.length for p in predictors.values())  # then every window is full and complete
    index = 0
    for p in predictors.values():
        p.reset()
    for index in range(fill):
        for p in predictors.values():
            p.push(frames[index % len(frames)], boxes[index % len(boxes)], ids)
    samples: dict[str, list[float]] = {k: [] for k in predictors}
    for r in range(repeats):
        i = (fill + r) % len(frames)
        for name, p in predictors.items():
            sync(device)
            start = time.perf_counter()
            out = p.push(frames[i], boxes[i], ids)
            sync(device)
            samples[name].append(time.perf_counter() - start)
            assert len(out) == 1, (name, len(out))
    return {k: statistics.median(v) for k, v in samples.items()}


def check_equal_at_init(models: dict, frames, boxes) -> float:
    """Largest difference of every pipeline's final heatmaps from single-frame's, relative to the
    single-frame heatmaps' largest magnitude, with the gate at 0. (Heatmaps, not argmax keypoints:
    random weights give nearly flat heatmaps whose argmax low precision may flip.)"""
    ids = list(range(len(boxes[0])))
    outs = {
        name: list(StreamingPredictor(model, mode=mode, keep_heatmaps=True).run(
            (f, b, ids) for f, b in zip(frames, boxes)))
        for name, (model, mode) in models.items()
    }
    worst = 0.0
    for out in outs.values():
        for a, b in zip(out, outs["single-frame"]):
            worst = max(worst, float((a.heatmaps - b.heatmaps).abs().max() / b.heatmaps.abs().max()))
    return worst


def run_predict(model: str, device: str, frames: int, boxes: Path) -> tuple[float, float]:
    """`tarpose predict` on vtest.avi in a subprocess -> (frames per second, peak MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "tarpose", "predict", str(VTEST), "--model", model,
                   "--boxes", str(boxes), "--out", str(Path(tmp) / "k.json"), "--device", device,
                   "--max-frames", str(frames), "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    if result.returncode:
        raise SystemExit(f"tarpose predict failed:\n{result.stderr}")
    match = re.search(r"\(([\d.]+) frames/s\), peak memory (\d+) MiB", result.stderr)
    return float(match.group(1)), float(match.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", default="b", choices=["s", "b", "l", "h"], help="ViT size")
    parser.add_argument("--img", type=int, nargs=2, default=[256, 192], metavar=("H", "W"))
    parser.add_argument("--decoder", default="classic", choices=["classic", "simple"])
    parser.add_argument("--persons", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--predict-frames", type=int, default=30,
                        help="frames of vtest.avi for the end-to-end run (0: skip)")
    parser.add_argument("--boxes", default=str(BOXES), help="boxes for the end-to-end run")
    parser.add_argument("--small", action="store_true", help="tiny dims, no end-to-end run")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile every pipeline's model calls (CUDA graphs on a GPU)")
    args = parser.parse_args()

    torch.manual_seed(0)
    dev = args.device
    if args.small:
        vitpose = tarpose.ViTPose(img_size=(64, 48), embed_dim=64, depth=2, num_heads=4, deconv_channels=32)
        args.predict_frames = 0
    else:
        suffix = "-simple" if args.decoder == "simple" else ""
        vitpose = tarpose.create_model(f"vitpose-{args.size}{suffix}", img_size=tuple(args.img))
    vitpose = vitpose.to(dev).eval()
    tar = tarpose.TemporalWrapper(vitpose, num_frames=5).to(dev).eval()  # shares the backbone
    size = tuple(vitpose.config.img_size)
    amp = dev.startswith("cuda")
    print(f"device={dev} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"model=vitpose-{'tiny' if args.small else args.size} ({args.decoder} decoder) "
          f"crop={size[0]}x{size[1]} "
          f"T={tar.num_frames} persons={args.persons}" + (" (bf16 autocast)" if amp else ""))

    frames, boxes = synthetic_stream(8, args.persons)
    single = SingleFrameModel(vitpose)
    models = {"single-frame": (single, "centred"), "streaming": (tar, "centred"), "windowed": (tar, "exact")}
    worst = check_equal_at_init(models, frames[:6], [b[:2] for b in boxes[:6]])  # 2 persons
    limit = 2e-2 if amp else 1e-4
    if worst > limit:
        raise SystemExit(f"at initialisation the pipelines' heatmaps disagree by {worst:.2e} > {limit}")
    print(f"check: at initialisation streaming and windowed heatmaps equal single-frame "
          f"(max relative difference {worst:.1e})")
    predictors = {  # with --compile, every pipeline's model calls compiled alike
        name: StreamingPredictor(model, mode=mode, compile=args.compile)
        for name, (model, mode) in models.items()
    }
    with torch.no_grad():
        tar.gra.attn.out_proj.weight.normal_(0, 0.02)  # trained-looking; the cost does not depend on it

    times = per_frame_times(predictors, frames, boxes, args.repeats, dev)
    base = times["single-frame"]
    print(f"\nper frame ({args.persons} persons), median of {args.repeats} interleaved pushes:")
    print(f"{'pipeline':<14} {'ms/frame':>9} {'vs single':>10}")
    for name, seconds in times.items():
        print(f"{name:<14} {seconds * 1e3:>9.1f} {seconds / base:>9.2f}x")
    print(f"streaming / single-frame = {times['streaming'] / base:.2f}x (target <= 1.15x); "
          f"windowed / single-frame = {times['windowed'] / base:.2f}x; "
          f"windowed / streaming = {times['windowed'] / times['streaming']:.2f}x")

    if args.predict_frames:
        if not VTEST.exists():
            print(f"\n{VTEST} is absent: no end-to-end run")
            return
        print(f"\n`tarpose predict` on vtest.avi (768x576), {args.predict_frames} frames, boxes {args.boxes}:")
        print(f"{'model':<18} {'frames/s':>9} {'peak MiB':>9}")
        suffix = "-simple" if args.decoder == "simple" else ""
        for model in (f"vitpose-{args.size}{suffix}", f"tar-vitpose-{args.size}{suffix}"):
            fps, peak = run_predict(model, dev, args.predict_frames, Path(args.boxes))
            print(f"{model:<18} {fps:>9.2f} {peak:>9.0f}")


if __name__ == "__main__":
    main()

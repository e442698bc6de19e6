"""Training throughput of tarpose's loop, one AMP mode against another, in one process.

    python benchmarks/bench_train_step.py --model tar-vitpose-s --device cuda --amp off bf16

Runs `tarpose.training.train` for a few warm-up steps and then timed steps on an in-memory dataset
of random clips (so data loading costs nothing) and prints samples/s per mode and the ratio to the
first mode. ``--small`` uses a tiny model (a smoke test).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import Dataset

import tarpose
from tarpose.training import TrainConfig, train


class RandomClips(Dataset):
    def __init__(self, size: int, frames: int, joints: int, image: tuple[int, int]) -> None:
        g = torch.Generator().manual_seed(0)
        h, w = image
        self.clip = torch.randn(frames, 3, h, w, generator=g)
        self.target = torch.rand(joints, h // 4, w // 4, generator=g)
        self.size, self.frames, self.joints = size, frames, joints

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict:
        return {
            "clip": self.clip,
            "frame_valid": torch.ones(self.frames, dtype=torch.bool),
            "target": self.target,
            "target_weight": torch.ones(self.joints),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tar-vitpose-s")
    parser.add_argument("--input-size", type=int, nargs=2, default=(256, 192))
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--amp", nargs="+", default=["off", "bf16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny model and sizes (smoke test)")
    args = parser.parse_args()
    options = {"input_size": tuple(args.input_size)}
    if args.small:
        args.input_size, args.frames, args.batch_size = (64, 48), 3, 2
        tiny = {"input_size": (64, 48), "embed_dim": 32, "deconv_channels": 16}
        backbone = {"depth": 2, "num_heads": 4}
        options = {**tiny, **backbone}
        if args.model.startswith("tar-"):  # the backbone's and the JTA's settings never share a name
            options = {**options, "jta_depth": 2, "jta_heads": 4, "gra_heads": 4}
    probe = tarpose.factory.probe_model(args.model, **options)
    temporal = isinstance(probe, tarpose.TemporalWrapper)
    frames = args.frames if temporal else 1
    if temporal:
        options["num_frames"] = frames
    data = RandomClips(
        args.batch_size * (args.warmup + args.steps), frames, 17, tuple(args.input_size)
    )
    print(
        f"{args.model} {args.input_size[0]}x{args.input_size[1]}, T={frames}, batch {args.batch_size}, "
        f"device {args.device}, {args.steps} timed steps"
    )
    rates = {}
    for amp in args.amp:
        torch.manual_seed(0)
        model = tarpose.create_model(args.model, **options)
        stamps: list[float] = []

        def tick(step: int, loss: float, stamps: list[float] = stamps) -> None:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

        config = TrainConfig(
            steps=args.warmup + args.steps,
            batch_size=args.batch_size,
            amp=amp,
            log_every=10**9,
            schedule="constant",
        )
        train(model, data, config, device=args.device, on_step=tick, log=None)
        seconds = stamps[-1] - stamps[args.warmup - 1]
        rates[amp] = args.steps * args.batch_size / seconds
    first = args.amp[0]
    for amp, rate in rates.items():
        print(f"amp {amp:>4}: {rate:8.1f} samples/s  ({rate / rates[first]:.2f}x {first})")


if __name__ == "__main__":
    main()

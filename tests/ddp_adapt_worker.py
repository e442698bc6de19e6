"""Run by tests/test_adapt.py, under torchrun or alone: adapt a tiny TAR model a few steps on
synthetic footage (rank 0 caches the windows, the others wait and read them) and write this
rank's final weights to OUT/rank{RANK}.safetensors (or OUT/single.safetensors alone)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from conftest import tiny_vitpose
from safetensors.torch import save_file

import tarpose
from tarpose.data.synthetic import SyntheticVideo
from tarpose.training import AdaptConfig, Track, adapt


def run(out: str, batch_size: int, name: str) -> dict[str, torch.Tensor]:
    videos = [SyntheticVideo(seed, 8, image_size=(96, 128)) for seed in (740, 741)]
    tracks = [Track(v.render(corrupt=False)[0].permute(0, 2, 3, 1), v.boxes) for v in videos]
    config = AdaptConfig(steps=3, batch_size=batch_size, warmup_steps=0, seed=2, holdout=0.0,
                         temporal=tarpose.TARConfig(num_frames=3, jta_depth=1))
    model = adapt(tiny_vitpose(num_joints=17), tracks, Path(out) / name, config,
                  cache_dir=Path(out) / "cache", log=None)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rank = os.environ.get("RANK")
    save_file(state, str(Path(out) / (f"rank{rank}.safetensors" if rank is not None else f"{name}.safetensors")))
    return state


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), sys.argv[3])

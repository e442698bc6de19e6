"""Run by tests/test_training.py, under torchrun or alone: train a tiny TAR model a few steps and
write this rank's final weights to OUT/rank{RANK}.safetensors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from conftest import tiny_vitpose
from safetensors.torch import save_file
from toy_pose_data import ToyPoses

import tarpose
from tarpose.training import TrainConfig, train


def run(out: str, batch_size: int, steps: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = tarpose.TemporalWrapper(tiny_vitpose("simple", seed=0), num_frames=3, jta_depth=1)
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=1e-3,
        lr_new=3e-3,
        initial_loss_weight=0.5,
        clip_grad=1.0,
        seed=3,
        log_every=1,
    )
    result = train(model, ToyPoses(size=16), config, log=None)
    state = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
    rank = int(os.environ.get("RANK", "0"))  # train() left the process group it joined
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
    return state


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))

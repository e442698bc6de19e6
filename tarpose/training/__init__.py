"""Training: heatmap losses, atomic checkpoints, and one loop for one or many processes.

::

    from tarpose.training import TrainConfig, train
    result = train(model, dataset, TrainConfig(epochs=10, lr=5e-4), out="runs/tar")

Command line: ``tarpose train --help``.
"""

from .checkpoint import Checkpoint, atomic_write, load_checkpoint, save_checkpoint
from .engine import TrainConfig, TrainResult, freeze_base, lr_factor, parameter_groups, train
from .export import load_trained, save_trained
from .losses import HeatmapLoss, heatmap_mse

__all__ = [
    "Checkpoint",
    "HeatmapLoss",
    "TrainConfig",
    "TrainResult",
    "atomic_write",
    "freeze_base",
    "heatmap_mse",
    "load_checkpoint",
    "load_trained",
    "lr_factor",
    "parameter_groups",
    "save_checkpoint",
    "save_trained",
    "train",
]

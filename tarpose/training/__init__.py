"""Training: heatmap losses, atomic checkpoints, and one loop for one or many processes.

```python
from tarpose.training import TrainConfig, train
result = train(model, dataset, TrainConfig(epochs=10, lr=5e-4), out="runs/tar")
```

The run directory ends with the trained model in the format ``save_pretrained`` writes
(``tarpose.load_model(out)``). Command line: ``tarpose train --help``.

Label-free adaptation of the temporal modules to unlabelled footage (the same engine):
[adapt][tarpose.training.adaptation.run.adapt], [tarpose.training.adaptation][tarpose.training.adaptation].
"""

from .adaptation import AdaptConfig, Track, adapt
from .checkpoint import Checkpoint, atomic_write, load_checkpoint, save_checkpoint
from .engine import (
    TrainConfig,
    TrainResult,
    cached_encoding,
    freeze_base,
    loss_validator,
    lr_factor,
    parameter_groups,
    train,
)
from .export import export_trained
from .losses import HeatmapLoss, heatmap_mse
from .setup import check_sample, training_model

__all__ = [
    "AdaptConfig",
    "Checkpoint",
    "HeatmapLoss",
    "Track",
    "TrainConfig",
    "TrainResult",
    "adapt",
    "atomic_write",
    "cached_encoding",
    "check_sample",
    "export_trained",
    "freeze_base",
    "heatmap_mse",
    "load_checkpoint",
    "loss_validator",
    "lr_factor",
    "parameter_groups",
    "save_checkpoint",
    "train",
    "training_model",
]

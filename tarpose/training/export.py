"""What ``tarpose train`` leaves for inference: the one format (``save_pretrained``), which
``tarpose.load_model(run_directory)`` loads."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..atomic import atomic_output
from ..weights.formats.tarpose import model_config
from ..weights.hub import WEIGHTS_FILE, save_pretrained
from ..weights.safe_io import write_safetensors


def export_trained(directory: str | os.PathLike[str], model: nn.Module, name: str | None = None) -> Path:
    """Write a trained model for inference: ``config.json``, ``model.safetensors`` and a model
    card (``save_pretrained``), or only ``model.safetensors`` for a model ``config.json`` cannot
    describe (a wrapper over another library's ViTPose, a custom model).

    Args:
        directory: the run directory.
        model: the trained model.
        name: its registered name, recorded in ``config.json``.

    Returns:
        the weights file.
    """
    directory = Path(directory)
    try:
        model_config(model, name)
    except ValueError:
        with atomic_output(directory / WEIGHTS_FILE, durable=True, make_parent=True) as tmp:
            write_safetensors(model.state_dict(), tmp)
        return directory / WEIGHTS_FILE
    save_pretrained(model, directory, name=name)
    return directory / WEIGHTS_FILE

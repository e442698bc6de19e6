"""What ``tarpose train`` leaves for inference: the one format (``save_pretrained``).

``tarpose.load_model(run_directory)`` loads it. The functions of tarpose 0.1 that wrote and read
its own export (``{"format": "tarpose-model", ...}``) remain as deprecated aliases; files they
wrote still load through ``tarpose.load_model``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..atomic import atomic_output
from ..factory import load_model
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


def save_trained(
    directory: str | os.PathLike[str], model: nn.Module, spec: Mapping[str, Any] | None = None
) -> Path:
    """Deprecated: ``tarpose.save_pretrained(model, directory)`` (this writes that format).

    Args:
        directory: where to write.
        model: the model.
        spec: ``{"name": ...}``; the name is recorded in ``config.json``.
    """
    warnings.warn(
        "tarpose.training.save_trained is deprecated: use tarpose.save_pretrained(model, directory)",
        DeprecationWarning, stacklevel=2,
    )
    return export_trained(directory, model, None if spec is None else spec.get("name"))


def load_trained(path: str | os.PathLike[str]) -> nn.Module:
    """Deprecated: ``tarpose.load_model(path)``, which loads every model tarpose writes.

    Args:
        path: the run directory (or its ``model.safetensors``).
    """
    warnings.warn(
        "tarpose.training.load_trained is deprecated: use tarpose.load_model(path)",
        DeprecationWarning, stacklevel=2,
    )
    return load_model(path)

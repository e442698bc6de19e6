"""A trained model for inference: ``model.safetensors`` + ``config.json`` that rebuilds it.

``config.json`` is ``{"format": "tarpose-model", "name": <registered model>, "options": {...}}``:
``tarpose.create_model(name, **options)`` builds the architecture, whose state dict the weights
fill strictly. The same JSON is also in the safetensors metadata, so the file alone suffices.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..weights.formats.tarpose import with_recorded_geometry
from .checkpoint import _cpu, atomic_write

FORMAT = "tarpose-model"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def save_trained(
    directory: str | os.PathLike, model: nn.Module, spec: Mapping[str, Any] | None
) -> Path:
    """Write ``directory/model.safetensors`` (and ``config.json`` when ``spec`` is given).

    Args:
        model: the trained model.
        spec: ``{"name": ..., "options": {...}}`` for :func:`tarpose.create_model`, or None when
            the model did not come from the registry (then only the weights are written). The
            model's geometry is added to the options.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    tensors = {k: _cpu(v) for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT}
    if spec is not None:
        options = dict(spec.get("options") or {})
        geometry = getattr(model, "geometry", None)
        named = "geometry" in options or "geometry" in (options.get("vitpose") or {})
        if geometry is not None and not named:
            options["geometry"] = geometry  # the geometry the weights were trained in
        config = {"format": FORMAT, "name": spec["name"], "options": options}
        metadata["config"] = json.dumps(config)
    atomic_write(directory / WEIGHTS, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    if spec is not None:
        text = json.dumps(config, indent=2) + "\n"
        atomic_write(directory / CONFIG, lambda tmp: Path(tmp).write_text(text))
    return directory / WEIGHTS


def read_spec(path: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """The model spec and weights file of a trained model (a directory or its ``.safetensors``);
    the options name the geometry of the weights
    (:func:`~tarpose.weights.formats.tarpose.with_recorded_geometry`)."""
    from safetensors import safe_open

    path = Path(path)
    weights = path / WEIGHTS if path.is_dir() else path
    if not weights.is_file():
        raise FileNotFoundError(f"no trained model at {path} (expected {weights})")
    config_file = weights.with_name(CONFIG)
    if config_file.is_file():
        config = json.loads(config_file.read_text())
    else:
        with safe_open(str(weights), framework="pt") as f:
            text = (f.metadata() or {}).get("config")
        if text is None:
            raise ValueError(f"{weights} carries no model config and there is no {config_file}")
        config = json.loads(text)
    if config.get("format") != FORMAT or "name" not in config:
        raise ValueError(
            f"{config_file if config_file.is_file() else weights} is not a tarpose model config"
        )
    options = with_recorded_geometry(dict(config.get("options") or {}))
    return {"name": config["name"], "options": options}, weights


def load_trained(path: str | os.PathLike) -> nn.Module:
    """Rebuild a model written by ``tarpose train`` / :func:`save_trained`, in eval mode.

    Args:
        path: the run directory (or its ``model.safetensors``).
    """
    from safetensors.torch import load_file

    from ..models import create_model

    spec, weights = read_spec(path)
    model = create_model(spec["name"], **spec["options"])
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as error:
        raise ValueError(f"{weights} does not match the model {spec['name']!r}: {error}") from None
    return model.eval()

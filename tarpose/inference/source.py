"""Resolve a ``--model SOURCE`` into a temporal model the streaming predictor can run."""

from __future__ import annotations

import os
import sys
from typing import Any

from torch import nn

from ..factory import create_model, load_model
from ..models.pretrained import pretrained_cfg
from ..models.registry import list_models, unknown_name_hint
from .export import OnnxTemporalModel
from .single import SingleFrameModel


def resolve_model(source: str | os.PathLike[str] | nn.Module, *, warn: bool = True) -> Any:
    """A model the streaming predictor can run, from ``source``.

    ``source`` is a model object, the exported ONNX pair of [export_onnx][tarpose.inference.export_onnx]
    (``STEM.onnx`` / ``STEM.encode.onnx``), a registered architecture name (``tarpose models``:
    random weights, a warning says so; names with bundled weights, the demo models, load them),
    or anything ``tarpose.load_model`` loads (a checkpoint directory or file, a Hub id,
    ``tarpose train`` output). A single-frame ViTPose becomes a [SingleFrameModel][tarpose.inference.source.SingleFrameModel] (its
    own heatmaps, frame by frame, at its own cost).

    Raises ``FileNotFoundError`` (no such file, directory or cached Hub repo) or ``ValueError``
    (unreadable or mismatched checkpoint) with a one-line message.
    """
    if isinstance(source, nn.Module):
        model = source
    elif str(source).endswith(".onnx"):
        return OnnxTemporalModel(source)
    elif str(source) in list_models() and not os.path.exists(source):
        cfg = pretrained_cfg(str(source))
        if cfg is not None and os.path.exists(cfg.source):  # weights bundled in the package (demo)
            model = create_model(str(source), pretrained=True)
        else:
            model = _random(str(source), warn)
    else:
        try:
            model = load_model(source)
        except FileNotFoundError as error:
            if isinstance(source, str) and "/" not in source and not os.path.exists(source):
                # a mistyped registered name?
                raise FileNotFoundError(f"{str(error).splitlines()[0]}; {unknown_name_hint(source)}") from None
            raise
    if not hasattr(model, "aggregate_restore"):
        model = SingleFrameModel(model)
    return model.eval()


def _random(name: str, warn: bool) -> nn.Module:
    """A registered architecture with random weights (a warning says so)."""
    if warn:
        print(f"tarpose: warning: {name!r} is an architecture name: its weights are random", file=sys.stderr)
    return create_model(name)

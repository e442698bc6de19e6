"""The model a predictor runs, from what a user names (internal to ``tarpose.inference``)."""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from ..factory import load_model
from .export import OnnxTemporalModel
from .single import SingleFrameModel


def runnable_model(source: str | os.PathLike[str] | nn.Module) -> Any:
    """A model the streaming predictor can run: a model object as it is, the ONNX pair of
    [export_onnx][tarpose.inference.export_onnx] (``STEM.onnx``), or anything
    [tarpose.load_model][tarpose.load_model] loads. A single-frame ViTPose becomes a
    [SingleFrameModel][tarpose.inference.SingleFrameModel] (its own heatmaps, frame by frame).

    Raises ``FileNotFoundError`` (no such file, directory, name or cached Hub repo) or
    ``ValueError`` (an architecture without weights, an unreadable or mismatched checkpoint)
    with a one-line message.
    """
    if str(source).endswith(".onnx") and not isinstance(source, nn.Module):
        return OnnxTemporalModel(source)
    model = source if isinstance(source, nn.Module) else load_model(source)
    if not hasattr(model, "aggregate_restore"):
        model = SingleFrameModel(model)
    return model.eval()

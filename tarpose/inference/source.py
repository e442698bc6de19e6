"""Resolve a ``--model SOURCE`` into a temporal model the streaming predictor can run."""

from __future__ import annotations

import os
import sys
from typing import Any

from torch import nn


def resolve_model(source: str | os.PathLike[str] | nn.Module, *, warn: bool = True) -> Any:
    """A model the streaming predictor can run, from ``source``.

    ``source`` is a model object, the exported ONNX pair of :func:`~tarpose.inference.export_onnx`
    (``STEM.onnx`` / ``STEM.encode.onnx``), a registered architecture name (``tarpose models``:
    random weights, a warning says so), or anything :func:`tarpose.load_model` loads (a
    checkpoint directory or file, a Hub id, ``tarpose train`` output). A single-frame ViTPose
    becomes a :class:`SingleFrameModel` (its own heatmaps, frame by frame, at its own cost).

    Raises ``FileNotFoundError`` (no such file, directory or cached Hub repo) or ``ValueError``
    (unreadable or mismatched checkpoint) with a one-line message.
    """
    import tarpose

    from .single import SingleFrameModel

    if isinstance(source, nn.Module):
        model = source
    elif str(source).endswith(".onnx"):
        from .export import OnnxTemporalModel

        return OnnxTemporalModel(source)
    elif str(source) in tarpose.list_models() and not os.path.exists(source):
        if warn:
            print(f"tarpose: warning: {str(source)!r} is an architecture name: its weights are random",
                  file=sys.stderr)
        model = tarpose.create_model(str(source))
    else:
        model = tarpose.load_model(source)
    if not hasattr(model, "aggregate_restore"):
        model = SingleFrameModel(model)
    return model.eval()

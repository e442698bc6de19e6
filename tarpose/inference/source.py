"""Resolve a ``--model SOURCE`` into a temporal model the streaming predictor can run."""

from __future__ import annotations

import os
import sys
from typing import Any

from torch import nn


def resolve_model(source: str | os.PathLike[str] | nn.Module, *, warn: bool = True) -> Any:
    """A temporal model from ``source``.

    ``source`` is a model object, the exported ONNX pair of :func:`~tarpose.inference.export_onnx`
    (``STEM.onnx`` / ``STEM.encode.onnx``), or anything :func:`tarpose.load_model` loads (a
    checkpoint directory, a Hub id, a ViTPose checkpoint). Without ``tarpose.load_model``: a
    directory written by ``tarpose train`` (:func:`tarpose.training.load_trained`), or a registered
    architecture name (``tarpose models``), which builds that model with random weights (a
    warning says so). A single-frame ViTPose becomes a :class:`SingleFrameModel` (its own heatmaps,
    frame by frame).

    Raises ``ValueError`` (unknown source) or ``FileNotFoundError`` with a one-line message.
    """
    import tarpose

    from .single import SingleFrameModel

    if isinstance(source, nn.Module):
        model = source
    elif str(source).endswith(".onnx"):
        from .export import OnnxTemporalModel

        return OnnxTemporalModel(source)
    else:
        source = str(source)
        load_model = getattr(tarpose, "load_model", None)
        if load_model is not None:
            model = load_model(source)
        elif source in tarpose.list_models():
            if warn:
                print(
                    f"tarpose: warning: {source!r} is an architecture name: its weights are random",
                    file=sys.stderr,
                )
            model = tarpose.create_model(source)
        elif os.path.exists(source):  # a model written by `tarpose train` (save_trained)
            from ..training import load_trained

            model = load_trained(source)
        else:
            raise ValueError(
                f"unknown model {source!r}: not a file or directory, and not one of "
                f"{', '.join(tarpose.list_models())}"
            )
    if not hasattr(model, "aggregate_restore"):
        model = SingleFrameModel(model)
    return model.eval()

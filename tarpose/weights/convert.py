"""Official TAR-ViTPose checkpoints -> tarpose checkpoint directories.

The released weights were trained with the reference code's reshape-based token layout and
post-norm restore, so the converted [TemporalWrapper][tarpose.TemporalWrapper] uses
``token_layout="official"`` and ``restore="postnorm"``, which reproduce that computation
exactly, at the reference's 384x288 input (position embeddings stored for 256x192 and resized
bicubically, as mmpretrain does at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.options import ModelOptions
from ..models.temporal import TemporalWrapper
from .errors import CheckpointError
from .hub import save_pretrained
from .load import build_model, read_remapped


def convert_tar_checkpoint(source: str | Path, save_directory: str | Path, **overrides: Any) -> TemporalWrapper:
    """Convert an official TAR-ViTPose checkpoint and save it in tarpose's format (what
    ``tarpose convert`` does; ``tarpose.load_model`` also reads the ``.pt`` directly).

    Args:
        source: the reference code's ``.pt`` (``{"model_state_dict": ...}``).
        save_directory: where ``config.json``, ``model.safetensors`` and the model card go.
        **overrides: e.g. ``input_size=(256, 192)`` or ``num_frames=3`` where the checkpoint was
            trained differently from the reference config (384x288, 5 frames), ``num_heads=``
            for a backbone width that is not a ViTPose size; see ``tarpose.load_model``.

    Returns:
        the converted model (eval mode); load it again with ``tarpose.load_model(save_directory)``.
    """
    options = ModelOptions.route(overrides)
    remapped, described = read_remapped(source)
    if remapped.format != "tar_official":
        raise CheckpointError(f"{described} is not an official TAR-ViTPose checkpoint; load it with tarpose.load_model")
    model = build_model(remapped, options, source=described)
    assert isinstance(model, TemporalWrapper)  # the tar_official layout always has a temporal head
    save_pretrained(model, save_directory)
    return model

"""From a source to a model, step by step: the mechanics behind ``tarpose.load_model``.

:func:`read_remapped`: :func:`~.sources.resolve_source` (file, directory or Hub repo) ->
:func:`~.safe_io.read_checkpoint` (safetensors, or a pickle through
``torch.load(weights_only=True)``) -> :func:`~.formats.remap` (format detected, keys renamed).
:func:`build_model`: :func:`~.infer.infer_config` -> a model built without random initialisation
and loaded strictly (:func:`~.strict.load_state_strict`), which replaces every tensor; its
``data_config`` is the checkpoint's. A build returns a complete model in eval mode or raises.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from torch import Tensor

from ..models.init import skip_init
from ..models.temporal import TAR_FIELDS, TARConfig, TemporalWrapper, split_overrides, tar_options
from ..models.vitpose import ViTPose, ViTPoseConfig, resize_pos_embed
from ..preprocess import DataConfig
from .errors import CheckpointError
from .formats import Remapped, find_state_dict, remap
from .infer import CONFIG_FIELDS, infer_config, token_grid
from .safe_io import embedded_config, read_checkpoint
from .sources import resolve_source
from .strict import load_state_strict

#: options that apply to temporal models only (an error for a single-frame checkpoint)
TEMPORAL_OPTIONS: frozenset[str] = TAR_FIELDS | {"freeze_base"}


def read_remapped(
    source: str | Path,
    *,
    format: str | None = None,
    dataset_index: int | None = None,
    filename: str | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> tuple[Remapped, str]:
    """The checkpoint at ``source`` in tarpose's names, and how to name it in messages.

    A file in an old tarpose layout gives a ``FutureWarning`` saying how to update it.
    Arguments as for ``tarpose.load_model``.
    """
    resolved = resolve_source(
        source, filename=filename, revision=revision, cache_dir=cache_dir, token=token,
        local_files_only=local_files_only, force_download=force_download,
    )
    described = resolved.description
    state = find_state_dict(read_checkpoint(resolved.weights), source=described)
    config = resolved.config if resolved.config is not None else embedded_config(resolved.weights)
    try:
        fmt, remapped = remap(state, config, format=format, dataset_index=dataset_index)
    except CheckpointError as error:
        raise CheckpointError(f"{described}: {error}") from None
    if remapped.deprecated:
        warnings.warn(f"{described} is {remapped.deprecated}", FutureWarning, stacklevel=3)
    return remapped, f"{described} ({fmt} layout)"


def build_model(
    remapped: Remapped, overrides: dict[str, Any], *, source: str, vitpose: dict[str, Any] | None = None
) -> ViTPose | TemporalWrapper:
    """The model a remapped checkpoint holds, loaded strictly, in eval mode.

    Args:
        remapped: from :func:`read_remapped`.
        overrides: [ViTPoseConfig][tarpose.ViTPoseConfig] fields and, for a temporal checkpoint,
            [TARConfig][tarpose.TARConfig] fields.
        source: how to name the checkpoint in messages.
        vitpose: ViTPoseConfig fields of a temporal checkpoint's base.
    """
    if remapped.temporal is None:
        extra = sorted(set(overrides) - CONFIG_FIELDS)
        if extra and set(extra) <= TEMPORAL_OPTIONS:
            raise TypeError(
                f"{source} is a single-frame ViTPose; {extra} apply to temporal models: wrap "
                "it with tarpose.TemporalWrapper(model, ...)"
            )
        return build_vitpose(remapped, {**overrides, **(vitpose or {})}, source)
    return _build_temporal(remapped, overrides, vitpose or {}, source)


def build_vitpose(remapped: Remapped, overrides: dict[str, Any], source: str) -> ViTPose:
    """The (base) ViTPose of a remapped checkpoint, loaded strictly, in eval mode.

    Args:
        remapped: from :func:`read_remapped`.
        overrides: [ViTPoseConfig][tarpose.ViTPoseConfig] fields.
        source: how to name the checkpoint in messages.
    """
    config, state = _vitpose_state(remapped, overrides, source)
    with skip_init():
        model = ViTPose(config)
    load_state_strict(model, state, source=source)
    model.data_config = _data_config(remapped, config, source)
    return model.eval()


def _build_temporal(
    remapped: Remapped, overrides: dict[str, Any], vitpose: dict[str, Any], source: str
) -> TemporalWrapper:
    base, temporal_overrides = split_overrides(overrides, vitpose)
    freeze = temporal_overrides.pop("freeze_base", False)  # deprecated: TemporalWrapper says so
    try:
        temporal = TARConfig.from_dict(tar_options(remapped.temporal_config or {})).replace(**temporal_overrides)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid temporal config: {error}") from None
    config, vit_state = _vitpose_state(remapped, base, source)
    with skip_init():
        base_model = ViTPose(config)
        base_model.data_config = _data_config(remapped, config, source)
        model = TemporalWrapper(base_model, temporal, freeze_base=freeze)
    state: dict[str, Tensor] = {}
    for key, value in vit_state.items():
        head, rest = key.split(".", 1)
        state[("encoder." if head == "backbone" else "decoder.") + rest] = value
    state.update(remapped.temporal or {})
    load_state_strict(model, state, source=source)
    return model.eval()


def _vitpose_state(
    remapped: Remapped, overrides: dict[str, Any], source: str
) -> tuple[ViTPoseConfig, dict[str, Tensor]]:
    config, grid = infer_config(remapped.vitpose, remapped.config, overrides, source=source)
    state = dict(remapped.vitpose)
    target = token_grid(config.img_size, config.patch_size, config.patch_padding)
    if target != grid:  # (1, h*w, c) -> (1, h'*w', c), bicubic like mmpretrain
        state["backbone.pos_embed"] = resize_pos_embed(state["backbone.pos_embed"], grid, target)
    return config, state


def _data_config(remapped: Remapped, config: ViTPoseConfig, source: str) -> DataConfig:
    """The checkpoint's preprocessing; the crop size is the built model's (an ``img_size``
    override changes it)."""
    try:
        return DataConfig.from_dict({**(remapped.data or {}), "input_size": config.img_size})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid data config: {error}") from None


__all__ = ["TEMPORAL_OPTIONS", "build_model", "build_vitpose", "read_remapped", "skip_init"]

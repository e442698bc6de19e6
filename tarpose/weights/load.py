"""From a source to a model, step by step: the mechanics behind ``tarpose.load_model``.

[read_remapped][tarpose.weights.load.read_remapped]: ``resolve_source`` (file, directory or Hub repo) ->
``read_checkpoint`` (safetensors, or a pickle through
``torch.load(weights_only=True)``) -> ``remap`` (format detected, keys renamed).
[build_model][tarpose.weights.load.build_model]: ``infer_config`` -> a model built without random initialisation
and loaded strictly (``load_state_strict``), which replaces every tensor; its
``data_config`` is the checkpoint's. A build returns a complete model in eval mode or raises.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..hub import HubOptions
from ..models.init import skip_init
from ..models.options import ModelOptions
from ..models.temporal import TARConfig, TemporalWrapper
from ..models.vitpose import ViTPose, ViTPoseConfig, resize_pos_embed
from ..preprocess import DataConfig
from .errors import CheckpointError
from .formats import Remapped, find_state_dict, remap
from .infer import infer_config, token_grid
from .safe_io import embedded_config, read_checkpoint
from .sources import resolve_source
from .strict import check_fits, load_state_strict

def read_remapped(
    source: str | Path,
    *,
    hub: HubOptions | None = None,
    filename: str | None = None,
    format: str | None = None,
    dataset_index: int | None = None,
) -> tuple[Remapped, str]:
    """The checkpoint at ``source`` in tarpose's names, and how to name it in messages.

    Arguments as for ``tarpose.load_model``.
    """
    resolved = resolve_source(source, filename=filename, hub=hub)
    described = resolved.description
    state = find_state_dict(read_checkpoint(resolved.weights), source=described)
    embedded = embedded_config(resolved.weights)
    config = resolved.config if resolved.config is not None else embedded
    try:
        fmt, remapped = remap(state, config, format=format, dataset_index=dataset_index)
    except CheckpointError as error:
        raise CheckpointError(f"{described}: {error}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:  # a malformed config's values
        raise CheckpointError(f"{described}: malformed checkpoint config ({type(error).__name__}: {error})") from None
    if resolved.config is not None and embedded is not None:
        remapped.config_conflicts = _differences(embedded, resolved.config)
    return remapped, f"{described} ({fmt} layout)"


def check_agreement(remapped: Remapped, *, source: str) -> None:
    """Refuse weights whose own config (``save_pretrained`` embeds it) differs from the
    ``config.json`` beside them: a save killed between its renames leaves new weights beside the old
    config, and a model run with the wrong ``jta_heads`` or geometry gives wrong poses silently.

    Args:
        remapped: from [read_remapped][tarpose.weights.load.read_remapped].
        source: how to name the checkpoint in messages.

    Raises:
        CheckpointError: naming the fields that differ.
    """
    fields = remapped.config_conflicts
    if not fields:
        return
    raise CheckpointError(
        f"{source}: config.json disagrees with the config its weights carry ({', '.join(fields[:6])}"
        f"{', ...' if len(fields) > 6 else ''}): a save interrupted between its renames, or an edited "
        "config.json; save the model again (or delete config.json to use the weights' own)"
    )


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """The dotted names of the fields where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [f for key in sorted(set(a) | set(b), key=str)
                for f in _differences(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".") or "the whole config"]


def build_model(remapped: Remapped, options: ModelOptions, *, source: str) -> ViTPose | TemporalWrapper:
    """The model a remapped checkpoint holds, loaded strictly, in eval mode.

    Args:
        remapped: from [read_remapped][tarpose.weights.load.read_remapped].
        options: changes to its configs: [ViTPoseConfig][tarpose.ViTPoseConfig] fields,
            [DataConfig][tarpose.DataConfig] fields (``geometry``, ``mean``, ``std``: they replace
            the checkpoint's) and, for a temporal checkpoint, [TARConfig][tarpose.TARConfig] fields.
        source: how to name the checkpoint in messages.
    """
    if remapped.temporal is None:
        if options.temporal:
            raise TypeError(
                f"{source} is a single-frame ViTPose; {sorted(options.temporal)} apply to temporal "
                "models: wrap it with tarpose.TemporalWrapper(model, ...)"
            )
        return build_vitpose(remapped, options, source)
    return _build_temporal(remapped, options, source)


def build_vitpose(remapped: Remapped, options: ModelOptions, source: str) -> ViTPose:
    """The (base) ViTPose of a remapped checkpoint, loaded strictly, in eval mode.

    Args:
        remapped: from [read_remapped][tarpose.weights.load.read_remapped].
        options: [ViTPoseConfig][tarpose.ViTPoseConfig] and [DataConfig][tarpose.DataConfig]
            fields (``options.temporal`` is not read).
        source: how to name the checkpoint in messages.
    """
    config, state = _vitpose_state(remapped, options.vitpose, source)
    check_size(config, None, state, source=source)
    data = _data_config(remapped, config, source, options.data)
    check_agreement(remapped, source=source)
    with skip_init():
        model = ViTPose(config)
    load_state_strict(model, state, source=source)
    model.data_config = data
    return model.eval()


def _build_temporal(remapped: Remapped, options: ModelOptions, source: str) -> TemporalWrapper:
    try:
        temporal = TARConfig.from_dict(remapped.temporal_config or {})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid temporal config: {error}") from None
    temporal = temporal.replace(**options.temporal)
    config, vit_state = _vitpose_state(remapped, options.vitpose, source)
    state: dict[str, Tensor] = {}
    for key, value in vit_state.items():
        head, rest = key.split(".", 1)
        state[("encoder." if head == "backbone" else "decoder.") + rest] = value
    state.update(remapped.temporal or {})
    check_size(config, temporal, state, source=source)
    data = _data_config(remapped, config, source, options.data)
    check_agreement(remapped, source=source)
    with skip_init():
        base_model = ViTPose(config)
        base_model.data_config = data
        model = TemporalWrapper(base_model, temporal)
    load_state_strict(model, state, source=source)
    return model.eval()


def _vitpose_state(
    remapped: Remapped, overrides: dict[str, Any], source: str
) -> tuple[ViTPoseConfig, dict[str, Tensor]]:
    config, grid = infer_config(remapped.vitpose, remapped.config, overrides, source=source)
    state = dict(remapped.vitpose)
    target = token_grid(config.input_size, config.patch_size, config.patch_padding)
    if target != grid and "input_size" not in overrides:  # the checkpoint's own input_size: checked
        stored = sum(v.numel() for v in [*state.values(), *(remapped.temporal or {}).values()])
        if remapped.format == "tarpose" or math.prod(target) * config.embed_dim > stored:
            raise CheckpointError(
                f"{source}: its config says input_size={config.input_size} (a {target[0]}x{target[1]} "
                f"token grid) but its position embeddings are for a {grid[0]}x{grid[1]} grid; pass "
                "input_size= to resize them"
            )
    if target != grid:  # (1, h*w, c) -> (1, h'*w', c), bicubic like mmpretrain
        state["backbone.pos_embed"] = resize_pos_embed(state["backbone.pos_embed"], grid, target)
    return config, state


#: the one tensor whose size the caller may change (``input_size=`` resizes it)
_RESIZABLE = ("backbone.pos_embed", "encoder.pos_embed")


def check_size(
    config: ViTPoseConfig, temporal: TARConfig | None, state: dict[str, Tensor], *, source: str
) -> None:
    """Refuse a config that implies more values than the checkpoint holds, before the model is
    built (a ``config.json`` saying ``depth: 1000000`` must not allocate a million blocks first).

    The count is exact and costs nothing: the parameter count is linear in ``depth`` and
    ``jta_depth``, so models of one and two layers built on the ``meta`` device give it. When the
    layer counts are not the problem (so a model of that many layers is no larger than the file),
    the model is built on the ``meta`` device and the mismatching keys are named.

    Args:
        config: the ViTPose to build.
        temporal: the temporal part, for a [TemporalWrapper][tarpose.TemporalWrapper].
        state: the tensors to load into it, in its names (position embeddings are not counted:
            ``input_size=`` resizes them).
        source: how to name the checkpoint in messages.

    Raises:
        CheckpointError: the config implies more values than ``state`` holds.
    """
    stored = sum(v.numel() for k, v in state.items() if k not in _RESIZABLE)
    try:  # the modules check what no one field shows (a width that the heads do not divide)
        one = _count(config, temporal, 1, 1)
        per_block = _count(config, temporal, 2, 1) - one
        per_layer = _count(config, temporal, 1, 2) - one if temporal is not None else 0
    except (ValueError, TypeError) as error:
        heads = f"num_heads={config.num_heads}" + (
            f", jta_heads={temporal.jta_heads}, gra_heads={temporal.gra_heads}" if temporal is not None else "")
        raise CheckpointError(f"{source}: its config does not make a model ({heads}): {error}") from None
    jta_depth = temporal.jta_depth if temporal is not None else 1
    implied = one + (config.depth - 1) * per_block + (jta_depth - 1) * per_layer
    if implied <= stored:
        return
    if (config.depth - 1) * per_block <= stored and (jta_depth - 1) * per_layer <= stored:
        with warnings.catch_warnings(), skip_init(), torch.device("meta"):  # no larger than the file
            warnings.simplefilter("ignore", DeprecationWarning)
            model: ViTPose | TemporalWrapper = ViTPose(config)
            if temporal is not None:
                model = TemporalWrapper(model, temporal)
        check_fits(model, state, source=source)  # names the keys
    layers = f"depth={config.depth}" + (f", jta_depth={temporal.jta_depth}" if temporal else "")
    raise CheckpointError(
        f"{source}: its config ({layers}, embed_dim={config.embed_dim}) implies {implied:,} "
        f"values but the weights hold {stored:,}: the config does not describe these weights"
    )


def _count(config: ViTPoseConfig, temporal: TARConfig | None, depth: int, jta_depth: int) -> int:
    """Values in the state dict of the model with ``depth`` and ``jta_depth`` layers (built on the
    ``meta`` device: nothing is allocated), position embeddings excepted."""
    with warnings.catch_warnings(), skip_init(), torch.device("meta"):
        warnings.simplefilter("ignore", DeprecationWarning)
        model: ViTPose | TemporalWrapper = ViTPose(dataclasses.replace(config, depth=depth))
        if temporal is not None:
            model = TemporalWrapper(model, temporal.replace(jta_depth=jta_depth))
    return sum(v.numel() for k, v in model.state_dict().items() if k not in _RESIZABLE)


def _data_config(
    remapped: Remapped, config: ViTPoseConfig, source: str, overrides: dict[str, Any]
) -> DataConfig:
    """The checkpoint's preprocessing (with its geometry, `tarpose.weights.formats.remap`), the fields
    the caller names replacing its own; the crop size is the built model's (an ``input_size``
    override changes it)."""
    try:
        return DataConfig.from_dict({**(remapped.data or {}), **overrides, "input_size": config.input_size})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid data config: {error}") from None


__all__ = ["build_model", "build_vitpose", "check_agreement", "check_size", "read_remapped", "skip_init"]

"""``load_vitpose`` and ``load_model``: any supported checkpoint -> a tarpose model.

The path of every load: :func:`~.sources.resolve_source` (file, directory or Hub repo) ->
:func:`~.safe_io.read_checkpoint` (safetensors, or a pickle through
``torch.load(weights_only=True)``) -> :func:`~.formats.remap` (format detected, keys renamed)
-> :func:`~.infer.infer_config` -> a model built without random initialisation and loaded
strictly (:func:`~.strict.load_state_strict`), which replaces every tensor. A load returns a
complete model in eval mode or raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..models.registry import split_overrides, temporal_fields
from ..models.vitpose import ViTPose, ViTPoseConfig, resize_pos_embed
from ..wrapper import TemporalWrapper
from .errors import CheckpointError
from .formats import Remapped, find_state_dict, remap
from .infer import CONFIG_FIELDS, infer_config, token_grid
from .safe_io import embedded_config, read_checkpoint
from .sources import resolve_source
from .strict import load_state_strict

TEMPORAL_FIELDS: frozenset[str] = temporal_fields()


def load_vitpose(
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
    **overrides: Any,
) -> ViTPose:
    """Load any ViTPose checkpoint as a built-in :class:`~tarpose.ViTPose` (eval mode).

    Args:
        source: a Hub repo id (``"usyd-community/vitpose-base-simple"``), a local directory
            (``config.json`` + ``model.safetensors``, as ``save_pretrained`` writes) or a file
            (``.safetensors``, ``.pth``, ``.pt``, ``.bin``). The layout is detected: tarpose,
            Hugging Face transformers, official ViTPose / ViTPose+, easy_ViTPose, mmpose 1.x;
            of a temporal checkpoint (tarpose's or an official TAR-ViTPose one) the
            single-frame part (encoder + decoder) is returned.
        format: force a layout instead of detecting it (one of
            :data:`tarpose.weights.formats.FORMATS`).
        dataset_index: ViTPose+ dataset (0 COCO, 1 AIC, 2 MPII, 3 AP-10K, 4 APT-36K,
            5 COCO-WholeBody): its expert is merged into ``fc2`` and, in official files, its
            head is used. Default: COCO.
        filename: the weights file inside a directory or Hub repo.
        revision: Hub branch, tag or commit.
        cache_dir: Hub cache directory.
        token: Hub token, for private repos.
        local_files_only: never download; use the local Hub cache only.
        force_download: download again even when cached.
        **overrides: :class:`~tarpose.ViTPoseConfig` fields. ``img_size=(H, W)`` different from
            the checkpoint's resizes the position embeddings bicubically (as mmpretrain does);
            fields the weights fix (``embed_dim``, ``depth``...) must agree with them.

    Raises:
        FileNotFoundError: missing file, or Hub repo not found / not cached when offline.
        CheckpointError: unreadable, refused (unsafe pickle), unknown layout, or weights that do
            not fit the architecture; the message names the keys.
    """
    remapped, described = _read(source, format, dataset_index, filename, revision, cache_dir,
                                token, local_files_only, force_download)
    return _build_vitpose(remapped, overrides, described)


def load_model(
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
    vitpose: dict[str, Any] | None = None,
    **overrides: Any,
) -> ViTPose | TemporalWrapper:
    """Load whatever a checkpoint holds (eval mode): a temporal model or a single-frame one.

    - a tarpose temporal checkpoint (a ``TemporalWrapper.save_pretrained`` directory or Hub
      repo) or an official TAR-ViTPose ``.pt`` -> :class:`~tarpose.TemporalWrapper` over a
      built-in ViTPose (the official one with ``token_layout="official"``, ``restore="postnorm"``,
      384x288 input);
    - any single-frame ViTPose checkpoint (see :func:`load_vitpose`) -> :class:`~tarpose.ViTPose`.

    ``tarpose predict --model SOURCE`` loads its model with this. Check which one you got with
    ``isinstance(model, tarpose.TemporalWrapper)``; the input crop size is
    ``model.config.img_size`` for a ViTPose and ``model.base_config.img_size`` for a
    TemporalWrapper, and every supported checkpoint expects RGB crops normalised with ImageNet
    mean/std.

    Arguments as for :func:`load_vitpose`. For a temporal checkpoint, ``overrides`` may also
    hold :class:`~tarpose.TemporalWrapper` arguments (``num_frames``, ``attention``...); the
    names both take (``depth``, ``num_heads``, ``mlp_ratio``, ``num_joints``) go to the
    TemporalWrapper there, and ``vitpose={...}`` sets them for its ViTPose (e.g. the heads of a
    backbone width that is not a ViTPose size).
    """
    remapped, described = _read(source, format, dataset_index, filename, revision, cache_dir,
                                token, local_files_only, force_download)
    return build_model(remapped, overrides, source=described, vitpose=vitpose)


def build_model(
    remapped: Remapped, overrides: dict[str, Any], *, source: str, vitpose: dict[str, Any] | None = None
) -> ViTPose | TemporalWrapper:
    """The model a remapped checkpoint holds (see :func:`load_model`), loaded strictly."""
    if remapped.temporal is None:
        extra = sorted(set(overrides) - CONFIG_FIELDS)
        if extra and set(extra) <= TEMPORAL_FIELDS:
            raise TypeError(
                f"{source} is a single-frame ViTPose; {extra} apply to temporal models: wrap "
                "it with tarpose.TemporalWrapper(model, ...)"
            )
        return _build_vitpose(remapped, {**overrides, **(vitpose or {})}, source)
    return _build_temporal(remapped, overrides, vitpose or {}, source)


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
    """The checkpoint at ``source`` in tarpose's names, and how to name it in messages."""
    return _read(source, format, dataset_index, filename, revision, cache_dir, token,
                 local_files_only, force_download)


def _read(
    source: str | Path, format: str | None, dataset_index: int | None, filename: str | None,
    revision: str | None, cache_dir: str | Path | None, token: str | bool | None,
    local_files_only: bool, force_download: bool,
) -> tuple[Remapped, str]:
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
    return remapped, f"{described} ({fmt} layout)"


def _vitpose_state(
    remapped: Remapped, overrides: dict[str, Any], described: str
) -> tuple[ViTPoseConfig, dict[str, Tensor]]:
    config, grid = infer_config(remapped.vitpose, remapped.config, overrides, source=described)
    state = dict(remapped.vitpose)
    target = token_grid(config.img_size, config.patch_size, config.patch_padding)
    if target != grid:  # (1, h*w, c) -> (1, h'*w', c), bicubic like mmpretrain
        state["backbone.pos_embed"] = resize_pos_embed(state["backbone.pos_embed"], grid, target)
    return config, state


def _build_vitpose(remapped: Remapped, overrides: dict[str, Any], described: str) -> ViTPose:
    config, state = _vitpose_state(remapped, overrides, described)
    with skip_init():
        model = ViTPose(config)
    load_state_strict(model, state, source=described)
    return model.eval()


def _build_temporal(
    remapped: Remapped, overrides: dict[str, Any], vitpose: dict[str, Any], described: str
) -> TemporalWrapper:
    base, temporal_overrides = split_overrides(overrides, vitpose)
    temporal = {**(remapped.temporal_config or {}), **temporal_overrides}
    config, vit_state = _vitpose_state(remapped, base, described)
    with skip_init():
        model = TemporalWrapper(ViTPose(config), **temporal)
    state: dict[str, Tensor] = {}
    for key, value in vit_state.items():
        head, rest = key.split(".", 1)
        state[("encoder." if head == "backbone" else "decoder.") + rest] = value
    state.update(remapped.temporal or {})
    load_state_strict(model, state, source=described)
    return model.eval()


@contextmanager
def skip_init() -> Iterator[None]:
    """Build modules without running ``torch.nn.init``'s random initialisers (as transformers'
    ``no_init_weights`` does): every tensor is replaced by the checkpoint's right after, and
    initialising a ViT-H only to overwrite it costs seconds."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for name in names:
            setattr(nn.init, name, _keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def _keep(tensor: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return tensor

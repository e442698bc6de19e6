"""Names and sources to models: ``create_model`` and ``load_model``, the one loader.

- [create_model][tarpose.factory.create_model] builds a registered name (``tarpose models`` lists them), optionally with
  the pretrained weights of the registry's table;
- [load_model][tarpose.factory.load_model] loads anything tarpose wrote (``save_pretrained``, ``tarpose train``, the
  bundled demo models, files of tarpose 0.1) and every ViTPose checkpoint layout it reads;
  [load_vitpose][tarpose.factory.load_vitpose] is the same for the single-frame part;
- [wrap][tarpose.factory.wrap] puts a single-frame model inside a registered temporal name's JTA/GRA (the
  ``tar-X`` of a trained ``X``).

This module sits above ``tarpose.weights`` (reading, remapping, writing) and ``tarpose.models``
(the classes and the name table); it also gives the model classes their Hub methods
(``save_pretrained``, ``push_to_hub``, ``from_pretrained``, see [tarpose.models.hub][tarpose.models.hub]).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models.hub import register_hub_io
from .models.init import skip_init
from .models.pretrained import pretrained_cfg
from .models.registry import list_models, model_entrypoint
from .models.temporal import TemporalWrapper, split_overrides
from .models.vitpose import ViTPose
from .preprocess import split_data_options
from .weights.errors import CheckpointError, key_list
from .weights.hub import push_to_hub, save_pretrained
from .weights.load import build_model, build_vitpose, read_remapped


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
    """Load whatever a checkpoint holds (eval mode, strictly): a temporal model or a single-frame one.

    - anything tarpose writes (a ``save_pretrained`` directory or Hub repo, a ``tarpose train``
      run directory, the bundled demo models) and an official TAR-ViTPose ``.pt`` ->
      [TemporalWrapper][tarpose.TemporalWrapper] or [ViTPose][tarpose.ViTPose], as saved (the
      official one with ``token_layout="official"``, ``restore="postnorm"``, 384x288 input);
    - any single-frame ViTPose checkpoint (see [load_vitpose][tarpose.factory.load_vitpose]) -> ViTPose.

    Files written by tarpose 0.1 (its ``save_pretrained`` and ``tarpose train`` layouts) load
    with a ``FutureWarning``: re-save them with ``tarpose.save_pretrained``. ``model.data_config``
    says how to make the crops (input size, normalisation): see
    [resolve_data_config][tarpose.resolve_data_config].

    Args:
        source: a Hub repo id (``"usyd-community/vitpose-base-simple"``), a local directory
            (``config.json`` + ``model.safetensors``) or a file (``.safetensors``, ``.pth``,
            ``.pt``, ``.bin``).
        format: force a layout instead of detecting it (one of
            ``tarpose.weights.formats.FORMATS``).
        dataset_index: ViTPose+ dataset (0 COCO, 1 AIC, 2 MPII, 3 AP-10K, 4 APT-36K,
            5 COCO-WholeBody): its expert is merged into ``fc2`` and, in official files, its
            head is used. Default: COCO.
        filename: the weights file inside a directory or Hub repo.
        revision: Hub branch, tag or commit.
        cache_dir: Hub cache directory.
        token: Hub token, for private repos.
        local_files_only: never download; use the local Hub cache only.
        force_download: download again even when cached.
        vitpose: [ViTPoseConfig][tarpose.ViTPoseConfig] fields of a temporal checkpoint's base
            (e.g. the heads of a backbone width that is not a ViTPose size).
        **overrides: ViTPoseConfig fields (``img_size=(H, W)`` different from the checkpoint's
            resizes the position embeddings bicubically, as mmpretrain does; fields the weights
            fix, such as ``embed_dim``, must agree with them), [DataConfig][tarpose.DataConfig]
            fields (``geometry="udp"`` replaces the one the loader takes from the checkpoint's
            source, see [tarpose.geometry][tarpose.geometry]) and, for a temporal checkpoint,
            [TARConfig][tarpose.TARConfig] fields (``num_frames``, ``attention``...).

    Raises:
        FileNotFoundError: missing file, or Hub repo not found / not cached when offline.
        CheckpointError: unreadable, refused (unsafe pickle), unknown layout, or weights that do
            not fit the architecture; the message names the keys.
    """
    remapped, described = read_remapped(
        source, format=format, dataset_index=dataset_index, filename=filename, revision=revision,
        cache_dir=cache_dir, token=token, local_files_only=local_files_only,
        force_download=force_download,
    )
    return build_model(remapped, overrides, source=described, vitpose=vitpose)


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
    """Load any ViTPose checkpoint as a built-in [ViTPose][tarpose.ViTPose] (eval mode, strictly).

    The layout is detected: tarpose, Hugging Face transformers, official ViTPose / ViTPose+,
    easy_ViTPose, mmpose 1.x; of a temporal checkpoint (tarpose's or an official TAR-ViTPose
    one) the single-frame part (encoder + decoder) is returned. Arguments as for
    [load_model][tarpose.factory.load_model].

    Args:
        source: Hub repo id, directory or file.
        format: force a layout instead of detecting it.
        dataset_index: ViTPose+ dataset whose expert is merged (0 = COCO).
        filename: the weights file inside a directory or Hub repo.
        revision: Hub branch, tag or commit.
        cache_dir: Hub cache directory.
        token: Hub token, for private repos.
        local_files_only: never download; use the local Hub cache only.
        force_download: download again even when cached.
        **overrides: [ViTPoseConfig][tarpose.ViTPoseConfig] fields and
            [DataConfig][tarpose.DataConfig] fields (``geometry``...).

    Raises:
        FileNotFoundError: missing file, or Hub repo not found / not cached when offline.
        CheckpointError: unreadable, refused, unknown layout, or weights that do not fit.
    """
    remapped, described = read_remapped(
        source, format=format, dataset_index=dataset_index, filename=filename, revision=revision,
        cache_dir=cache_dir, token=token, local_files_only=local_files_only,
        force_download=force_download,
    )
    return build_vitpose(remapped, overrides, described)


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model; keyword overrides go to its config.

    ``create_model("vitpose-b", img_size=(384, 288))``; for a temporal (``tar-``) name,
    [TARConfig][tarpose.TARConfig] fields go to the temporal part and
    [ViTPoseConfig][tarpose.ViTPoseConfig] fields to the base:
    ``create_model("tar-vitpose-b", num_frames=3, jta_depth=4, img_size=(384, 288))``
    (``vitpose={...}`` names base fields explicitly). [DataConfig][tarpose.DataConfig] fields
    (``geometry="biased"``, ``mean``, ``std``) go to ``model.data_config``.

    With ``pretrained=True`` the weights of the name's entry in the pretrained table are loaded
    (through the Hugging Face Hub for a repo id, so its cache and ``HF_HUB_OFFLINE`` apply) and
    checked against the registered architecture; ``model.pretrained_cfg`` says where they come
    from and ``model.data_config`` how to feed them. A temporal name whose weights are a
    single-frame ViTPose gets it inside fresh JTA/GRA modules ([wrap][tarpose.factory.wrap]).

    Args:
        name: a registered name (``tarpose.list_models()``).
        pretrained: load the registered pretrained weights.
        **overrides: config fields.

    Raises:
        ValueError: an unknown name, or no pretrained weights registered for it.
        CheckpointError: pretrained weights that do not fit the registered architecture.
    """
    entry = model_entrypoint(name)
    data_options, overrides = split_data_options(overrides)
    if not pretrained:
        return with_data_options(entry(**overrides), data_options)
    cfg = pretrained_cfg(name)
    if cfg is None:
        raise ValueError(
            f"no pretrained weights registered for {name!r}; models with weights: "
            f"{', '.join(list_models(pretrained=True))}"
        )
    expected = probe_model(name, **overrides)
    remapped, source = read_remapped(cfg.source, revision=cfg.revision, dataset_index=cfg.dataset_index)
    options = dict(overrides)
    vitpose = options.pop("vitpose", None)
    if isinstance(expected, TemporalWrapper) and remapped.temporal is None:
        base, temporal = split_overrides(options, vitpose)
        single = build_vitpose(remapped, base, source)
        single.data_config = _registered_data(cfg, single.data_config, data_options)
        model: nn.Module = wrap(name, single, **temporal)
    else:
        model = build_model(remapped, options, source=source, vitpose=vitpose)
        model.data_config = _registered_data(cfg, model.data_config, data_options)
    want = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if want != got:
        differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise CheckpointError(
            f"the pretrained weights of {name!r} ({cfg.source}) do not match its registered "
            f"architecture: {key_list(differ)}"
        )
    model.pretrained_cfg = cfg
    return model


def _registered_data(cfg: Any, loaded: Any, options: dict[str, Any]) -> Any:
    """The DataConfig of registered pretrained weights: the table's (``cfg``), the geometry the
    loader took from the weights' source unless the table names one, the caller's ``options``
    over both; the crop size is the built model's."""
    recorded = {"geometry": loaded.geometry, **cfg.data, **options}
    return cfg.data_config().replace(**recorded, input_size=loaded.input_size)


def with_data_options(model: nn.Module, options: dict[str, Any]) -> nn.Module:
    """``model`` with [DataConfig][tarpose.DataConfig] fields replaced in its ``data_config``.

    Args:
        model: a tarpose model.
        options: DataConfig fields (``geometry``, ``mean``, ``std``).

    Raises:
        TypeError: options for a model without a ``data_config``.
    """
    if options:
        if getattr(model, "data_config", None) is None:
            raise TypeError(f"{sorted(options)} set a data config; a {type(model).__name__} has none")
        model.data_config = model.data_config.replace(**options)
    return model


def wrap(name: str, model: nn.Module, **overrides: Any) -> TemporalWrapper:
    """A trained single-frame ``model`` inside the temporal part registered as ``name``: the
    ``tar-X`` of a trained ``X``, with fresh JTA/GRA modules (which, with the default restoring
    step, return exactly ``model``'s heatmaps until trained).

    Args:
        name: a registered temporal name, e.g. ``"tar-vitpose-s"``; its
            [TARConfig][tarpose.TARConfig] is used.
        model: the single-frame model (its modules are shared, not copied).
        **overrides: TARConfig fields changed from the registered ones, and
            [DataConfig][tarpose.DataConfig] fields (``geometry``...) replacing ``model``'s.

    Raises:
        ValueError: ``name`` is not a temporal model, or ``overrides`` name base-model fields.
    """
    data_options, overrides = split_data_options(overrides)
    base, temporal = split_overrides(overrides)
    if base:
        raise ValueError(
            f"{sorted(base)} would change the architecture of the model being wrapped; only "
            "TARConfig and DataConfig fields apply"
        )
    freeze = temporal.pop("freeze_base", False)  # deprecated: TemporalWrapper says so
    expected = probe_model(name, **temporal)
    if not isinstance(expected, TemporalWrapper):
        raise ValueError(f"{name!r} is not a temporal model: it cannot wrap another model")
    wrapper = TemporalWrapper(model, expected.config, freeze_base=freeze).train(model.training)
    return with_data_options(wrapper, data_options)


def probe_model(name: str, **overrides: Any) -> nn.Module:
    """The registered architecture on the ``meta`` device: its configs and shapes, without memory
    or initialisation (sizes, checks; ``create_model`` builds the real one).

    Args:
        name: a registered name.
        **overrides: as for [create_model][tarpose.factory.create_model].
    """
    data_options, overrides = split_data_options(overrides)
    with warnings.catch_warnings(), skip_init(), torch.device("meta"):
        warnings.simplefilter("ignore", DeprecationWarning)  # the real build warns once
        return with_data_options(model_entrypoint(name)(**overrides), data_options)


def _from_pretrained(cls: type, source: str | Path, *, map_location: str = "cpu", **kwargs: Any) -> nn.Module:
    """``cls.from_pretrained(source)``: [load_vitpose][tarpose.factory.load_vitpose] for a ViTPose, else
    [load_model][tarpose.factory.load_model] checked to give a ``cls``."""
    if issubclass(cls, ViTPose):
        model: nn.Module = load_vitpose(source, **kwargs)
    else:
        model = load_model(source, **kwargs)
    if not isinstance(model, cls):
        raise CheckpointError(
            f"{source} holds a {type(model).__name__}, not a {cls.__name__}; load it with "
            "tarpose.load_model (or wrap a single-frame model: "
            "TemporalWrapper(tarpose.load_vitpose(...)))"
        )
    return model.to(map_location)


register_hub_io(save=save_pretrained, push=push_to_hub, load=_from_pretrained)

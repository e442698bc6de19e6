"""Names and sources to models: one verb to build, one verb to load.

- [create_model][tarpose.factory.create_model] builds a registered architecture (``tarpose models``
  lists them) with random weights, or with the registry's pretrained weights
  (``pretrained=True``), as timm does;
- [load_model][tarpose.factory.load_model] loads trained weights from whatever a user has: a
  registered name with weights, a directory, a file of any supported format, a Hub repo id;
- [wrap][tarpose.factory.wrap] puts a single-frame model inside a registered temporal name's
  JTA/GRA (the ``tar-X`` of a trained ``X``).

Keyword options are routed once, here, into the three configs
([ModelOptions][tarpose.models.options.ModelOptions]); the Hub keywords become one
[HubOptions][tarpose.hub.HubOptions]. This module sits above ``tarpose.weights`` (reading,
remapping, writing) and ``tarpose.models`` (the classes and the name tables).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .hub import HubOptions
from .models.init import skip_init
from .models.options import ModelOptions
from .models.pretrained import PretrainedCfg, pretrained_cfg
from .models.registry import MODELS, list_models, model_entrypoint
from .models.temporal import TemporalWrapper
from .models.vitpose import ViTPose
from .weights.errors import CheckpointError, key_list
from .weights.load import build_model, build_vitpose, read_remapped


def load_model(
    source: str | os.PathLike[str],
    *,
    filename: str | None = None,
    format: str | None = None,
    dataset_index: int | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
    **overrides: Any,
) -> ViTPose | TemporalWrapper:
    """Load a model with trained weights, strictly, in eval mode, from whatever holds them.

    ``source`` may be:

    - a registered name with weights (``tarpose models --pretrained``): the bundled demo models
      (``"tar-vitpose-demo"``), the public ViTPose weights on the Hub (``"vitpose-b"``), whose
      ``tar-`` names wrap them in fresh JTA/GRA modules;
    - a directory or Hub repo that ``tarpose.save_pretrained`` or ``tarpose train`` wrote (a
      [TemporalWrapper][tarpose.TemporalWrapper] or a [ViTPose][tarpose.ViTPose], as saved);
    - any ViTPose checkpoint, file, directory or Hub repo: Hugging Face transformers
      (``"usyd-community/vitpose-base-simple"``), official ViTPose / ViTPose+, easy_ViTPose,
      mmpose 1.x (a [ViTPose][tarpose.ViTPose], whose heatmaps equal the source library's), and
      an official TAR-ViTPose ``.pt`` (with ``token_layout="official"``, ``restore="postnorm"``,
      384x288 input).

    ``model.data_config`` says how to make the crops (input size, normalisation, geometry): see
    [resolve_data_config][tarpose.resolve_data_config]. An existing path wins over a registered
    name of the same spelling.

    Args:
        source: a registered name, a directory, a file (``.safetensors``, ``.pth``, ``.pt``,
            ``.bin``) or a Hub repo id.
        filename: the weights file inside a directory or Hub repo.
        format: force a layout instead of detecting it (a name of
            ``tarpose.weights.formats.FORMATS``).
        dataset_index: ViTPose+ dataset (0 COCO, 1 AIC, 2 MPII, 3 AP-10K, 4 APT-36K,
            5 COCO-WholeBody): its expert is merged into ``fc2`` and, in official files, its
            head is used. Default: COCO.
        revision: Hub branch, tag or commit.
        cache_dir: Hub cache directory.
        token: Hub token, for private repos.
        local_files_only: never download; use the local Hub cache only.
        force_download: download again even when cached.
        **overrides: ViTPoseConfig fields (``input_size=(H, W)`` other than the checkpoint's
            resizes the position embeddings bicubically, as mmpretrain does; fields the weights
            fix, such as ``embed_dim``, must agree with them), [DataConfig][tarpose.DataConfig]
            fields (``geometry="udp"`` replaces the one the loader takes from the checkpoint's
            source, see [tarpose.geometry][tarpose.geometry]) and, for a temporal model,
            [TARConfig][tarpose.TARConfig] fields (``num_frames``, ``attention``...).

    Raises:
        FileNotFoundError: no such file, directory or Hub repo (or not cached when offline); a
            mistyped registered name gets the closest names.
        ValueError: a registered architecture without pretrained weights (build it with
            [create_model][tarpose.factory.create_model]).
        CheckpointError: unreadable, refused (unsafe pickle), unknown layout, or weights that do
            not fit the architecture; the message names the keys.
    """
    hub = HubOptions(revision, cache_dir, token, local_files_only, force_download)
    options = ModelOptions.route(overrides)
    if isinstance(source, str) and source in MODELS and not Path(source).exists():
        if filename is not None or format is not None or dataset_index is not None:
            raise ValueError(
                f"{source!r} is a registered name: its weights' file, format and dataset are in the "
                "registry (filename=, format= and dataset_index= apply to a file, directory or repo)"
            )
        cfg = pretrained_cfg(source)
        if cfg is None:
            raise ValueError(
                f"{source!r} is an architecture without pretrained weights: "
                f"tarpose.create_model({source!r}) builds it with random weights; names with "
                f"weights: {', '.join(list_models(pretrained=True))}"
            )
        return _pretrained(source, cfg, options, hub)
    try:
        remapped, described = read_remapped(
            source, hub=hub, filename=filename, format=format, dataset_index=dataset_index
        )
    except FileNotFoundError as error:
        if isinstance(source, str) and "/" not in source and os.sep not in source:
            raise FileNotFoundError(f"{str(error).splitlines()[0]}; as a model name: {MODELS.hint(source)}") from None
        raise
    return build_model(remapped, options, source=described)


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model; keyword options go to its configs.

    ``create_model("vitpose-b", input_size=(384, 288))``; for a temporal (``tar-``) name,
    [TARConfig][tarpose.TARConfig] fields go to the temporal part and
    [ViTPoseConfig][tarpose.ViTPoseConfig] fields to the base:
    ``create_model("tar-vitpose-b", num_frames=3, jta_depth=4, input_size=(384, 288))``.
    [DataConfig][tarpose.DataConfig] fields
    (``geometry="biased"``, ``mean``, ``std``) go to ``model.data_config``.

    With ``pretrained=True`` the weights of the name's entry in the pretrained table are loaded
    (what ``load_model(name)`` does): through the Hugging Face Hub for a repo id, so its cache and
    ``HF_HUB_OFFLINE`` apply, and checked against the registered architecture;
    ``model.pretrained_cfg`` says where they come from. A temporal name whose weights are a
    single-frame ViTPose gets it inside fresh JTA/GRA modules ([wrap][tarpose.factory.wrap]).

    Args:
        name: a registered name (``tarpose.list_models()``).
        pretrained: load the registered pretrained weights.
        **overrides: config fields.

    Raises:
        ValueError: an unknown name, or no pretrained weights registered for it.
        CheckpointError: pretrained weights that do not fit the registered architecture.
    """
    options = ModelOptions.route(overrides)
    if not pretrained:
        return _build(name, options)
    cfg = pretrained_cfg(name)
    if cfg is None:
        model_entrypoint(name)  # an unknown name says so first
        raise ValueError(
            f"no pretrained weights registered for {name!r}; models with weights: "
            f"{', '.join(list_models(pretrained=True))}"
        )
    return _pretrained(name, cfg, options, HubOptions(revision=cfg.revision))


def _build(name: str, options: ModelOptions) -> nn.Module:
    """A registered architecture with random weights, its data config changed by ``options``."""
    model = model_entrypoint(name)(**options.architecture())
    return with_data_options(model, options.data)


def _pretrained(name: str, cfg: PretrainedCfg, options: ModelOptions, hub: HubOptions) -> nn.Module:
    """The registered model ``name`` with the weights of its pretrained entry ``cfg``."""
    if hub.revision is None and cfg.revision is not None:
        hub = HubOptions(cfg.revision, hub.cache_dir, hub.token, hub.local_files_only, hub.force_download)
    expected = _probe(name, options)
    remapped, source = read_remapped(cfg.source, hub=hub, dataset_index=cfg.dataset_index)
    if isinstance(expected, TemporalWrapper) and remapped.temporal is None:
        single = build_vitpose(remapped, options.replace(data={}), source)
        single.data_config = _registered_data(cfg, single.data_config, options.data)
        model: nn.Module = wrap(name, single, **options.temporal)
    else:
        model = build_model(remapped, options.replace(data={}), source=source)
        model.data_config = _registered_data(cfg, model.data_config, options.data)
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


def _registered_data(cfg: PretrainedCfg, loaded: Any, options: dict[str, Any]) -> Any:
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
    options = ModelOptions.route(overrides)
    if options.vitpose:
        raise ValueError(
            f"{sorted(options.vitpose)} would change the architecture of the model being wrapped; only "
            "TARConfig and DataConfig fields apply"
        )
    expected = _probe(name, ModelOptions(temporal=options.temporal))
    if not isinstance(expected, TemporalWrapper):
        raise ValueError(f"{name!r} is not a temporal model: it cannot wrap another model")
    wrapper = TemporalWrapper(model, expected.config).train(model.training)
    return with_data_options(wrapper, options.data)


def probe_model(name: str, **overrides: Any) -> nn.Module:
    """The registered architecture on the ``meta`` device: its configs and shapes, without memory
    or initialisation (sizes, checks; ``create_model`` builds the real one).

    Args:
        name: a registered name.
        **overrides: as for [create_model][tarpose.factory.create_model].
    """
    return _probe(name, ModelOptions.route(overrides))


def _probe(name: str, options: ModelOptions) -> nn.Module:
    """`probe_model` with the options routed."""
    with warnings.catch_warnings(), skip_init(), torch.device("meta"):
        warnings.simplefilter("ignore", UserWarning)  # e.g. ops warning they run on meta tensors
        return _build(name, options)

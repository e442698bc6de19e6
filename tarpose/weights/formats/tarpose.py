"""tarpose's own format: the one every model tarpose writes is in.

A directory (or Hub repo) with ``model.safetensors`` (the state dict), ``config.json`` and a model
card (``README.md``). ``config.json``:

```text
{
  "format": "tarpose", "format_version": 2,
  "architecture": "TemporalWrapper",        # or "ViTPose"
  "name": "tar-vitpose-demo",               # the registered name it was built as, or null
  "vitpose": {...},                         # the (base) ViTPoseConfig
  "temporal": {...},                        # the TARConfig (TemporalWrapper only)
  "data": {...}                             # the DataConfig: input size, mean, std, geometry
}
```

The same JSON is also in the safetensors metadata (``"config"``), so the weights file alone
loads too. A TemporalWrapper's tensors are ``encoder.*`` (the ViTPose backbone), ``decoder.*``
(its head), ``jta.*`` and ``gra.*``; a ViTPose's are its own.

Files written by tarpose 0.1 load too, with a ``FutureWarning``: its ``save_pretrained``
``config.json`` (a ViTPose's flat config; a TemporalWrapper's constructor arguments with the
ViTPose under ``"model"``) and its training exports (``{"format": "tarpose-model", "name",
"options"}``, which name the model through the registry). A file that does not record the
geometry of its weights (`recorded_geometry`) loads in tarpose 0.1's.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from ..._checks import check_fields
from ...geometry import LEGACY_GEOMETRY
from ...models.init import skip_init
from ...models.registry import model_entrypoint
from ...models.temporal import (
    RENAMED_OPTIONS,
    TAR_FIELDS,
    TAR_SPECS,
    TEMPORAL_MODULES,
    TemporalWrapper,
    split_overrides,
)
from ...models.vitpose import VITPOSE_SPECS, ViTPose
from ...preprocess import DATA_SPECS, DataConfig
from ..errors import CheckpointError
from .common import Remapped, has_cls_slot, take

FORMAT = "tarpose"
FORMAT_VERSION = 2
#: ``config.json`` of tarpose 0.1's training exports
TRAINED_FORMAT = "tarpose-model"
_RESAVE = "re-save it with tarpose.save_pretrained(model, directory) to record it"
#: the keys of ``config.json`` (format 2)
CONFIG_KEYS = frozenset({"format", "format_version", "architecture", "name", "vitpose", "temporal", "data"})

_OVER_VITPOSE = (
    "save_pretrained/push_to_hub need a TemporalWrapper over a built-in tarpose.ViTPose (passed "
    "as model=): only then can config.json rebuild it. For a transformers, mmpose or official "
    "model, load its weights into one first, e.g. "
    "TemporalWrapper(tarpose.load_vitpose('usyd-community/vitpose-base-simple'))"
)


def model_config(model: nn.Module, name: str | None = None) -> dict[str, Any]:
    """The ``config.json`` that rebuilds ``model``.

    Args:
        model: a [ViTPose][tarpose.ViTPose], or a [TemporalWrapper][tarpose.TemporalWrapper]
            over one.
        name: the registered name the model was built as, recorded for reference.

    Raises:
        ValueError: a model the file could not rebuild (a wrapper over another library's
            ViTPose, or over encoder/decoder callables).
    """
    data = getattr(model, "data_config", None) or DataConfig()
    head: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    if isinstance(model, ViTPose):
        return {**head, "architecture": "ViTPose", "name": name, "vitpose": model.config.to_dict(),
                "data": data.to_dict()}
    if isinstance(model, TemporalWrapper) and model.base_config is not None:
        return {**head, "architecture": "TemporalWrapper", "name": name,
                "vitpose": model.base_config.to_dict(), "temporal": model.config.to_dict(),
                "data": data.to_dict()}
    if isinstance(model, TemporalWrapper):
        raise ValueError(_OVER_VITPOSE)
    raise ValueError(
        f"save_pretrained/push_to_hub need a tarpose ViTPose or TemporalWrapper, got a "
        f"{type(model).__name__}"
    )


def is_tarpose(state: dict[str, Tensor], config: dict[str, Any] | None) -> bool:
    config = config or {}
    if config.get("format") in (FORMAT, TRAINED_FORMAT):
        return True
    if isinstance(config.get("model"), dict) or "jta.query_embed" in state:
        return True
    if "patch_padding" in config and "embed_dim" in config:
        return True
    pos = state.get("backbone.pos_embed")
    return (
        pos is not None and "backbone.blocks.0.attn.qkv.weight" in state
        and not has_cls_slot(pos.shape[1]) and not config
    )


def from_tarpose(state: dict[str, Tensor], config: dict[str, Any] | None = None) -> Remapped:
    """A tarpose checkpoint -> [Remapped][tarpose.weights.Remapped] (temporal parts set for a
    TemporalWrapper; ``deprecated`` set for a file of tarpose 0.1)."""
    config, deprecated = current_config(dict(config or {}), state)
    check_config(config)
    name = config.get("name")
    data, unrecorded = recorded_geometry(config)
    if unrecorded:
        deprecated = f"{deprecated}; it {unrecorded}" if deprecated else f"a file that {unrecorded}; {_RESAVE}"
    if "jta.query_embed" not in state:
        return Remapped(dict(state), config=_vitpose_fields(config.get("vitpose") or {}),
                        data=data, deprecated=deprecated, name=name)
    if not isinstance(config.get("temporal"), dict) or not isinstance(config.get("vitpose"), dict):
        raise CheckpointError(
            "a tarpose TemporalWrapper checkpoint needs its config.json (the temporal part's "
            "settings, e.g. its number of heads, are not stored in the weights)"
        )
    vitpose = {"backbone." + k: v for k, v in take(state, "encoder.").items()}
    vitpose.update({"keypoint_head." + k: v for k, v in take(state, "decoder.").items()})
    new = tuple(f"{name}." for name in TEMPORAL_MODULES)
    temporal = {k: v for k, v in state.items() if k.startswith(new)}
    other = [k for k in state if not k.startswith(("encoder.", "decoder.", *new))]
    if other:
        raise CheckpointError(f"unexpected keys in a tarpose TemporalWrapper checkpoint: {other[:8]}")
    return Remapped(
        vitpose, config=_vitpose_fields(config["vitpose"]), temporal=temporal,
        temporal_config=dict(config["temporal"]), data=data, deprecated=deprecated, name=name,
    )


def recorded_geometry(config: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The ``"data"`` of a tarpose ``config.json`` with the geometry its weights were trained in,
    and a note when the file does not record it.

    A file that records none was written before tarpose did (tarpose 0.1, or a development
    version before this): tarpose then cropped, trained and decoded every model in the
    `tarpose.geometry.LEGACY_GEOMETRY`, which keeps its keypoints as they were. The exception is a
    conversion of an official TAR-ViTPose checkpoint (``token_layout="official"``), whose
    weights were trained in HRNet's geometry.

    Args:
        config: ``config.json`` in the current layout (`current_config`).
    """
    data = dict(config.get("data") or {})
    if "geometry" in data:
        return data, None
    official = (config.get("temporal") or {}).get("token_layout") == "official"
    data["geometry"] = "hrnet" if official else LEGACY_GEOMETRY
    why = "an official TAR-ViTPose conversion" if official else "the geometry tarpose 0.1 ran it in"
    return data, (
        f"does not record the geometry its weights were trained in: taken as "
        f"{data['geometry']!r}, {why} (load it with geometry='udp' if it holds public ViTPose "
        "weights; see tarpose.geometry)"
    )


def current_config(config: dict[str, Any], state: dict[str, Tensor]) -> tuple[dict[str, Any], str | None]:
    """``config.json`` in the current layout, and a deprecation note when it was an old one.

    Args:
        config: the file's ``config.json`` (or the config in its safetensors metadata).
        state: its tensors (a config-less file is told apart by them).
    """
    if config.get("format") == FORMAT:
        version = config.get("format_version")
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"config.json has format_version {version!r}; this tarpose reads {FORMAT_VERSION} "
                "(and the layouts of tarpose 0.1): upgrade tarpose"
            )
        return config, None
    note = (
        "in the config.json layout of tarpose 0.1 ({}); it loads, but re-save it with "
        "tarpose.save_pretrained(model, directory) to keep it loadable"
    )
    if config.get("format") == TRAINED_FORMAT:
        rebuilt = _from_spec(config, state)
        rebuilt["data"].pop("geometry")  # a new model's default, not what 0.1 trained it in
        return rebuilt, note.format("a `tarpose train` export")
    if isinstance(config.get("model"), dict):  # 0.1's TemporalWrapper.save_pretrained
        return {"vitpose": config["model"], "temporal": _tar_fields(config)}, note.format(
            "TemporalWrapper.save_pretrained")
    if config:  # 0.1's ViTPose.save_pretrained: the flat ViTPoseConfig
        return {"vitpose": config}, note.format("ViTPose.save_pretrained")
    return {}, None  # tensors in tarpose's names, no config: read from their shapes


def check_config(config: dict[str, Any]) -> None:
    """Every key and value of a ``config.json`` (format 2) checked before anything is built from
    it: known keys only, every field of the right type and in range (the rules of
    [ViTPoseConfig][tarpose.ViTPoseConfig], [TARConfig][tarpose.TARConfig] and
    [DataConfig][tarpose.DataConfig]).

    Args:
        config: the config, in the current layout ([current_config][tarpose.weights.formats.tarpose.current_config]).

    Raises:
        CheckpointError: one line naming the key and the problem.
    """
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise CheckpointError(f"config.json has unknown keys {unknown[:8]}; known: {sorted(CONFIG_KEYS)}")
    if config.get("architecture", "ViTPose") not in ("ViTPose", "TemporalWrapper"):
        raise CheckpointError(f"config.json architecture must be 'ViTPose' or 'TemporalWrapper', got {config['architecture']!r:.80}")
    if not isinstance(config.get("name"), (str, type(None))):
        raise CheckpointError(f"config.json name must be a string or null, got {config['name']!r:.80}")
    for section, specs, what in (("vitpose", VITPOSE_SPECS, "ViTPoseConfig"), ("temporal", TAR_SPECS, "TARConfig"),
                                 ("data", DATA_SPECS, "data config")):
        values = config.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise CheckpointError(f"config.json {section!r} must be an object, got {type(values).__name__}")
        if section == "temporal":
            values = {k: v for k, v in values.items() if k != "target"}  # checked by Window
        try:
            check_fields(specs, values, what=what)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"config.json {section!r}: {error}") from None


def _tar_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """tarpose 0.1's TemporalWrapper constructor arguments -> TARConfig fields."""
    out = {k: v for k, v in arguments.items() if k in TAR_FIELDS}
    for old, new in RENAMED_OPTIONS.items():
        if old in arguments:
            out.update({n: arguments[old] for n in new})
    if out.get("target") == "center":
        out["target"] = "centred"
    return out


def _from_spec(spec: dict[str, Any], state: dict[str, Tensor]) -> dict[str, Any]:
    """``{"name", "options"}`` of a 0.1 training export -> the config of that model.

    The registered model is built with today's defaults; the restoring step of tarpose 0.1 (a
    gated residual or the reference's post-norm, without the FFN or the heatmap embedding that
    came later) is read back from the tensors."""
    name = spec.get("name")
    if not isinstance(name, str):
        raise CheckpointError(f"a {TRAINED_FORMAT} config needs the registered model's name, got {spec}")
    try:
        entry = model_entrypoint(name)
    except ValueError as error:
        raise CheckpointError(f"a {TRAINED_FORMAT} config names {error}") from None
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise CheckpointError(f"a {TRAINED_FORMAT} config's options must be an object, got {type(options).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 0.1's option names, as they were
        try:  # checked before the model is built from them
            vitpose = options.get("vitpose")
            if not isinstance(vitpose, (dict, type(None))):
                raise TypeError(f"vitpose must be an object, got {vitpose!r:.80}")
            base, temporal = split_overrides({k: v for k, v in options.items() if k != "vitpose"}, vitpose)
            check_fields(VITPOSE_SPECS, base, what="ViTPoseConfig")
            check_fields(TAR_SPECS, {k: v for k, v in temporal.items() if k not in ("target", "freeze_base")},
                         what="TARConfig")
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"a {TRAINED_FORMAT} config's options: {error}") from None
        with skip_init(), torch.device("meta"):
            model = entry(**dict(options))
    try:
        config = model_config(model, name)
    except ValueError as error:
        raise CheckpointError(f"model {name!r} cannot be rebuilt from a config: {error}") from None
    if "temporal" in config:
        restore = "residual" if "gra.gate" in state else "postnorm" if "gra.norm.weight" in state else "zero_out"
        config["temporal"].update(restore=restore, gra_ffn_ratio=0.0, heatmap_embed=False)
    return config


def _vitpose_fields(config: dict[str, Any]) -> dict[str, Any]:
    fields = dict(config)
    if "img_size" in fields:
        fields["img_size"] = tuple(fields["img_size"])
    return fields


__all__ = ["CONFIG_KEYS", "FORMAT", "FORMAT_VERSION", "TRAINED_FORMAT", "check_config", "current_config", "from_tarpose", "is_tarpose", "model_config"]

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
(its head), ``jta.*``, ``gra.*`` and ``heatmap_embed.*``; a ViTPose's are its own. A bare state
dict in a ViTPose's names (``torch.save(model.state_dict())``) loads too, its architecture read
from the tensors' shapes and its geometry the default (``"udp"``: pass ``geometry=`` if its
weights were trained in another).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ..._checks import check_fields
from ...models.temporal import TAR_SPECS, TEMPORAL_MODULES, TemporalWrapper
from ...models.vitpose import VITPOSE_SPECS, ViTPose
from ...preprocess import DATA_SPECS, DataConfig
from ..errors import CheckpointError
from .common import Remapped, has_cls_slot, take

FORMAT = "tarpose"
FORMAT_VERSION = 2
#: the keys of ``config.json`` (format 2)
CONFIG_KEYS = frozenset({"format", "format_version", "architecture", "name", "vitpose", "temporal", "data"})

_OVER_VITPOSE = (
    "save_pretrained/push_to_hub need a TemporalWrapper over a built-in tarpose.ViTPose (passed "
    "as model=): only then can config.json rebuild it. For a transformers, mmpose or official "
    "model, load its weights into one first, e.g. "
    "TemporalWrapper(tarpose.load_model('usyd-community/vitpose-base-simple'))"
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
    if config.get("format") == FORMAT or "jta.query_embed" in state:
        return True
    pos = state.get("backbone.pos_embed")
    return (
        pos is not None and "backbone.blocks.0.attn.qkv.weight" in state
        and not has_cls_slot(pos.shape[1]) and not config
    )


def from_tarpose(state: dict[str, Tensor], config: dict[str, Any] | None = None) -> Remapped:
    """A tarpose checkpoint -> [Remapped][tarpose.weights.Remapped] (temporal parts set for a
    TemporalWrapper)."""
    config = dict(config or {})
    if config:
        version = config.get("format_version")
        if config.get("format") != FORMAT or version != FORMAT_VERSION:
            raise CheckpointError(
                f"config.json is not a tarpose format {FORMAT_VERSION} config (format "
                f"{config.get('format')!r}, format_version {version!r}): written by another tarpose version?"
            )
        check_config(config)
    name = config.get("name")
    data = dict(config.get("data") or {})
    if "jta.query_embed" not in state:
        return Remapped(dict(state), config=dict(config.get("vitpose") or {}), data=data, name=name)
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
        vitpose, config=dict(config["vitpose"]), temporal=temporal,
        temporal_config=dict(config["temporal"]), data=data, name=name,
    )


def check_config(config: dict[str, Any]) -> None:
    """Every key and value of a ``config.json`` (format 2) checked before anything is built from
    it: known keys only, every field of the right type and in range (the rules of
    [ViTPoseConfig][tarpose.ViTPoseConfig], [TARConfig][tarpose.TARConfig] and
    [DataConfig][tarpose.DataConfig]).

    Args:
        config: the ``config.json`` (or the config in the safetensors metadata).

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
    required = ["vitpose", "data"] + (["temporal"] if config.get("architecture") == "TemporalWrapper" else [])
    missing = [key for key in required if key not in config]
    if isinstance(config.get("data"), dict) and "geometry" not in config["data"]:
        missing.append("data.geometry")
    if missing:
        raise CheckpointError(f"config.json lacks {missing}: it does not describe a complete model")
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


__all__ = ["CONFIG_KEYS", "FORMAT", "FORMAT_VERSION", "check_config", "from_tarpose", "is_tarpose", "model_config"]

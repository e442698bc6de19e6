"""tarpose's own checkpoints: ``save_pretrained`` directories (``config.json`` +
``model.safetensors``) of a :class:`~tarpose.ViTPose` or a :class:`~tarpose.TemporalWrapper`,
and the models ``tarpose train`` writes.

``save_pretrained``'s ``config.json`` holds the constructor arguments: the flat
:class:`~tarpose.ViTPoseConfig` for a ViTPose; ``{"model": <ViTPoseConfig>, "num_frames": ...,
...}`` for a TemporalWrapper, whose tensors are ``encoder.*`` (the ViTPose backbone),
``decoder.*`` (its head), ``jta.*``, ``gra.*``. ``tarpose train``
(:func:`tarpose.training.save_trained`) writes ``{"format": "tarpose-model", "name": <registered
model>, "options": {...}}`` instead (also in the safetensors metadata), which names the same
model through :func:`tarpose.create_model`.

Both record the geometry (:mod:`tarpose.geometry`) of the weights: ``"geometry"`` in the
ViTPose config, or in the trained model's options. ``tarpose train`` exports written before it
was recorded were trained in :data:`LEGACY_TRAINED_GEOMETRY`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ..errors import CheckpointError
from .common import Remapped, has_cls_slot, take

#: TemporalWrapper arguments that are not stored (the base model is rebuilt from ``model``)
_NOT_KWARGS = ("model", "encoder", "decoder")
#: the ``config.json`` format of :func:`tarpose.training.save_trained`
TRAINED_FORMAT = "tarpose-model"
#: the geometry of ``tarpose train`` exports that do not record one: tarpose 0.1 cropped and
#: encoded every training sample in it
LEGACY_TRAINED_GEOMETRY = "biased"


def with_recorded_geometry(options: dict[str, Any]) -> dict[str, Any]:
    """The options of a trained model's spec, with :data:`LEGACY_TRAINED_GEOMETRY` added when
    they do not name a geometry (directly, or for a temporal model's ``vitpose``)."""
    vitpose = options.get("vitpose")
    if "geometry" in options or (isinstance(vitpose, dict) and "geometry" in vitpose):
        return dict(options)
    return {**options, "geometry": LEGACY_TRAINED_GEOMETRY}


def is_tarpose(state: dict[str, Tensor], config: dict[str, Any] | None) -> bool:
    config = config or {}
    if config.get("format") == TRAINED_FORMAT:
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
    """A tarpose checkpoint -> :class:`Remapped` (temporal parts set for a TemporalWrapper)."""
    config = dict(config or {})
    if config.get("format") == TRAINED_FORMAT:
        config = _trained_model_config(config)
    if "jta.query_embed" not in state:
        return Remapped(dict(state), config=_vitpose_fields(config))
    if not isinstance(config.get("model"), dict):
        raise CheckpointError(
            "a tarpose TemporalWrapper checkpoint needs its config.json (the wrapper's "
            "arguments, e.g. num_heads, are not stored in the weights)"
        )
    vitpose = {"backbone." + k: v for k, v in take(state, "encoder.").items()}
    vitpose.update({"keypoint_head." + k: v for k, v in take(state, "decoder.").items()})
    temporal = {k: v for k, v in state.items() if k.startswith(("jta.", "gra."))}
    other = [k for k in state if not k.startswith(("encoder.", "decoder.", "jta.", "gra."))]
    if other:
        raise CheckpointError(f"unexpected keys in a tarpose TemporalWrapper checkpoint: {other[:8]}")
    kwargs = {k: v for k, v in config.items() if k not in _NOT_KWARGS}
    return Remapped(vitpose, config=_vitpose_fields(config["model"]), temporal=temporal, temporal_config=kwargs)


def _trained_model_config(spec: dict[str, Any]) -> dict[str, Any]:
    """``{"name", "options"}`` of a trained model -> the ``save_pretrained`` config of that model."""
    from ...models.registry import create_model  # (the models import this package)
    from ..load import skip_init

    if not isinstance(spec.get("name"), str):
        raise CheckpointError(f"a {TRAINED_FORMAT} config needs the registered model's name, got {spec}")
    with skip_init():
        options = with_recorded_geometry(dict(spec.get("options") or {}))
        model = create_model(spec["name"], **options)
    try:
        return model._hub_config()  # type: ignore[operator]
    except (AttributeError, ValueError) as error:
        raise CheckpointError(f"model {spec['name']!r} cannot be rebuilt from a config: {error}") from None


def _vitpose_fields(config: dict[str, Any]) -> dict[str, Any]:
    fields = dict(config)
    if "img_size" in fields:
        fields["img_size"] = tuple(fields["img_size"])
    return fields

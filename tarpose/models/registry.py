"""Registered model factories: ``create_model(name, pretrained=False, **overrides)`` and
``list_models()``; pretrained weights come from the table in :mod:`.pretrained`."""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from torch import nn

from .pretrained import has_pretrained, pretrained_cfg
from .vitpose import ViTPose, ViTPoseConfig

_MODELS: dict[str, Callable[..., nn.Module]] = {}

#: The ViTPose sizes of the paper (patch 16, MLP ratio 4).
VITPOSE_SIZES: dict[str, dict[str, int]] = {
    "s": {"embed_dim": 384, "depth": 12, "num_heads": 12},
    "b": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "l": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
    "h": {"embed_dim": 1280, "depth": 32, "num_heads": 16},
}

_CONFIG_FIELDS = {f.name for f in fields(ViTPoseConfig)}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a factory ``fn(**overrides) -> nn.Module`` under ``name``."""

    def decorate(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = fn
        return fn

    return decorate


def list_models(pattern: str | None = None, pretrained: bool = False) -> list[str]:
    """Registered model names, optionally filtered by a shell-style pattern (``"tar-*"``) and
    to those with pretrained weights."""
    names = sorted(n for n in _MODELS if has_pretrained(n) or not pretrained)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def unknown_name_hint(name: str) -> str:
    """``"did you mean 'x'? "`` for the registered names closest to ``name`` (if any), then where
    to find them all."""
    close = difflib.get_close_matches(name, list_models(), n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{guess}`tarpose models` lists the registered names"


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model; keyword overrides go to its config (e.g. ``img_size=(384, 288)``).

    For a temporal (``tar-``) model the overrides are routed by :func:`split_overrides`:
    ``create_model("tar-vitpose-b", depth=4, vitpose={"img_size": (384, 288)})``.

    With ``pretrained=True`` the weights of the name's entry in the pretrained table are loaded
    (through the Hugging Face Hub for a repo id, so its cache and ``HF_HUB_OFFLINE`` apply) and
    checked against the registered architecture; ``model.pretrained_cfg`` then says which input
    size and normalisation they expect.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; {unknown_name_hint(name)}: {', '.join(list_models())}")
    if not pretrained:
        return _MODELS[name](**overrides)
    cfg = pretrained_cfg(name)
    if cfg is None:
        raise ValueError(
            f"no pretrained weights registered for {name!r}; models with weights: "
            f"{', '.join(list_models(pretrained=True))}"
        )
    from ..weights.errors import CheckpointError, key_list
    from ..weights.load import build_model, read_remapped, skip_init
    from ..wrapper import TemporalWrapper

    with skip_init():  # the registered architecture (uninitialised), to check the weights against
        expected = _MODELS[name](**overrides)
    remapped, source = read_remapped(cfg.source, revision=cfg.revision, dataset_index=cfg.dataset_index)
    if isinstance(expected, TemporalWrapper) and remapped.temporal is None:
        base, temporal = split_overrides(dict(overrides), overrides.pop("vitpose", None))
        model = TemporalWrapper(build_model(remapped, base, source=source), **temporal).eval()
    else:
        model = build_model(remapped, overrides, source=source)
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


def _vitpose(size: str, decoder: str, **overrides: Any) -> ViTPose:
    return ViTPose(ViTPoseConfig(**{**VITPOSE_SIZES[size], "decoder": decoder, **overrides}))


def temporal_fields() -> frozenset[str]:
    """Keyword arguments of :class:`~tarpose.TemporalWrapper` that configure the temporal part."""
    from ..wrapper import TemporalWrapper

    return frozenset(
        name for name in inspect.signature(TemporalWrapper.__init__).parameters
        if name not in ("self", "model", "encoder", "decoder", "dim", "num_joints")
    )


def split_overrides(
    overrides: dict[str, Any], vitpose: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route the overrides of a temporal model: ``(base ViTPose fields, TemporalWrapper arguments)``.

    A name the wrapper takes (``depth``, ``num_heads``, ``mlp_ratio``, ``num_frames``, ...) goes to
    the temporal modules; any other :class:`ViTPoseConfig` field (``img_size``, ``num_joints``,
    ``embed_dim``, ...) to the base model; ``vitpose={...}`` sets base fields explicitly, e.g.
    ``vitpose={"depth": 2}`` for the backbone's depth.
    """
    temporal_names = temporal_fields()
    unknown = sorted(set(overrides) - temporal_names - _CONFIG_FIELDS)
    if unknown:
        raise TypeError(
            f"unknown options {unknown}; a temporal model takes TemporalWrapper arguments "
            f"{sorted(temporal_names)}, ViTPoseConfig fields {sorted(_CONFIG_FIELDS)} and "
            "vitpose={...} for the base model"
        )
    temporal = {k: v for k, v in overrides.items() if k in temporal_names}
    base = {k: v for k, v in overrides.items() if k not in temporal_names}
    return {**base, **(vitpose or {})}, temporal


def _tar_vitpose(
    size: str, decoder: str, vitpose: dict[str, Any] | None = None, **overrides: Any
) -> nn.Module:
    from ..wrapper import TemporalWrapper

    base, temporal = split_overrides(overrides, vitpose)
    return TemporalWrapper(_vitpose(size, decoder, **base), **temporal)


def _register_sizes() -> None:
    for size in VITPOSE_SIZES:
        for decoder, suffix in (("classic", ""), ("simple", "-simple")):
            _register_pair(f"vitpose-{size}{suffix}", size, decoder)
        _register_pair(f"vitpose-plus-{size}", size, "classic")  # ViTPose+, one expert merged
    _register_pair("vitpose-b-coco-aic-mpii", "b", "classic")


def _register_pair(name: str, size: str, decoder: str) -> None:
    """``name`` (a ViTPose) and ``tar-name`` (the same in a TemporalWrapper)."""
    register_model(name)(lambda size=size, decoder=decoder, **kw: _vitpose(size, decoder, **kw))
    register_model(f"tar-{name}")(
        lambda size=size, decoder=decoder, **kw: _tar_vitpose(size, decoder, **kw)
    )


_register_sizes()

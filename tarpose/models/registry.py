"""Registered model factories: ``create_model(name, **overrides)`` and ``list_models()``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from torch import nn

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


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a shell-style pattern (``"tar-*"``)."""
    names = sorted(_MODELS)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model; keyword overrides go to its config (e.g. ``img_size=(384, 288)``)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    return _MODELS[name](**overrides)


def _vitpose(size: str, decoder: str, **overrides: Any) -> ViTPose:
    return ViTPose(ViTPoseConfig(**{**VITPOSE_SIZES[size], "decoder": decoder, **overrides}))


def _tar_vitpose(size: str, decoder: str, **overrides: Any) -> nn.Module:
    from ..wrapper import TemporalWrapper

    base = {k: v for k, v in overrides.items() if k in _CONFIG_FIELDS}
    temporal = {k: v for k, v in overrides.items() if k not in _CONFIG_FIELDS}
    return TemporalWrapper(_vitpose(size, decoder, **base), **temporal)


def _register_sizes() -> None:
    for size in VITPOSE_SIZES:
        for decoder, suffix in (("classic", ""), ("simple", "-simple")):
            register_model(f"vitpose-{size}{suffix}")(
                lambda size=size, decoder=decoder, **kw: _vitpose(size, decoder, **kw)
            )
            register_model(f"tar-vitpose-{size}{suffix}")(
                lambda size=size, decoder=decoder, **kw: _tar_vitpose(size, decoder, **kw)
            )


_register_sizes()

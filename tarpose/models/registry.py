"""Registered model names: a table of small factories, ``list_models()`` and
``register_model``. Building by name, with or without pretrained weights, is
``tarpose.create_model`` ([tarpose.factory][tarpose.factory], a layer above this one)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

from .pretrained import has_pretrained
from .temporal import TemporalWrapper, split_overrides
from .vitpose import ViTPose, ViTPoseConfig

_MODELS: dict[str, Callable[..., nn.Module]] = {}

#: The ViTPose sizes of the paper (patch 16, MLP ratio 4).
VITPOSE_SIZES: dict[str, dict[str, int]] = {
    "s": {"embed_dim": 384, "depth": 12, "num_heads": 12},
    "b": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "l": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
    "h": {"embed_dim": 1280, "depth": 32, "num_heads": 16},
}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a factory ``fn(**overrides) -> nn.Module`` under ``name``.

    Args:
        name: the name ``create_model`` and ``list_models`` know it by.
    """

    def decorate(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = fn
        return fn

    return decorate


def list_models(pattern: str | None = None, pretrained: bool = False) -> list[str]:
    """Registered model names.

    Args:
        pattern: a shell-style filter, e.g. ``"tar-*"``.
        pretrained: only the names with pretrained weights.
    """
    names = sorted(n for n in _MODELS if has_pretrained(n) or not pretrained)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def unknown_name_hint(name: str) -> str:
    """``"did you mean 'x'? "`` for the registered names closest to ``name`` (if any), then where
    to find them all.

    Args:
        name: a name that is not registered.
    """
    close = difflib.get_close_matches(name, list_models(), n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{guess}`tarpose models` lists the registered names"


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The factory registered as ``name``.

    Args:
        name: a registered name.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; {unknown_name_hint(name)}: {', '.join(list_models())}")
    return _MODELS[name]


def _vitpose(size: str, decoder: str, **overrides: Any) -> ViTPose:
    return ViTPose(ViTPoseConfig(**{**VITPOSE_SIZES[size], "decoder": decoder, **overrides}))


def _tar_vitpose(
    size: str, decoder: str, vitpose: dict[str, Any] | None = None, **overrides: Any
) -> TemporalWrapper:
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

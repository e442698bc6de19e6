"""Registered model names: a table of small factories, ``list_models()`` and
``register_model``. Building by name, with or without pretrained weights, is
``tarpose.create_model`` ([tarpose.factory][tarpose.factory], a layer above this one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..registry import Registry
from .pretrained import has_pretrained
from .options import ModelOptions
from .temporal import TemporalWrapper
from .vitpose import ViTPose, ViTPoseConfig

#: model name -> factory ``fn(**overrides) -> nn.Module``
MODELS: Registry[Callable[..., nn.Module]] = Registry("model", "`tarpose models` lists them")

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
    return MODELS.register(name)  # type: ignore[return-value]


def list_models(pattern: str | None = None, pretrained: bool = False) -> list[str]:
    """Registered model names, sorted.

    Args:
        pattern: a shell-style filter, e.g. ``"tar-*"``.
        pretrained: only the names with pretrained weights.
    """
    return sorted(n for n in MODELS.names(pattern) if has_pretrained(n) or not pretrained)


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The factory registered as ``name``.

    Args:
        name: a registered name.

    Raises:
        ValueError: an unknown name (the message suggests the closest and lists the known ones).
    """
    return MODELS.get(name)


def _vitpose(size: str, decoder: str, **overrides: Any) -> ViTPose:
    return ViTPose(ViTPoseConfig(**{**VITPOSE_SIZES[size], "decoder": decoder, **overrides}))


def _tar_vitpose(size: str, decoder: str, **overrides: Any) -> TemporalWrapper:
    options = ModelOptions.route(overrides)
    if options.data:
        raise TypeError(f"{sorted(options.data)} are DataConfig fields: tarpose.create_model applies them")
    return TemporalWrapper(_vitpose(size, decoder, **options.vitpose), **options.temporal)


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

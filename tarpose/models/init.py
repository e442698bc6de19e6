"""Building modules without running their random initialisers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn


@contextmanager
def skip_init() -> Iterator[None]:
    """Build modules without running ``torch.nn.init``'s random initialisers (as transformers'
    ``no_init_weights`` does): for a model whose every tensor a checkpoint replaces right after,
    and initialising a ViT-H only to overwrite it costs seconds."""
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

"""Input validation that names the problem instead of failing deep inside torch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def expect_shape(
    name: str, tensor: Tensor, layout: str, expected: Sequence[int | None]
) -> None:
    """Raise ``ValueError`` unless ``tensor`` has ``len(expected)`` dims matching ``expected``.

    ``layout`` names the dims for the message (``"(B, T, C, h, w)"``); ``None`` matches any size.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    want = "(" + ", ".join("*" if s is None else str(s) for s in expected) + ")"
    if len(shape) != len(expected):
        raise ValueError(
            f"{name} must have {len(expected)} dims {layout}, got shape {shape} ({len(shape)} dims)"
        )
    for got, exp in zip(shape, expected):
        if exp is not None and got != exp:
            raise ValueError(f"{name} must have shape {layout} = {want}, got {shape}")


def expect_bool(name: str, tensor: Tensor) -> None:
    if tensor.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor, got dtype {tensor.dtype}")


def is_tracing() -> bool:
    """True under torch.compile / torch.export, where value checks must be skipped."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()

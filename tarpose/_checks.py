"""Input validation that names the problem instead of failing deep inside torch."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


def json_nesting(text: str) -> int:
    """The deepest bracket nesting of JSON text (brackets inside strings are not counted): check it
    before ``json.loads``, which recurses once a level and dies of a ``RecursionError`` at about
    a thousand."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


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


@dataclass(frozen=True)
class Field:
    """What one config field may hold: its kind, an inclusive range, the allowed strings, or a
    fixed-length tuple of numbers. [check][tarpose._checks.Field.check] returns the value normalised (an integer given
    as ``4.0`` stays an error: sizes must be written as integers).

    Args:
        kind: ``int``, ``float``, ``bool`` or ``str``.
        low: the smallest allowed number (inclusive).
        high: the largest allowed number (inclusive).
        choices: the allowed strings.
        length: a tuple of this many ``kind`` values instead of one.
        optional: ``None`` is allowed.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    optional: bool = False

    def check(self, name: str, value: Any) -> Any:
        """``value`` checked and normalised (tuples for lists); raises naming ``name``.

        Args:
            name: the field, for the message.
            value: the value to check.

        Raises:
            TypeError: the wrong kind of value (a string for a size, a float for a count...).
            ValueError: a value out of range, or not one of the choices.
        """
        if value is None and self.optional:
            return None
        if self.length is not None:
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(f"{name} must be a list of {self.length} {self.kind.__name__}s, got {value!r:.80}")
            if len(value) != self.length:
                raise ValueError(f"{name} must have {self.length} values, got {len(value)}")
            return tuple(self._one(f"{name}[{i}]", v) for i, v in enumerate(value))
        return self._one(name, value)

    def _one(self, name: str, value: Any) -> Any:
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be true or false, got {value!r:.80}")
            return bool(value)
        if self.kind is str:
            if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
                raise ValueError(f"{name} must be one of {list(self.choices or ())}, got {value!r:.80}")
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number ({self.kind.__name__}), got {value!r:.80}")
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, got {value!r:.80}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            low = "" if self.low is None else f">= {self.low}"
            high = "" if self.high is None else f"<= {self.high}"
            raise ValueError(f"{name} must be {' and '.join(s for s in (low, high) if s)}, got {value}")
        return value


def check_fields(specs: Mapping[str, Field], values: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """Every value of ``values`` checked by its [Field][tarpose._checks.Field] (a name without one is an error).

    Args:
        specs: the fields a config has.
        values: some or all of them.
        what: the config's name, for the message.

    Raises:
        TypeError: an unknown name, or a value of the wrong kind.
        ValueError: a value out of range.
    """
    unknown = sorted(str(k) for k in values if k not in specs)
    if unknown:
        raise TypeError(f"unknown {what} fields {unknown[:8]}; known: {sorted(specs)}")
    return {k: specs[k].check(k, v) for k, v in values.items()}


def expect_dtype(name: str, tensor: Tensor, module: torch.nn.Module) -> None:
    """Raise ``TypeError`` unless a floating ``tensor`` has the dtype of ``module``'s weights
    (under autocast, or while tracing, any dtype passes): our message instead of torch's "Input
    type (c10::Half) and bias type (float) should be the same".

    Args:
        name: the argument, for the message.
        tensor: the input.
        module: the module it goes into.
    """
    if is_tracing() or not tensor.is_floating_point():
        return
    weight = next((p for p in module.parameters() if p.is_floating_point()), None)
    if weight is None or weight.dtype == tensor.dtype or torch.is_autocast_enabled(tensor.device.type):
        return
    raise TypeError(
        f"{name} is {tensor.dtype} but the model's weights are {weight.dtype}: convert one "
        f"(model.to({tensor.dtype}) or {name}.to({weight.dtype})), or run under torch.autocast"
    )


def as_device(device: str | torch.device) -> torch.device:
    """A device tarpose can run on (``"cpu"``, ``"cuda"``, ``"cuda:N"``), checked: ``ValueError``
    naming the problem for an unknown name, another kind, or CUDA without a GPU."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {str(device)!r}: use cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {str(device)!r}: use cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r}: no CUDA GPU is available to PyTorch here")
    return device

"""Filters by name: the registry `FILTERS` and `build_filter`, which parses names such as
``"savgol:window=9,order=2"``."""

from __future__ import annotations

from typing import Any

from ..registry import Registry
from .base import KeypointFilter
from .kalman import KalmanFilter
from .one_euro import OneEuroFilter
from .windowed import MeanFilter, MedianFilter, SavgolFilter, WindowFilter

__all__ = ["FILTERS", "build_filter", "list_filters"]

#: filter name -> class
FILTERS: Registry[type[KeypointFilter]] = Registry("filter", "e.g. 'median:window=5'")
for _cls in (MedianFilter, MeanFilter, SavgolFilter, OneEuroFilter, KalmanFilter):
    FILTERS.register(_cls.name, _cls)


def list_filters() -> list[str]:
    """The registered filter names."""
    return FILTERS.names()


def build_filter(spec: str | KeypointFilter, **defaults: Any) -> KeypointFilter:
    """A filter from its name and options: ``"median"``, ``"median:window=5"``,
    ``"savgol:window=9,order=2,causal=true"``, ``"one-euro:min_cutoff=1,beta=0.01,fps=25"``. A
    windowed filter's window is at most `MAX_WINDOW` frames unless the name raises the bound:
    ``"median:window=301,max_window=301"``.

    Args:
        spec: ``NAME[:key=value,...]`` (or a filter, returned as is).
        defaults: option values used where ``spec`` gives none, for the filters that take them
            (e.g. ``fps=`` the video's frame rate); ignored by the others.

    Returns:
        The filter. Raises ``ValueError`` naming the problem for an unknown name or option or a
        bad value.
    """
    if isinstance(spec, KeypointFilter):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a filter spec must be a string like 'median:window=5', got {type(spec).__name__}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    cls = FILTERS.get(name)
    options: dict[str, Any] = {k: v for k, v in defaults.items() if k in cls.OPTIONS and v is not None}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if eq and key == "max_window" and issubclass(cls, WindowFilter):  # a bound, not an option of the filter
            options[key] = _parse(name, key, value.strip(), int)
            continue
        if not eq or key not in cls.OPTIONS:
            raise ValueError(
                f"{name}: bad option {item!r}; options (key=value): {', '.join(cls.OPTIONS)}"
            )
        options[key] = _parse(name, key, value.strip(), cls.OPTIONS[key])
    return cls(**options)


def _parse(name: str, key: str, value: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            return int(value)
        return float(value)
    except ValueError:
        raise ValueError(f"{name}: option {key} must be {kind.__name__}, got {value!r}") from None

"""The error raised for a checkpoint that cannot be read, recognised or loaded."""

from __future__ import annotations

from collections.abc import Iterable


class CheckpointError(ValueError):
    """A checkpoint that is unreadable, of an unknown layout, or that does not fit the model.

    The message names the file and the offending keys or shapes. Nothing is loaded when it is
    raised: a loader either returns a complete model or raises.
    """


def key_list(keys: Iterable[str], limit: int = 8) -> str:
    """``"a, b, c and 12 more"``: a readable excerpt of a long list of keys."""
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown if len(keys) <= limit else f"{shown} and {len(keys) - limit} more"

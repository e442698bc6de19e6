"""Deprecations: one helper, so every deprecated name says when it goes.

tarpose keeps no compatibility layer for releases that never happened (0.1.0 was never
published); from the first release on, a renamed or retired public name keeps working for at least
one minor release, warns through [deprecated][tarpose.deprecation.deprecated], and is listed in
the changelog (docs/changelog.md) with the version that removes it.
"""

from __future__ import annotations

import warnings


def deprecated(old: str, new: str, removed_in: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` and goes in ``removed_in``.

    Args:
        old: what the caller used (``"tarpose.load_vitpose"``).
        new: what to use instead (``"tarpose.load_model"``).
        removed_in: the tarpose version that removes ``old`` (``"0.3.0"``).
        stacklevel: passed to ``warnings.warn`` so the warning points at the caller's caller.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in tarpose {removed_in}: use {new}",
        FutureWarning, stacklevel=stacklevel,
    )

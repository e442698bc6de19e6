"""Registry: one shape for every table of named things tarpose keeps.

Models, pretrained weights, datasets, keypoint filters, person detectors, checkpoint formats and
CLI commands are each a ``Registry``: ``register`` a name (directly or as a decorator), ``get`` it
back (an unknown name raises ``ValueError`` with the closest names and the full list), list the
``names()``.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
#: unknown-name messages list every name up to this many
MAX_LISTED = 12


class Registry(Generic[T]):
    """Names -> entries of one kind.

    Args:
        kind: what an entry is, for messages (``"model"``, ``"filter"``...).
        listed_by: where a user sees every name (``"`tarpose models` lists them"``), appended to
            the unknown-name message.
    """

    def __init__(self, kind: str, listed_by: str = "") -> None:
        self.kind = kind
        self.listed_by = listed_by
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T | None = None) -> T | Callable[[T], T]:
        """Add ``entry`` under ``name``; without ``entry``, a decorator that adds what it
        decorates. A name is registered once.

        Raises:
            ValueError: ``name`` is registered already.
        """
        if entry is None:
            def decorate(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorate
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry of ``name``.

        Raises:
            ValueError: an unknown name; the message suggests the closest names and lists all.
        """
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; {self.hint(name)}")
        return self._entries[name]

    def hint(self, name: str) -> str:
        """``"did you mean 'x'? known: ..."`` for a name that is not registered (the full list
        only when it is short)."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.6)
        guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        names = self.names()
        known = ", ".join(names) if len(names) <= MAX_LISTED else f"{len(names)} names"
        where = f" ({self.listed_by})" if self.listed_by else ""
        return f"{guess}known: {known or 'none'}{where}"

    def names(self, pattern: str | None = None) -> list[str]:
        """The registered names in order of registration, optionally filtered by a shell-style
        ``pattern`` (``"tar-*"``)."""
        return [n for n in self._entries if pattern is None or fnmatch.fnmatch(n, pattern)]

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

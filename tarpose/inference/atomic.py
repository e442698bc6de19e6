"""Output files that appear only when complete: write a hidden temporary file, rename on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``, on any
    error (or interrupt) it is deleted, so a partial file never sits where the output should be.

    The temporary name keeps ``path``'s suffix, so writers that pick a format by extension work.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"output directory {str(parent)!r} does not exist (for {str(path)!r})")
    if path.is_dir():
        raise IsADirectoryError(f"output {str(path)!r} is a directory")
    fd, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=f".partial{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

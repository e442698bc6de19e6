"""Files that appear only when complete: write a hidden temporary next to the target, rename on
success, delete on failure. One helper for every output tarpose writes (checkpoints, exported
weights, keypoint JSON, videos, PNGs, ONNX graphs).

What is at the output path is never destroyed by being there: a symbolic link is written through
(its target is replaced atomically, the link stays), a character device or a FIFO is written to
directly (``--out /dev/stdout`` works), and any other special file (a block device, a socket) is
refused."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = False, make_parent: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``, on any
    error (or interrupt) it is deleted, so a partial file never sits where the output should be.

    The temporary name keeps ``path``'s suffix, so writers that pick a format by extension work.
    ``durable=True`` also flushes the file and its directory to disk (checkpoints: after a power
    cut the old or the new file is there, never a torn one). ``make_parent=True`` creates the
    directory; otherwise a missing one is a ``FileNotFoundError`` naming it.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # replace the link's target, keep the link
    if _is_stream(path):
        with _naming(path):
            yield path
        return
    parent = path.parent if str(path.parent) else Path(".")
    if make_parent:
        parent.mkdir(parents=True, exist_ok=True)
    elif not parent.is_dir():
        raise FileNotFoundError(f"output directory {str(parent)!r} does not exist (for {str(path)!r})")
    if path.is_dir():
        raise IsADirectoryError(f"output {str(path)!r} is a directory")
    tmp: Path | None = None
    before = _own_temporaries(path, parent)
    try:
        with _signals_held():  # an interrupt now would leave a temporary nobody knows of
            tmp = _temporary(path, parent)
        with _naming(path):
            yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove_new_temporaries(tmp, path, parent, before)
        raise
    if durable:
        _fsync_dir(parent)


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[str | os.PathLike[str]], *, durable: bool = False) -> Iterator[list[Path]]:
    """Several files that replace what is there together: yield a temporary path for each; only
    once every one is written are they renamed, in the order given (put the file that makes the
    others count, such as a ``config.json``, last). An error while writing (a full disk) leaves
    every previous file as it was, and no temporary behind.

    Args:
        paths: the files, in the order they are to be renamed; their directories must exist.
        durable: flush the files and their directories to disk (see [atomic_output][tarpose.atomic.atomic_output]).
    """
    with contextlib.ExitStack() as stack:
        staged = [stack.enter_context(_staged(Path(p))) for p in paths]
        yield [tmp for tmp, _ in staged]
        for tmp, _ in staged:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private
            if durable:
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
        for parent in {path.parent for _, path in staged} if durable else ():
            _fsync_dir(parent)


@contextlib.contextmanager
def _staged(path: Path) -> Iterator[tuple[Path, Path]]:
    """A temporary beside ``path``, removed if it was not renamed by the time the block ends."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(f"output {str(path)!r} is a directory")
    if _is_stream(path):
        raise FileExistsError(f"output {str(path)!r} is a device or FIFO; a model is written to a directory of files")
    tmp: Path | None = None
    before = _own_temporaries(path, path.parent)
    try:
        with _signals_held():
            tmp = _temporary(path, path.parent)
        yield tmp, path
    finally:
        _remove_new_temporaries(tmp, path, path.parent, before)  # a no-op once renamed


#: a temporary's name: ``.NAME.PID.RANDOM.partialSUFFIX``
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]+\.partial(?P<suffix>.*)")


def _temporary(path: Path, parent: Path) -> Path:
    """Create the hidden temporary of ``path`` in ``parent``; its name holds this process's id, so
    the temporaries that a killed process left (SIGKILL, a power cut: nothing could remove them)
    are told apart from those of a live one, and removed here first."""
    remove_stale_temporaries(path, parent)
    fd, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.{os.getpid()}.", suffix=f".partial{path.suffix}")
    os.close(fd)
    return Path(name)


def _own_temporaries(path: Path, parent: Path) -> set[Path]:
    """This process's temporaries of ``path`` in ``parent``."""
    candidates = parent.glob(glob.escape(f".{path.name}.{os.getpid()}.") + "*.partial*")
    matches = ((c, _TEMPORARY.fullmatch(c.name)) for c in candidates)
    return {c for c, m in matches if m is not None and m["name"] == path.name and int(m["pid"]) == os.getpid()}


def _remove_new_temporaries(tmp: Path | None, path: Path, parent: Path, before: set[Path]) -> None:
    """Remove the temporary made for this write: ``tmp``, or, when an interrupt landed between
    its creation and its name reaching the caller (a signal another thread received runs its
    handler at once, whatever this thread holds back), any temporary of this process for
    ``path`` that was not there before."""
    if tmp is not None:
        tmp.unlink(missing_ok=True)
        return
    for leftover in _own_temporaries(path, parent) - before:
        leftover.unlink(missing_ok=True)


def remove_stale_temporaries(path: str | os.PathLike[str], parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the temporaries of ``path`` that processes no longer running on this machine left
    (a save killed by SIGKILL); those of live processes are kept. Returns the files removed.

    Args:
        path: the output whose temporaries to look for.
        parent: the directory they are in (default: ``path``'s).
    """
    path = Path(path)
    parent = Path(parent) if parent is not None else path.parent if str(path.parent) else Path(".")
    if os.name != "posix":  # no cheap, harmless test of whether a process lives
        return []
    removed = []
    for candidate in parent.glob(glob.escape(f".{path.name}.") + "*.partial*"):
        match = _TEMPORARY.fullmatch(candidate.name)
        if match is None or match["name"] != path.name or match["suffix"] != path.suffix:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and not _alive(pid):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's: alive
        return True
    return True


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back (delivered when the block ends) on POSIX; nothing elsewhere."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class StagedOutputs:
    """Files written one at a time, each to a temporary beside it, and renamed into place all
    together only by [commit][tarpose.atomic.StagedOutputs.commit]: what a multi-file output (a
    sequence of rendered images) needs so that an interrupted or failed run never overwrites, nor
    deletes, the files an earlier run left there. Leaving a ``with`` block commits; an error (or an
    interrupt) discards every temporary instead.

    Example:
        ```python
        with StagedOutputs() as staged:
            for i, image in enumerate(images):
                staged.path(f"frame_{i:06d}.png").write_bytes(encode_png(image))
        ```
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, target)

    def path(self, target: str | os.PathLike[str]) -> Path:
        """A new temporary for ``target`` (whose directory must exist), to write in full."""
        target = Path(target)
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        if target.is_dir():
            raise IsADirectoryError(f"output {str(target)!r} is a directory")
        if _is_stream(target):
            raise FileExistsError(f"output {str(target)!r} is a device or FIFO, not a file of a sequence")
        parent = target.parent if str(target.parent) else Path(".")
        with _signals_held():  # registered before an interrupt can land
            self._staged.append((_temporary(target, parent), target))
        return self._staged[-1][0]

    @property
    def targets(self) -> list[Path]:
        """The files the temporaries will become."""
        return [target for _, target in self._staged]

    def commit(self) -> list[Path]:
        """Rename every temporary over its target (interrupts held until all are renamed); returns
        the targets."""
        for tmp, _ in self._staged:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private
        targets = self.targets
        with _signals_held():
            for tmp, target in self._staged:
                os.replace(tmp, target)
            self._staged = []
        return targets

    def discard(self) -> None:
        """Remove every temporary; the targets stay as they were."""
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged = []

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.commit()
        else:
            self.discard()


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then atomically rename it to ``path`` (its
    directory is created). If ``write`` fails, ``path`` is untouched and the temporary removed."""
    with atomic_output(path, durable=True, make_parent=True) as tmp:
        write(str(tmp))


#: errors of writing (not of reading the input): they get the output's name
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EPIPE})


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Name ``path`` in a write error that names no file (a full disk: "No space left on device")."""
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno in _WRITE_ERRORS:
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise


def _is_stream(path: Path) -> bool:
    """Whether ``path`` is a character device or a FIFO (written to directly); raises for other
    special files, which an output must not replace."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return False
    raise FileExistsError(f"output {str(path)!r} is a special file (not a regular file, character device or FIFO): refusing to replace it")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

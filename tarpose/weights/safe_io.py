"""Reading checkpoints without running code, writing them as safetensors.

``.safetensors`` files are read with ``safetensors``; every other file (``.pth``, ``.pt``,
``.bin``, ``.ckpt``) is a pickle and goes through ``torch.load(weights_only=True)``, whose
unpickler only builds tensors and plain containers. A pickle that names anything else (a function
to call, a class to build) is refused before it runs, and tarpose says which global it named.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._checks import json_nesting
from .errors import CheckpointError

#: numpy types that training loops leave in checkpoint metadata (e.g. a best score as a numpy
#: float). They only rebuild numbers, so reading them cannot run code.
_NUMPY_DATA_GLOBALS = ("scalar", "dtype")

#: a model's ``config.json`` is a few KB; anything this large is not one
MAX_CONFIG_BYTES = 1 << 20
#: deepest nesting of lists/objects a config may have (tarpose's has 3)
MAX_CONFIG_NESTING = 16

_REFUSED_GLOBAL = re.compile(r"(?:Unsupported global|GLOBAL)\W+(?:GLOBAL\s+)?([\w.]+)")


def read_checkpoint(path: str | Path) -> Any:
    """The object stored in a checkpoint file: a ``{name: tensor}`` dict for safetensors, the
    unpickled object (usually a dict holding a state dict) for a pickle.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is empty, truncated, not a checkpoint, or a pickle that would
            run code (it is refused and nothing runs).
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise CheckpointError(f"{path} is a directory, not a checkpoint file")
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint")
    if is_safetensors(path):
        return read_safetensors(path)
    return read_pickle(path)


def is_safetensors(path: Path) -> bool:
    """By extension, or for an unknown extension by the header (8-byte length, then ``{``)."""
    if path.suffix == ".safetensors":
        return True
    if path.suffix in (".pth", ".pt", ".bin", ".ckpt", ".tar", ".pkl"):
        return False
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def read_safetensors(path: str | Path) -> dict[str, Tensor]:
    """``{name: tensor}`` from a safetensors file, with a clear error for damaged files."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({error}); it is truncated, empty or "
            "not a safetensors file"
        ) from None


def embedded_config(path: str | Path) -> dict[str, Any] | None:
    """The model config a safetensors file carries in its metadata (``"config"``, as
    ``save_pretrained`` writes it), or ``None``.

    Raises:
        CheckpointError: the metadata's config is too large, too deeply nested, or not a JSON
            object.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not is_safetensors(path):
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            text = (f.metadata() or {}).get("config")
    except SafetensorError as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    return parse_config(text, f"the config in {path}'s metadata") if text else None


def parse_config(text: str | bytes, where: str) -> dict[str, Any]:
    """A model config parsed from JSON, refusing what no config is: more than
    [MAX_CONFIG_BYTES][tarpose.weights.safe_io.MAX_CONFIG_BYTES], nesting deeper than [MAX_CONFIG_NESTING][tarpose.weights.safe_io.MAX_CONFIG_NESTING], invalid JSON
    (``NaN`` included), or anything but an object.

    Args:
        text: the JSON text.
        where: how to name it in messages (a path).

    Raises:
        CheckpointError: one line naming ``where`` and the problem.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{where} is {len(text)} bytes: too large for a model config (at most {MAX_CONFIG_BYTES})")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CheckpointError(f"{where} is not UTF-8 text ({error})") from None
    if json_nesting(text) > MAX_CONFIG_NESTING:  # before json.loads, which would recurse that deep
        raise CheckpointError(f"{where} nests lists/objects more than {MAX_CONFIG_NESTING} deep: not a model config")
    try:
        config = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as error:
        raise CheckpointError(f"{where} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{where} must hold a JSON object, got {type(config).__name__}")
    return config


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_pickle(path: str | Path) -> Any:
    """Unpickle with ``torch.load(weights_only=True)`` only; refuse anything that would run code."""
    import numpy as np

    path = Path(path)
    with path.open("rb") as f:
        head = f.read(8)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip, or a pickle (protocol >= 2)
        raise CheckpointError(
            f"{path} is not a checkpoint: it is neither a safetensors file nor a PyTorch one "
            f"(zip or pickle); it starts with {head!r}"
        )
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25: one class per dtype
    allowed = [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")] if dtypes else []
    allowed += [_numpy_core_global(name) for name in _NUMPY_DATA_GLOBALS]
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    try:
        if safe_globals is None:
            return torch.load(path, map_location="cpu", weights_only=True)
        with safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        match = _REFUSED_GLOBAL.search(str(error))
        what = f"the global `{match.group(1)}`" if match else "an object that is not plain data"
        raise CheckpointError(
            f"refused to load {path}: the pickle refers to {what}, which could run code. tarpose "
            "reads pickles only with torch.load(weights_only=True) and executed nothing. If you "
            "trust the file, load it yourself and re-save its state dict with "
            "safetensors.torch.save_file"
        ) from None
    except Exception as error:  # noqa: BLE001 -- a damaged file fails anywhere in the unpickler (KeyError...)
        raise CheckpointError(
            f"cannot read {path} as a PyTorch checkpoint ({type(error).__name__}: {error}); it is "
            "truncated or not a checkpoint"
        ) from None


def _numpy_core_global(name: str) -> Any:
    import numpy as np

    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core to numpy._core
    return getattr(core.multiarray, name)


def write_safetensors(
    state: dict[str, Tensor], path: str | Path, metadata: dict[str, str] | None = None, *,
    name: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``{name: tensor}`` to ``path`` as safetensors (contiguous CPU copies, no aliasing).

    Args:
        state: the tensors.
        path: the file to write.
        metadata: strings stored in the file's header beside ``{"format": "pt"}``.
        name: the file to name in an error (the output, when ``path`` is its temporary).

    Raises:
        OSError: writing failed (a full disk: ``ENOSPC``), naming ``name``; safetensors' own
            ``SafetensorError`` is not an ``OSError`` and names no file.
    """
    path = Path(path)
    save_safetensors({k: _owned(v) for k, v in state.items()}, path, {"format": "pt", **(metadata or {})},
                     name=name)
    return path


def save_safetensors(
    tensors: dict[str, Tensor], path: str | os.PathLike[str], metadata: dict[str, str], *,
    name: str | os.PathLike[str] | None = None,
) -> None:
    """``safetensors.torch.save_file``, with the operating system's errors raised as ``OSError``
    naming ``name`` (default ``path``): a full disk is "No space left on device: NAME", not a
    ``SafetensorError`` traceback.

    Args:
        tensors: contiguous CPU tensors that share no memory.
        path: the file to write.
        metadata: strings for the file's header.
        name: the file to name in an error.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as error:
        code = re.search(r"\(os error (\d+)\)", str(error))
        if code is None:
            raise
        number = int(code.group(1))
        raise OSError(number, os.strerror(number), str(name or path)) from None


def _owned(tensor: Tensor) -> Tensor:
    """A contiguous CPU tensor owning its storage (a view of a larger tensor is copied)."""
    tensor = tensor.detach().to("cpu").contiguous()
    return tensor if tensor.untyped_storage().nbytes() == tensor.nbytes else tensor.clone()

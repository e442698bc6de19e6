"""Training checkpoints: one safetensors file, written atomically, loaded without pickles.

A checkpoint holds the model's state dict (``model/<key>``), the optimizer's tensors
(``optimizer/<param>/<name>``) and, in the safetensors metadata, a JSON document with everything
else (optimizer hyper-parameters, step, configs). Writing goes to a temporary file in the same
directory, which is flushed to disk and then renamed over the old checkpoint: a crash at any point
leaves either the old or the new checkpoint, never a torn one. A CRC-32 of the tensors, stored
in the metadata, is checked on loading: a file damaged later is refused, not resumed from.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..atomic import atomic_write

FORMAT = "tarpose-checkpoint"
#: 2: the CRC-32 of the tensors is always there (version 1 files may lack it)
VERSION = 2


@dataclass
class Checkpoint:
    """What [load_checkpoint][tarpose.training.checkpoint.load_checkpoint] returns."""

    model: dict[str, Tensor]
    optimizer: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _cpu(t: Tensor) -> Tensor:
    # a private contiguous copy: safetensors refuses tensors sharing storage
    return t.detach().to("cpu", copy=True).contiguous()


def _json_value(value: Any, where: str) -> Any:
    try:
        json.dumps(value)
    except TypeError as error:
        raise TypeError(f"cannot store {where}={value!r} in a checkpoint: {error}") from None
    return value


def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``optimizer.state_dict()`` -> (tensors, JSON structure); see [unflatten_optimizer][tarpose.training.checkpoint.unflatten_optimizer]."""
    tensors: dict[str, Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        entry = {}
        for name, value in values.items():
            if isinstance(value, Tensor):
                key = f"optimizer/{index}/{name}"
                tensors[key] = _cpu(value)
                entry[name] = {"tensor": key}
            else:
                entry[name] = {"value": _json_value(value, f"optimizer state {name}")}
        per_param[str(index)] = entry
    groups = [_json_value(dict(g), "optimizer param group") for g in state["param_groups"]]
    return tensors, {"state": per_param, "param_groups": groups}


def unflatten_optimizer(tensors: dict[str, Tensor], structure: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for index, entry in structure["state"].items():
        state[int(index)] = {
            name: tensors[v["tensor"]] if "tensor" in v else v["value"] for name, v in entry.items()
        }
    groups = []
    for group in structure["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def checksum(tensors: dict[str, Tensor]) -> str:
    """CRC-32 of every tensor's name, dtype, shape and bytes, in name order (hex): a damaged file
    whose header still parses is caught when it is resumed.

    Args:
        tensors: the checkpoint's tensors (on the CPU).
    """
    crc = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        crc = zlib.crc32(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode(), crc)
        crc = zlib.crc32(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()), crc)
    return f"{crc:08x}"


def save_checkpoint(
    path: str | os.PathLike,
    model: dict[str, Tensor],
    optimizer: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
) -> None:
    """Atomically write a checkpoint.

    Args:
        path: the ``.safetensors`` file to (re)place.
        model: a model ``state_dict()``.
        optimizer: an ``optimizer.state_dict()`` (tensors + JSON-able values), or None.
        info: any JSON-able document (step, configs, scaler state, ...).
    """
    from ..weights.safe_io import save_safetensors

    tensors = {f"model/{k}": _cpu(v) for k, v in model.items()}
    document: dict[str, Any] = {"info": _json_value(info or {}, "info"), "optimizer": None}
    if optimizer is not None:
        opt_tensors, document["optimizer"] = flatten_optimizer(optimizer)
        tensors.update(opt_tensors)
    metadata = {"format": FORMAT, "version": str(VERSION), "document": json.dumps(document),
                "crc32": checksum(tensors)}
    atomic_write(path, lambda tmp: save_safetensors(tensors, tmp, metadata, name=path))


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by [save_checkpoint][tarpose.training.checkpoint.save_checkpoint] (no pickle involved)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except Exception as error:  # safetensors raises its own error types on corrupt files
        raise ValueError(f"{path} is not a readable safetensors checkpoint: {error}") from error
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a tarpose training checkpoint (format={metadata.get('format')!r})"
        )
    version = metadata.get("version", "")
    if not version.isdigit():
        raise ValueError(f"{path} is damaged: its checkpoint version {version!r} is not a number")
    if int(version) > VERSION:
        raise ValueError(
            f"{path} has checkpoint version {version}; this tarpose reads <= {VERSION}"
        )
    if "crc32" not in metadata and int(version) >= 2:  # version 1 checkpoints may predate the checksum
        raise ValueError(
            f"{path} is damaged: it has no checksum of its tensors (crc32), which every checkpoint "
            f"of version {version} carries; resume from another checkpoint"
        )
    if "crc32" in metadata and metadata["crc32"] != checksum(tensors):
        raise ValueError(
            f"{path} is corrupted: its tensors do not match the checksum stored when it was "
            "written (a damaged disk or copy); resume from another checkpoint"
        )
    try:  # crafted or damaged metadata fails anywhere in here
        document = json.loads(metadata["document"])
        info = document["info"]
        if not isinstance(info, dict):
            raise TypeError(f"info is a {type(info).__name__}, not an object")
        optimizer = None
        if document["optimizer"] is not None:
            optimizer = unflatten_optimizer(tensors, document["optimizer"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ValueError(
            f"{path} is damaged: its metadata does not describe a training state "
            f"({type(error).__name__}: {error}); resume from another checkpoint"
        ) from None
    model = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    return Checkpoint(model=model, optimizer=optimizer, info=info)

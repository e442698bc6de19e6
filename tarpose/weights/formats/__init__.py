"""Checkpoint layouts tarpose reads, one key-remapping function per source format.

| format | source |
|---|---|
| `"tarpose"` | tarpose's own `save_pretrained` (ViTPose or TemporalWrapper), `tarpose train` output |
| `"transformers"` | Hugging Face `VitPoseForPoseEstimation` (`usyd-community/*`) |
| `"official"` | ViTAE-Transformer/ViTPose `.pth` (ViTPose and ViTPose+) |
| `"easy_vitpose"` | JunkyByte/easy_ViTPose `.pth` (the official layout) |
| `"mmpose"` | mmpose 1.x `TopdownPoseEstimator` (mmpretrain ViT backbone) |
| `"tar_official"` | zgspose/TARViTPose `.pt` (`{"model_state_dict": ...}`) |

Each is one [Format][tarpose.weights.formats.Format] record in `FORMATS`: how to recognise it,
how to rename its keys, and the geometry its weights were trained in ([tarpose.geometry][tarpose.geometry]),
which the loaded model's [DataConfig][tarpose.DataConfig] gets (tarpose's own checkpoints record
theirs in their config, ``"data"``). A new layout is one module with its remapping and one record
here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ...registry import Registry
from ..errors import CheckpointError, key_list
from .common import Remapped
from .mmpose import from_mmpose, is_mmpose
from .official import from_easy_vitpose, from_official, is_official
from .tar_official import from_tar_official, is_tar_official
from .tarpose import from_tarpose, is_tarpose
from .transformers import from_transformers, is_transformers

State = dict[str, Tensor]
Config = dict[str, Any] | None


@dataclass(frozen=True)
class Format:
    """One checkpoint layout.

    Args:
        name: how ``format=`` names it.
        remap: ``(state, config, dataset_index) -> Remapped``: the checkpoint in tarpose's names.
        detect: ``(state, config) -> bool``: whether a checkpoint is in this layout (``None``: never
            detected, only chosen with ``format=``, as easy_ViTPose's, which is the official one).
        geometry: the geometry its training used (``None``: the checkpoint records its own).
        experts: it may hold ViTPose+ experts (``dataset_index`` picks one).
    """

    name: str
    remap: Callable[[State, Config, int | None], Remapped]
    detect: Callable[[State, Config], bool] | None
    geometry: str | None
    experts: bool = False


#: the layouts, in the order detection tries them. Every official ViTPose / ViTPose+ config
#: (``TopDownAffine(use_udp=True)``, ``encoding='UDP'``), easy_ViTPose (the official configs),
#: mmpose's ViTPose configs (``UDPHeatmap``) and transformers' ports are UDP; the official
#: TAR-ViTPose code crops with HRNet's ``get_affine_transform``
FORMATS: Registry[Format] = Registry("checkpoint format")
for _format in (
    Format("tar_official", lambda s, c, i: from_tar_official(s), lambda s, c: is_tar_official(s), "hrnet"),
    Format("transformers", from_transformers, is_transformers, "udp", experts=True),
    Format("mmpose", lambda s, c, i: from_mmpose(s), lambda s, c: is_mmpose(s), "udp"),
    Format("tarpose", lambda s, c, i: from_tarpose(s, c), is_tarpose, None),
    Format("official", lambda s, c, i: from_official(s, i), lambda s, c: is_official(s), "udp", experts=True),
    Format("easy_vitpose", lambda s, c, i: from_easy_vitpose(s, i), None, "udp", experts=True),
):
    FORMATS.register(_format.name, _format)

#: dict keys under which training scripts nest the state dict, in the order they are tried
CONTAINER_KEYS: tuple[str, ...] = ("model_state_dict", "state_dict", "model", "module")


def find_state_dict(obj: Any, *, source: str) -> dict[str, Tensor]:
    """The ``{name: tensor}`` state dict inside a loaded checkpoint object.

    Accepts a bare state dict or one nested under ``model_state_dict`` / ``state_dict`` /
    ``model`` / ``module``; a DataParallel ``module.`` prefix on every key is removed.
    """
    for _ in range(3):
        if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
            break
        if not isinstance(obj, dict):
            raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state dict")
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            raise CheckpointError(
                f"{source} holds no state dict: top-level keys {key_list(map(str, obj))}, none "
                f"of {', '.join(CONTAINER_KEYS)} is a dict of tensors"
            )
        obj = inner
    else:
        raise CheckpointError(f"{source}: no dict of tensors found within three levels")
    odd = [k for k in obj if not isinstance(k, str)]
    if odd:
        raise CheckpointError(
            f"{source}: a state dict's keys are parameter names (strings), but it holds "
            f"{key_list([repr(k) for k in odd])}"
        )
    state: dict[str, Tensor] = obj
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def detect_format(state: dict[str, Tensor], config: dict[str, Any] | None = None) -> str:
    """Which of `FORMATS` a state dict (and its ``config.json``) is in."""
    for name, fmt in FORMATS.items():
        if fmt.detect is not None and fmt.detect(state, config):
            return name
    raise CheckpointError(
        "not a ViTPose checkpoint tarpose knows (tarpose, transformers, official ViTPose / "
        f"ViTPose+, easy_ViTPose, mmpose 1.x, TAR-ViTPose); its first keys: {key_list(state, 6)}"
    )


def remap(
    state: dict[str, Tensor],
    config: dict[str, Any] | None = None,
    *,
    format: str | None = None,
    dataset_index: int | None = None,
) -> tuple[str, Remapped]:
    """Detect (or take) the format and rewrite the checkpoint in tarpose's names."""
    name = format or detect_format(state, config)
    fmt = FORMATS.get(name)
    if dataset_index is not None and not fmt.experts:
        raise ValueError(f"dataset_index only applies to ViTPose+ checkpoints, not to {name} ones")
    remapped = fmt.remap(state, config, dataset_index)
    remapped.format = name
    if fmt.geometry is not None:  # the geometry its training used (a tarpose file records its own)
        remapped.data = {"geometry": fmt.geometry, **(remapped.data or {})}
    return name, remapped


__all__ = ["CONTAINER_KEYS", "FORMATS", "Format", "Remapped", "detect_format", "find_state_dict", "remap"]

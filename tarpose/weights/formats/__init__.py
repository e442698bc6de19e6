"""Checkpoint layouts tarpose reads, one key-remapping function per source format.

| format | source |
|---|---|
| `"tarpose"` | tarpose's own `save_pretrained` (ViTPose or TemporalWrapper), `tarpose train` output |
| `"transformers"` | Hugging Face `VitPoseForPoseEstimation` (`usyd-community/*`) |
| `"official"` | ViTAE-Transformer/ViTPose `.pth` (ViTPose and ViTPose+) |
| `"easy_vitpose"` | JunkyByte/easy_ViTPose `.pth` (the official layout) |
| `"mmpose"` | mmpose 1.x `TopdownPoseEstimator` (mmpretrain ViT backbone) |
| `"tar_official"` | zgspose/TARViTPose `.pt` (`{"model_state_dict": ...}`) |

Each foreign layout also fixes the geometry its weights were trained in
(`GEOMETRY_OF_FORMAT`, [tarpose.geometry][tarpose.geometry]), which the loaded model's
[DataConfig][tarpose.DataConfig] gets; tarpose's own checkpoints record theirs in their config
(``"data"``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ..errors import CheckpointError, key_list
from .common import Remapped
from .mmpose import from_mmpose, is_mmpose
from .official import from_easy_vitpose, from_official, is_official
from .tar_official import from_tar_official, is_tar_official
from .tarpose import from_tarpose, is_tarpose
from .transformers import from_transformers, is_transformers

FORMATS: tuple[str, ...] = ("tarpose", "transformers", "official", "easy_vitpose", "mmpose", "tar_official")

#: the geometry ([tarpose.geometry][tarpose.geometry]) each foreign layout's training used: every official
#: ViTPose / ViTPose+ config (``TopDownAffine(use_udp=True)``, ``encoding='UDP'``), easy_ViTPose
#: (the official configs), mmpose's ViTPose configs (``UDPHeatmap``) and transformers' ports are
#: UDP; the official TAR-ViTPose code crops with HRNet's ``get_affine_transform``
GEOMETRY_OF_FORMAT: dict[str, str] = {
    "transformers": "udp", "official": "udp", "easy_vitpose": "udp", "mmpose": "udp",
    "tar_official": "hrnet",
}

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
    state: dict[str, Tensor] = obj
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def detect_format(state: dict[str, Tensor], config: dict[str, Any] | None = None) -> str:
    """Which of ``FORMATS`` a state dict (and its ``config.json``) is in."""
    if is_tar_official(state):
        return "tar_official"
    if is_transformers(state, config):
        return "transformers"
    if is_mmpose(state):
        return "mmpose"
    if is_tarpose(state, config):
        return "tarpose"
    if is_official(state):
        return "official"
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
    fmt = format or detect_format(state, config)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if dataset_index is not None and fmt in ("tarpose", "mmpose", "tar_official"):
        raise ValueError(f"dataset_index only applies to ViTPose+ checkpoints, not to {fmt} ones")
    if fmt == "transformers":
        remapped = from_transformers(state, config, dataset_index)
    elif fmt == "tarpose":
        remapped = from_tarpose(state, config)
    elif fmt == "official":
        remapped = from_official(state, dataset_index)
    elif fmt == "easy_vitpose":
        remapped = from_easy_vitpose(state, dataset_index)
    elif fmt == "mmpose":
        remapped = from_mmpose(state)
    else:
        remapped = from_tar_official(state)
    remapped.format = fmt
    if fmt in GEOMETRY_OF_FORMAT:  # the geometry its training used (a tarpose file records its own)
        remapped.data = {"geometry": GEOMETRY_OF_FORMAT[fmt], **(remapped.data or {})}
    return fmt, remapped


__all__ = [
    "CONTAINER_KEYS", "FORMATS", "GEOMETRY_OF_FORMAT", "Remapped", "detect_format", "find_state_dict",
    "remap",
]

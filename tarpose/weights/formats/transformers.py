"""Hugging Face transformers ``VitPoseForPoseEstimation`` (``usyd-community/vitpose-*``).

Facts (transformers' ``modeling_vitpose_backbone.py`` / ``modeling_vitpose.py``):

- ``backbone.embeddings.position_embeddings`` is ``(1, 1+N, C)`` and the forward adds
  ``pos[:, 1:] + pos[:, :1]``; the patch conv has padding 2 like the original.
- attention keeps separate ``query``/``key``/``value`` linears; tarpose fuses them into one
  ``qkv`` (rows in q, k, v order, as in the original ViTPose).
- the head reads ``feature_maps[-1]``, the output of stage ``out_indices[-1]`` after the final
  ``backbone.layernorm``; blocks after that stage do not affect the heatmaps.
- ViTPose+ (``num_experts > 1``): ``mlp.experts.k`` gives the last ``part_features`` channels.
- heads: ``head.conv`` (simple: ReLU, bilinear x``scale_factor``, 3x3 conv) or ``head.deconv1``,
  ``batchnorm1``, ``deconv2``, ``batchnorm2``, ``conv`` (classic).
- the config's ``layer_norm_eps`` (1e-12 by default there, 1e-6 in the original) is kept, so
  the heatmaps equal transformers' own.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor

from ..errors import CheckpointError
from .common import Remapped, add_cls_slot, merge_experts, no_dataset_choice, reject_unknown, rename

_B = r"backbone\.encoder\.layer\.(\d+)\."
RULES: list[tuple[str, str]] = [
    (r"backbone\.embeddings\.patch_embeddings\.projection\.(weight|bias)", r"backbone.patch_embed.proj.\1"),
    (_B + r"attention\.output\.dense\.(weight|bias)", r"backbone.blocks.\1.attn.proj.\2"),
    (_B + r"layernorm_before\.(weight|bias)", r"backbone.blocks.\1.norm1.\2"),
    (_B + r"layernorm_after\.(weight|bias)", r"backbone.blocks.\1.norm2.\2"),
    (_B + r"mlp\.(fc1|fc2)\.(weight|bias)", r"backbone.blocks.\1.mlp.\2.\3"),
    (_B + r"mlp\.experts\.(\d+)\.(weight|bias)", r"backbone.blocks.\1.mlp.experts.\2.\3"),
    (r"backbone\.layernorm\.(weight|bias)", r"backbone.last_norm.\1"),
    (r"head\.conv\.(weight|bias)", r"keypoint_head.final_layer.\1"),
    (r"head\.deconv1\.(weight)", r"keypoint_head.deconv_layers.0.\1"),
    (r"head\.batchnorm1\.(\w+)", r"keypoint_head.deconv_layers.1.\1"),
    (r"head\.deconv2\.(weight)", r"keypoint_head.deconv_layers.3.\1"),
    (r"head\.batchnorm2\.(\w+)", r"keypoint_head.deconv_layers.4.\1"),
]
_QKV = re.compile(_B + r"attention\.attention\.(query|key|value)\.(weight|bias)")


def is_transformers(state: dict[str, Tensor], config: dict[str, Any] | None) -> bool:
    return (config or {}).get("model_type") == "vitpose" or "backbone.embeddings.position_embeddings" in state


def from_transformers(
    state: dict[str, Tensor], config: dict[str, Any] | None = None, dataset_index: int | None = None
) -> Remapped:
    """transformers ``VitPoseForPoseEstimation`` state dict (+ its ``config.json``) -> tarpose."""
    config = config or {}
    backbone_cfg = config.get("backbone_config") or {}
    state = dict(state)
    pos = state.pop("backbone.embeddings.position_embeddings", None)
    if pos is None:
        raise CheckpointError("transformers ViTPose checkpoint without backbone.embeddings.position_embeddings")
    qkv: dict[tuple[int, str], dict[str, Tensor]] = {}
    for key in [k for k in state if _QKV.fullmatch(k)]:
        layer, part, kind = _QKV.fullmatch(key).groups()  # type: ignore[union-attr]
        qkv.setdefault((int(layer), kind), {})[part] = state.pop(key)
    out, unknown = rename(state, RULES)
    reject_unknown(unknown, fmt="transformers ViTPose")
    out["backbone.pos_embed"] = add_cls_slot(pos)
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(f"layer {layer} lacks some of query/key/value {kind}")
        out[f"backbone.blocks.{layer}.attn.qkv.{kind}"] = torch.cat(
            [parts["query"], parts["key"], parts["value"]], dim=0
        )
    dim = out["backbone.patch_embed.proj.weight"].shape[0]
    ignored: dict[str, str] = {}
    if not merge_experts(out, dim, dataset_index, ignored):
        no_dataset_choice(dataset_index)
    _keep_output_stage(out, backbone_cfg, ignored)
    return Remapped(out, config=_config_fields(config, backbone_cfg), ignored=ignored)


def _keep_output_stage(state: dict[str, Tensor], backbone_cfg: dict[str, Any], ignored: dict[str, str]) -> None:
    """Drop the blocks after the stage the head reads (transformers never runs them for it)."""
    depth = len({k.split(".")[2] for k in state if k.startswith("backbone.blocks.")})
    indices = backbone_cfg.get("out_indices")
    if not indices:
        return
    last = indices[-1] if indices[-1] >= 0 else depth + 1 + indices[-1]
    if not 1 <= last <= depth:
        raise CheckpointError(
            f"config out_indices={indices}: the head must read a transformer stage 1..{depth}"
        )
    for key in [k for k in state if k.startswith("backbone.blocks.") and int(k.split(".")[2]) >= last]:
        ignored[key] = f"block after stage {last}, which the head reads (config out_indices)"
        del state[key]


def _grid(backbone_cfg: dict[str, Any]) -> tuple[int, int] | None:
    size, patch = backbone_cfg.get("image_size"), backbone_cfg.get("patch_size", 16)
    if size is None:
        return None
    size = (size, size) if isinstance(size, int) else size
    patch = (patch, patch) if isinstance(patch, int) else patch
    return int(size[0]) // int(patch[0]), int(size[1]) // int(patch[1])


def _config_fields(config: dict[str, Any], backbone_cfg: dict[str, Any]) -> dict[str, Any]:
    act = backbone_cfg.get("hidden_act", "gelu")
    if act != "gelu":
        raise CheckpointError(f"transformers ViTPose with hidden_act={act!r}: tarpose's ViTPose uses exact GELU")
    fields: dict[str, Any] = {}
    if "num_attention_heads" in backbone_cfg:
        fields["num_heads"] = int(backbone_cfg["num_attention_heads"])
    if "layer_norm_eps" in backbone_cfg:
        fields["layer_norm_eps"] = float(backbone_cfg["layer_norm_eps"])
    if "scale_factor" in config:
        fields["upsample"] = int(config["scale_factor"])
    grid, patch = _grid(backbone_cfg), backbone_cfg.get("patch_size", 16)
    if grid is not None:
        p = patch if isinstance(patch, int) else patch[0]
        fields["input_size"] = (grid[0] * int(p), grid[1] * int(p))
    return fields

"""The [ViTPoseConfig][tarpose.ViTPoseConfig] of a remapped checkpoint: read from the tensors' shapes,
completed by what the checkpoint's config says, overridden by the caller."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from torch import Tensor

from .._checks import check_fields
from ..models.vitpose import VITPOSE_SPECS, ViTPoseConfig
from .errors import CheckpointError
from .formats.common import HEADS_BY_WIDTH, grid_from_tokens

CONFIG_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ViTPoseConfig))


def token_grid(input_size: tuple[int, int], patch_size: int = 16, padding: int = 2) -> tuple[int, int]:
    """The ViT token grid ``(h, w)`` of an ``(H, W)`` input (ViTPose's padded patch conv)."""
    return tuple((s + 2 * padding - patch_size) // patch_size + 1 for s in input_size)  # type: ignore[return-value]


def infer_config(
    state: dict[str, Tensor], known: dict[str, Any], overrides: dict[str, Any], *, source: str
) -> tuple[ViTPoseConfig, tuple[int, int]]:
    """The config to build, and the grid ``(h, w)`` of the stored position embeddings.

    Priority: ``overrides`` > ``known`` (the checkpoint's config) > the tensors' shapes.
    """
    unknown = sorted(set(overrides) - CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"unknown ViTPose config overrides {unknown}; valid: {sorted(CONFIG_FIELDS)}")
    try:
        proj = state["backbone.patch_embed.proj.weight"]  # (c, in_chans, k, k)
        pos = state["backbone.pos_embed"]  # (1, h*w, c)
        fc1 = state["backbone.blocks.0.mlp.fc1.weight"]  # (hidden, c)
        final = state["keypoint_head.final_layer.weight"]  # (j, c_in, k, k)
    except KeyError as error:
        raise CheckpointError(f"{source} lacks {error.args[0]}: not a complete ViTPose") from None
    dim = proj.shape[0]
    shapes: dict[str, Any] = dict(
        embed_dim=dim, in_chans=proj.shape[1], patch_size=proj.shape[-1],
        depth=len({k.split(".")[2] for k in state if k.startswith("backbone.blocks.")}),
        mlp_ratio=fc1.shape[0] / dim, qkv_bias="backbone.blocks.0.attn.qkv.bias" in state,
        num_joints=final.shape[0],
    )
    if "keypoint_head.deconv_layers.0.weight" in state:
        shapes.update(decoder="classic", deconv_channels=state["keypoint_head.deconv_layers.0.weight"].shape[1])
    else:
        shapes["decoder"] = "simple"
    if dim in HEADS_BY_WIDTH:
        shapes["num_heads"] = HEADS_BY_WIDTH[dim]
    try:  # the checkpoint's own values, checked before any is used
        known = check_fields(VITPOSE_SPECS, {k: v for k, v in known.items() if k in CONFIG_FIELDS}, what="ViTPoseConfig")
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid ViTPose config: {error}") from None
    merged = {**shapes, **known}
    patch, padding = int(merged["patch_size"]), int(merged.get("patch_padding", 2))
    hint = token_grid(merged["input_size"], patch, padding) if "input_size" in merged else None
    grid = grid_from_tokens(pos.shape[1], hint)
    if grid is None and "input_size" in overrides:  # an odd grid, named by the caller
        grid = grid_from_tokens(pos.shape[1], token_grid(overrides["input_size"], patch, padding))
    if grid is None:
        raise CheckpointError(
            f"{source}: cannot tell the input size from {pos.shape[1]} position embeddings; pass "
            "input_size=(H, W) of the checkpoint"
        )
    merged.setdefault("input_size", (grid[0] * patch, grid[1] * patch))
    merged.update(overrides)
    if "num_heads" not in merged:
        raise CheckpointError(
            f"{source}: embed_dim={dim} is not a ViTPose size, so the number of attention heads "
            "is unknown; pass num_heads="
        )
    try:
        config = ViTPoseConfig(**{k: v for k, v in merged.items() if k in CONFIG_FIELDS})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid ViTPose config: {error}") from None
    return config, grid

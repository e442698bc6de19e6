"""The official ViTPose / ViTPose+ checkpoints (ViTAE-Transformer/ViTPose) and easy_ViTPose's.

Facts (ViTPose ``mmpose/models/backbones/vit.py``, ``vit_moe.py``, ``tools/model_split.py``;
easy_ViTPose ``vit_models/backbone/vit.py``, ``inference.py``):

- a ``.pth`` holding ``{"state_dict": ...}`` (mmcv) or, for easy_ViTPose, the bare state dict;
  keys ``backbone.patch_embed.proj``, ``backbone.pos_embed``, ``backbone.blocks.i.*``,
  ``backbone.last_norm``, ``keypoint_head.deconv_layers.{0,1,3,4}``, ``keypoint_head.final_layer``.
- ``backbone.pos_embed`` is ``(1, 1+N, C)`` and the forward adds ``pos[:, 1:] + pos[:, :1]``:
  the cls slot is added to every position. Some files also hold a ``backbone.cls_token`` that
  the forward never uses.
- ViTPose+ adds ``backbone.blocks.i.mlp.experts.k`` (see ``.common.merge_experts``) and one
  extra head per other dataset, ``associate_keypoint_heads.{k-1}``, for dataset ``k``; the split
  tool keeps the first ``(14, 16, 17, 17, 133)[k-1]`` channels of that head's final layer
  (AIC, MPII, AP-10K, APT-36K, COCO-WholeBody).
- easy_ViTPose uses the same module names and the same position-embedding rule, so its files
  load through the same mapping.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import CheckpointError
from .common import Remapped, add_cls_slot, merge_experts, no_dataset_choice, reject_unknown, take

#: joints of the ViTPose+ associate heads 0..4 (datasets 1..5), as the official split tool cuts them
ASSOCIATE_HEAD_JOINTS: tuple[int, ...] = (14, 16, 17, 17, 133)

_BACKBONE = ("patch_embed.proj.", "pos_embed", "blocks.", "last_norm.")


def is_official(state: dict[str, Tensor]) -> bool:
    return "backbone.blocks.0.attn.qkv.weight" in state and any(
        k.startswith("keypoint_head.") for k in state
    )


def from_official(state: dict[str, Tensor], dataset_index: int | None = None) -> Remapped:
    """Official ViTPose / ViTPose+ state dict -> tarpose (``dataset_index``: ViTPose+ dataset,
    0 = COCO, picks the expert and the head)."""
    state = dict(state)
    ignored: dict[str, str] = {}
    if "backbone.cls_token" in state:
        del state["backbone.cls_token"]
        ignored["backbone.cls_token"] = "never used by ViTPose's forward"
    heads = sorted({int(k.split(".")[1]) for k in state if k.startswith("associate_keypoint_heads.")})
    head_prefix = "keypoint_head."
    if dataset_index not in (None, 0) and heads:
        if dataset_index - 1 not in heads:
            raise CheckpointError(
                f"dataset_index={dataset_index}: this ViTPose+ checkpoint has heads for datasets "
                f"0..{len(heads)} only"
            )
        head_prefix = f"associate_keypoint_heads.{dataset_index - 1}."
    head = take(state, head_prefix)
    for key in [k for k in state if k.startswith(("keypoint_head.", "associate_keypoint_heads."))]:
        if not key.startswith(head_prefix):
            ignored[key] = f"head of another dataset (using {head_prefix.rstrip('.')})"
        del state[key]
    if head_prefix != "keypoint_head.":
        keep = ASSOCIATE_HEAD_JOINTS[dataset_index - 1]  # type: ignore[operator]
        for name in ("final_layer.weight", "final_layer.bias"):
            if name in head:
                head[name] = head[name][:keep]
    backbone = take(state, "backbone.")
    unknown = [k for k in state if not k.startswith("backbone.")]
    unknown += ["backbone." + k for k in backbone if not k.startswith(_BACKBONE)]
    unknown += [head_prefix + k for k in head if not k.startswith(("deconv_layers.", "final_layer."))]
    reject_unknown(unknown, fmt="official ViTPose")
    out = {"backbone." + k: v for k, v in backbone.items()}
    out.update({"keypoint_head." + k: v for k, v in head.items()})
    if "backbone.pos_embed" not in out:
        raise CheckpointError("official ViTPose checkpoint without backbone.pos_embed")
    out["backbone.pos_embed"] = add_cls_slot(out["backbone.pos_embed"])
    dim = out["backbone.patch_embed.proj.weight"].shape[0]
    if not merge_experts(out, dim, dataset_index, ignored) and not heads:
        no_dataset_choice(dataset_index)
    return Remapped(out, ignored=ignored)


def from_easy_vitpose(state: dict[str, Tensor], dataset_index: int | None = None) -> Remapped:
    """easy_ViTPose checkpoint -> tarpose: the official layout (see the module docstring)."""
    return from_official(state, dataset_index)

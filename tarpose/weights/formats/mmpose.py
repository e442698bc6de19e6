"""mmpose 1.x ``TopdownPoseEstimator`` with an mmpretrain ``VisionTransformer`` backbone.

Facts (mmpretrain ``models/backbones/vision_transformer.py``, ``models/utils/embed.py``;
mmpose 1.x ViTPose configs, ``HeatmapHead``, ``FeatureMapProcessor``):

- backbone keys ``backbone.patch_embed.projection``, ``backbone.pos_embed``,
  ``backbone.layers.i.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}``,
  ``backbone.ln1`` (the final norm); ViTPose configs use ``with_cls_token=False``, so the model's
  ``pos_embed`` is ``(1, N, C)``. Loading a ``(1, 1+N, C)`` one, mmpretrain's
  ``_prepare_pos_embed`` DROPS slot 0 (``pos[:, 1:]``); it does not add it as the official
  ViTPose forward does. tarpose does the same as mmpretrain here.
- a different input size resizes the stored grid bicubically (``align_corners=False``) at run
  time, as tarpose's ViT does.
- head keys ``head.deconv_layers.{0,1,3,4}`` (classic) and ``head.final_layer``; the simple
  variant has no deconvolutions and a neck ``FeatureMapProcessor(scale_factor=4,
  apply_relu=True)`` (ReLU, bilinear x4) without parameters.
- mmpretrain options ViTPose does not use (a cls token, ``pre_norm``, layer scale ``gamma``,
  ``conv_layers`` in the head) have no place in tarpose's ViTPose and are reported.
"""

from __future__ import annotations

from torch import Tensor

from .common import Remapped, has_cls_slot, reject_unknown, rename

_L = r"backbone\.layers\.(\d+)\."
BACKBONE_RULES: list[tuple[str, str]] = [
    (r"backbone\.patch_embed\.projection\.(weight|bias)", r"backbone.patch_embed.proj.\1"),
    (r"backbone\.pos_embed", r"backbone.pos_embed"),
    (_L + r"ln1\.(weight|bias)", r"backbone.blocks.\1.norm1.\2"),
    (_L + r"attn\.(qkv|proj)\.(weight|bias)", r"backbone.blocks.\1.attn.\2.\3"),
    (_L + r"ln2\.(weight|bias)", r"backbone.blocks.\1.norm2.\2"),
    (_L + r"ffn\.layers\.0\.0\.(weight|bias)", r"backbone.blocks.\1.mlp.fc1.\2"),
    (_L + r"ffn\.layers\.1\.(weight|bias)", r"backbone.blocks.\1.mlp.fc2.\2"),
    (r"backbone\.ln1\.(weight|bias)", r"backbone.last_norm.\1"),
]
HEAD_RULES: list[tuple[str, str]] = [
    (r"head\.deconv_layers\.(\d+)\.(\w+)", r"keypoint_head.deconv_layers.\1.\2"),
    (r"head\.final_layer\.(weight|bias)", r"keypoint_head.final_layer.\1"),
]


def is_mmpose(state: dict[str, Tensor]) -> bool:
    return "backbone.layers.0.attn.qkv.weight" in state and "backbone.patch_embed.projection.weight" in state


def from_mmpose(state: dict[str, Tensor]) -> Remapped:
    """mmpose 1.x ViTPose state dict -> tarpose."""
    out, unknown = rename(state, BACKBONE_RULES + HEAD_RULES)
    reject_unknown(unknown, fmt="mmpose")
    return Remapped(out, ignored=drop_cls_slot(out))


def drop_cls_slot(state: dict[str, Tensor]) -> dict[str, str]:
    """mmpretrain with ``with_cls_token=False`` meeting a ``(1, 1+N, C)`` table keeps ``[:, 1:]``.

    A table whose length minus one is a ViTPose grid while its length is not (193 = 1 + 16*12)
    has the slot (see ``.common.has_cls_slot``). Returns the ignored-key note.
    """
    pos = state["backbone.pos_embed"]
    if has_cls_slot(pos.shape[1]):
        state["backbone.pos_embed"] = pos[:, 1:]
        return {"backbone.pos_embed[:, 0]": "cls slot, dropped as mmpretrain does (with_cls_token=False)"}
    return {}

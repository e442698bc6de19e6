"""The official TAR-ViTPose checkpoints (zgspose/TARViTPose, ``{"model_state_dict": ...}``).

Facts (reference ``models/best/TAR_ViTPose.py``, ``configs/.../configTARViTPoseVitB.yaml``,
``models/vitpose/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py``):

- the model holds an mmpose ``TopdownPoseEstimator`` as ``model`` and also its backbone as
  ``backbone`` and ``nn.Sequential(head.deconv_layers, head.final_layer)`` as ``heatmap_head``,
  so the same tensors appear under ``model.backbone.*`` and ``backbone.*``, and under
  ``model.head.{deconv_layers,final_layer}.*`` and ``heatmap_head.{0,1}.*``; backbone names are
  mmpretrain's (see ``.mmpose``). The copies must agree.
- the mmpretrain ViT is built for 256x192 (``pos_embed`` 16x12, no cls token) and run on
  384x288 crops, its position embeddings resized bicubically at run time.
- the temporal head: ``query_feat``, ``query_pe`` (``nn.Embedding(J, C)``),
  ``masked_attention_layers.i.{mha, norm}``, ``self_attention_layers.i.{mha, norm}``
  (``nn.MultiheadAttention`` + LayerNorm), ``ffn_layers.i.{fc1, fc2, norm}`` (hidden ``2C``),
  ``cross_attention.{mha, norm}``; 4 heads (not stored), window ``WINDOWS_SIZE`` = 5, mask
  threshold 0.2, post-norm restore, tokens laid out by a reshape (tarpose's
  ``token_layout="official"``).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from ..errors import CheckpointError, key_list
from ...models.temporal import TARConfig
from .common import Remapped, reject_unknown, rename, take
from .mmpose import BACKBONE_RULES, HEAD_RULES, drop_cls_slot

#: where the reference trained and runs: 384x288 crops (position embeddings stored for 256x192)
REFERENCE_INPUT: tuple[int, int] = (384, 288)
REFERENCE_NUM_FRAMES = 5
REFERENCE_HEADS = 4
REFERENCE_MASK_THRESHOLD = 0.2

_J = r"(masked_attention_layers|self_attention_layers)\.(\d+)\."
_LAYER = {"masked_attention_layers": ("cross_attn", "norm1"), "self_attention_layers": ("self_attn", "norm2")}
TEMPORAL_RULES: list[tuple[str, str]] = [
    (r"query_feat\.weight", "jta.query_embed"),
    (r"query_pe\.weight", "jta.query_pos"),
    (r"ffn_layers\.(\d+)\.(fc1|fc2)\.(weight|bias)", r"jta.layers.\1.mlp.\2.\3"),
    (r"ffn_layers\.(\d+)\.norm\.(weight|bias)", r"jta.layers.\1.norm3.\2"),
    (r"cross_attention\.mha\.(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)", r"gra.attn.\1"),
    (r"cross_attention\.norm\.(weight|bias)", r"gra.norm.\1"),
]


def is_tar_official(state: dict[str, Tensor]) -> bool:
    return "query_feat.weight" in state and "masked_attention_layers.0.mha.in_proj_weight" in state


def from_tar_official(state: dict[str, Tensor]) -> Remapped:
    """Official TAR-ViTPose state dict -> tarpose ViTPose tensors + JTA/GRA tensors + the
    TARConfig fields that reproduce the reference computation."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    backbone = _one_copy(state, "backbone.", "model.backbone.")
    head = {"head.deconv_layers." + k: v for k, v in take(state, "heatmap_head.0.").items()}
    head.update({"head.final_layer." + k: v for k, v in take(state, "heatmap_head.1.").items()})
    if not head:  # a file without the heatmap_head alias still has the estimator's head
        head = {"head." + k: v for k, v in take(state, "model.head.").items()}
    else:
        _same(head, {"head." + k: v for k, v in take(state, "model.head.").items()}, "model.head.")
    vitpose, unknown = rename({**{"backbone." + k: v for k, v in backbone.items()}, **head},
                              BACKBONE_RULES + HEAD_RULES)
    reject_unknown(unknown, fmt="TAR-ViTPose backbone/head")
    ignored = drop_cls_slot(vitpose)

    strays = [k for k in state if k.startswith("model.") and not k.startswith(("model.backbone.", "model.head."))]
    reject_unknown(strays, fmt="TAR-ViTPose pose estimator")
    rest = {k: v for k, v in state.items() if not k.startswith(("backbone.", "model.", "heatmap_head."))}
    temporal, unknown = _temporal(rest)
    reject_unknown(unknown, fmt="TAR-ViTPose temporal head")
    needed = ["jta.query_embed", "jta.layers.0.mlp.fc1.weight"]
    if any(k not in temporal for k in needed):
        raise CheckpointError("no TAR-ViTPose temporal head (query_feat, masked_attention_layers...)")
    depth = len({k.split(".")[2] for k in temporal if k.startswith("jta.layers.")})
    dim = temporal["jta.query_embed"].shape[1]
    hidden = temporal["jta.layers.0.mlp.fc1.weight"].shape[0]
    temporal_config = TARConfig.paper(
        num_frames=REFERENCE_NUM_FRAMES, jta_depth=depth, jta_heads=REFERENCE_HEADS,
        jta_mlp_ratio=hidden / dim, mask_threshold=REFERENCE_MASK_THRESHOLD,
        gra_heads=REFERENCE_HEADS, token_layout="official", target="centred",
    ).to_dict()
    return Remapped(
        vitpose, config={"input_size": REFERENCE_INPUT}, temporal=temporal,
        temporal_config=temporal_config, ignored=ignored,
    )


def _temporal(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    attention = {}
    for key in list(state):
        m = re.fullmatch(_J + r"(mha\.in_proj_weight|mha\.in_proj_bias|mha\.out_proj\.weight|mha\.out_proj\.bias|norm\.weight|norm\.bias)", key)
        if m:
            kind, i, name = m.groups()
            attn, norm = _LAYER[kind]
            target = name.replace("mha.", f"{attn}.") if name.startswith("mha.") else name.replace("norm.", f"{norm}.")
            attention[f"jta.layers.{i}.{target}"] = state.pop(key)
    out, unknown = rename(state, TEMPORAL_RULES)
    out.update(attention)
    return out, unknown


def _one_copy(state: dict[str, Tensor], prefix: str, alias: str) -> dict[str, Tensor]:
    """The tensors under ``prefix``, checked against their copies under ``alias``."""
    main, copy = take(state, prefix), take(state, alias)
    if not main:
        main = copy
    else:
        _same(main, copy, alias)
    if not main:
        raise CheckpointError(f"TAR-ViTPose checkpoint without {prefix}* (or {alias}*) tensors")
    return main


def _same(main: dict[str, Tensor], copy: dict[str, Tensor], alias: str) -> None:
    if not copy:
        return
    differ = [k for k in main if k not in copy or not torch.equal(main[k], copy[k])]
    differ += [k for k in copy if k not in main]
    if differ:
        raise CheckpointError(
            f"the checkpoint's two copies of the same modules disagree ({alias}* vs the alias): "
            f"{key_list(differ)}"
        )

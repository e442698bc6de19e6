"""What every key-remapping function returns, and the pieces the ViTPose layouts share.

A remapping function takes a checkpoint's state dict (and its ``config.json``, if any) and
returns [Remapped][tarpose.weights.formats.common.Remapped]: the tensors under tarpose's [ViTPose][tarpose.ViTPose] names
(``backbone.patch_embed.proj``, ``backbone.pos_embed`` ``(1, h*w, C)`` without a cls slot,
``backbone.blocks.i.*``, ``backbone.last_norm``, ``keypoint_head.*``), what the checkpoint says
about the architecture, and, for temporal checkpoints, the JTA/GRA tensors. Every source key is
either mapped, listed in ``ignored`` with a reason, or reported as unknown: nothing is dropped
silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import CheckpointError, key_list


@dataclass
class Remapped:
    """A checkpoint rewritten in tarpose's names."""

    #: ViTPose tensors in tarpose names; ``backbone.pos_embed`` is ``(1, h*w, C)``.
    vitpose: dict[str, Tensor]
    #: [ViTPoseConfig][tarpose.ViTPoseConfig] fields the checkpoint fixes (heads, eps, input size...);
    #: an ``input_size`` whose token grid differs from the stored table is the size to run at
    config: dict[str, Any] = field(default_factory=dict)
    #: the temporal part's tensors in [TemporalWrapper][tarpose.TemporalWrapper] names (``jta.*``, ``gra.*``,
    #: ``heatmap_embed.*``)
    temporal: dict[str, Tensor] | None = None
    #: [TARConfig][tarpose.TARConfig] fields of a temporal checkpoint
    temporal_config: dict[str, Any] | None = None
    #: checkpoint keys deliberately left out, with the reason
    ignored: dict[str, str] = field(default_factory=dict)
    #: the source layout, one of [tarpose.weights.formats.FORMATS][tarpose.weights.formats.FORMATS]
    format: str = ""
    #: [DataConfig][tarpose.DataConfig] fields the checkpoint's config gives (preprocessing)
    data: dict[str, Any] | None = None
    #: the registered name a tarpose checkpoint was built as, if it says
    name: str | None = None
    #: the fields where the ``config.json`` read differs from the config the weights file carries
    #: in its metadata (they must agree: `tarpose.weights.load.check_agreement`)
    config_conflicts: list[str] = field(default_factory=list)


def rename(
    state: dict[str, Tensor],
    rules: Iterable[tuple[str, str]],
) -> tuple[dict[str, Tensor], list[str]]:
    """Apply regex ``(pattern, replacement)`` rules (first full match wins) to every key.

    Returns the renamed tensors and the keys no rule matched.
    """
    compiled = [(re.compile(p), r) for p, r in rules]
    out: dict[str, Tensor] = {}
    unmatched: list[str] = []
    for key, value in state.items():
        for pattern, replacement in compiled:
            match = pattern.fullmatch(key)
            if match:
                out[match.expand(replacement)] = value
                break
        else:
            unmatched.append(key)
    return out, unmatched


def reject_unknown(keys: list[str], *, fmt: str) -> None:
    """Raise for keys a remapping function does not understand (never drop them silently)."""
    if keys:
        raise CheckpointError(
            f"the {fmt} checkpoint has keys tarpose's ViTPose cannot hold ({len(keys)}): "
            f"{key_list(keys)}; it is not a plain ViTPose (different backbone or head?)"
        )


def take(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The entries under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def add_cls_slot(pos_embed: Tensor) -> Tensor:
    """Official ViTPose / transformers: ``(1, 1+N, C)`` whose slot 0 is added to every position
    (``pos[:, 1:] + pos[:, :1]``) -> ``(1, N, C)``."""
    return pos_embed[:, 1:] + pos_embed[:, :1]


_EXPERT = re.compile(r"mlp\.experts\.(\d+)\.")


def merge_experts(
    state: dict[str, Tensor], dim: int, dataset_index: int | None, ignored: dict[str, str]
) -> bool:
    """ViTPose+ mixture-of-experts MLPs -> plain MLPs for one dataset, in place.

    In ViTPose+ each block's ``mlp.fc2`` gives the first ``C - part`` output channels and expert
    ``k`` (``mlp.experts.k``) the last ``part`` channels for dataset ``k`` (0 = COCO); for one
    dataset they are a single linear layer, ``cat([fc2, expert_k])`` along the output dim. An
    ``fc2`` that already has ``C`` outputs was merged before (ViTPose's ``tools/model_split.py``
    leaves the experts beside it): kept as is, or re-merged with expert ``dataset_index`` when
    one is asked for (its first ``C - part`` rows are the shared ones).

    Returns whether the checkpoint had experts.
    """
    expert_ids = sorted({int(m.group(1)) for k in state for m in [_EXPERT.search(k)] if m})
    if not expert_ids:
        return False
    if dataset_index is not None and dataset_index not in expert_ids:
        raise CheckpointError(
            f"dataset_index={dataset_index} is out of range: this ViTPose+ checkpoint has "
            f"experts {expert_ids} (0 = COCO)"
        )
    for key in [k for k in state if re.search(r"mlp\.fc2\.(weight|bias)$", k)]:
        names = {i: key.replace("mlp.fc2.", f"mlp.experts.{i}.") for i in expert_ids}
        absent = [n for n in names.values() if n not in state]
        if absent:
            raise CheckpointError(f"ViTPose+ checkpoint lacks expert tensors {key_list(absent)}")
        fc2 = state[key]
        if fc2.shape[0] < dim or dataset_index is not None:
            expert = state[names[0 if dataset_index is None else dataset_index]]
            shared = fc2[: dim - expert.shape[0]]
            state[key] = torch.cat([shared, expert], dim=0)  # (C, hidden) or (C,)
            reason = f"ViTPose+ expert merged into fc2 (dataset_index={dataset_index or 0})"
        else:
            reason = "ViTPose+ expert beside an fc2 merged before (dataset_index not given)"
        for name in names.values():
            ignored[name] = reason
            del state[name]
    leftover = [k for k in state if _EXPERT.search(k)]
    if leftover:
        raise CheckpointError(f"ViTPose+ expert tensors without a matching fc2: {key_list(leftover)}")
    return True


def no_dataset_choice(dataset_index: int | None) -> None:
    """Raise when ``dataset_index`` asks for a dataset a single-dataset checkpoint cannot give."""
    if dataset_index not in (None, 0):
        raise CheckpointError(
            f"dataset_index={dataset_index} selects a ViTPose+ expert or head, but this "
            "checkpoint has neither (it is a single-dataset ViTPose)"
        )


#: num_heads of the ViTPose sizes, by embedding width (heads cannot be read from weights)
HEADS_BY_WIDTH: dict[int, int] = {384: 12, 768: 12, 1024: 16, 1280: 16}


def grid_from_tokens(n: int, hint: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The ``(h, w)`` grid of ``n`` position embeddings: ``hint`` when it has ``n`` cells, else
    ViTPose's portrait 4:3 grids (16x12 for 256x192, 24x18 for 384x288), else a square one."""
    if hint is not None and hint[0] * hint[1] == n:
        return tuple(hint)  # type: ignore[return-value]
    return _portrait(n) or _square(n)


def has_cls_slot(n: int) -> bool:
    """Whether a table of ``n`` position embeddings is ``1 + h*w`` (193 = 1 + 16*12)."""
    if _portrait(n - 1) and not _portrait(n):
        return True
    return grid_from_tokens(n) is None and grid_from_tokens(n - 1) is not None


def _portrait(n: int) -> tuple[int, int] | None:
    h = math.isqrt(n * 4 // 3)
    return (h, h * 3 // 4) if n > 0 and h % 4 == 0 and h * h * 3 == n * 4 else None


def _square(n: int) -> tuple[int, int] | None:
    s = math.isqrt(n)
    return (s, s) if n > 0 and s * s == n else None

"""The sparse form of a masked attention context: each query's allowed tokens, gathered.

JTA's heatmap mask lets each joint query see a blob of a few tokens per frame, a few dozen of the
``T*h*w`` tokens of a window. Attending densely spends almost all of the work on positions the
mask throws away. Gathered, each query ``l`` gets the ``K`` tokens its row allows (``K`` = the
largest count of the batch; shorter rows padded and the padding masked), and the attention costs
what the mask allows:

    dense     (B, S, C) tokens,      mask (B, L, S)   ->  O(H L S C)
    gathered  (B, L, K, C) tokens,   mask (B, L, K)   ->  O(H L K C) + a copy of L K C values

The dense products are larger and reuse every token for all queries, so per multiply-add they run
faster; [gathered_is_cheaper][tarpose.layers.gather.gathered_is_cheaper] weighs that.

Both give the same function: the padding gets exactly zero weight, and the padded slots repeat an
allowed token of the same row, so they never read a token the row does not allow (a NaN in an
excluded frame cannot leak in through them).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from .._checks import is_tracing
from .tokens import TokenLayout, map_to_tokens

#: One multiply-add of the gathered attention costs about as much as this many of the dense one
#: (measured on CPUs, ViT-S/B dims): a gathered token set serves the 4 head rows of one query and
#: streams from memory twice a layer, where dense tokens serve all 17 x 4 query rows of a window
#: and stay in cache.
GATHERED_COST = 4


def gathered_is_cheaper(largest: int, context_len: int) -> bool:
    """Whether attending gathered contexts of ``largest`` tokens per query costs less than
    attending all ``context_len`` tokens: both spend ``2 H C`` multiply-adds per query and token in
    every layer, the gathered ones ``GATHERED_COST`` times slower."""
    return GATHERED_COST * largest < context_len


def allowed_index(allowed: Tensor, largest: int | None = None) -> tuple[Tensor, Tensor]:
    """Where each row's allowed tokens are.

    Args:
        allowed: bool ``(B, L, S)``; every row must allow at least one token.
        largest: the largest number of allowed tokens of a row, if known (``allowed.sum(-1).max()``).

    Returns:
        ``index`` long ``(B, L, K)``: the allowed positions of each row in increasing order, then
        padding that repeats the row's first allowed position; ``valid`` bool ``(B, L, K)``: False
        on the padding. ``K = largest``.
    """
    counts = allowed.sum(dim=-1)  # (b, l)
    if largest is None:
        largest = int(counts.max())
    # rank the allowed positions first, in token order (float ranks are exact below 2**24)
    s = allowed.shape[-1]
    rank = torch.arange(s, 0, -1, device=allowed.device, dtype=torch.float32)  # (s,): s .. 1
    index = torch.topk(allowed * rank, largest, dim=-1).indices  # (b, l, k)
    valid = torch.arange(largest, device=allowed.device) < counts[..., None]  # (b, l, k)
    index = torch.where(valid, index, index[..., :1])
    return index, valid


def gather_tokens(features: Tensor, index: Tensor, layout: TokenLayout = "spatial") -> Tensor:
    """The tokens at ``index`` of each row, read straight from the feature maps.

    Args:
        features: feature maps of the frames ``(B, T, C, h, w)``; token ``t*h*w + n`` is position
            ``n`` of frame ``t`` (in ``layout``, see [tarpose.layers.tokens][tarpose.layers.tokens]).
        index: long ``(B, L, K)`` token positions in ``[0, T*h*w)``.
        layout: ``"spatial"`` or ``"official"``.

    Returns:
        ``(B, L, K, C)``.
    """
    b, t, _, h, w = features.shape
    in_place = layout == "spatial" and features.stride(2) != 1 and not is_tracing()
    if in_place and index.shape[1] * index.shape[2] <= t * h * w:
        # channels not innermost (maps stacked channel-first): read the picked tokens in place,
        # fewer than transposing every token first (eager only: traced, K is a data-dependent size)
        frame, position = index // (h * w), index % (h * w)  # (b, l, k) each
        batch = torch.arange(b, device=index.device).view(b, 1, 1)
        maps = rearrange(features, "b t c h w -> b t c (h w)")  # a view
        return maps[batch, frame, :, position]  # (b, l, k, c)
    # one row per token (a view when channels are innermost, as a ViT encoder returns its maps)
    rows = rearrange(map_to_tokens(features, layout), "b t n c -> (b t n) c")  # (b*t*h*w, c)
    offsets = rearrange(torch.arange(b, device=index.device) * (t * h * w), "b -> b 1 1")
    picked = rows.index_select(0, (index + offsets).flatten())  # (b*l*k, c)
    return picked.view(*index.shape, rows.shape[-1])  # (b, l, k, c)


def gather_allowed(
    features: Tensor, allowed: Tensor, layout: TokenLayout = "spatial", largest: int | None = None
) -> tuple[Tensor, Tensor]:
    """A gathered attention context: per query row, the tokens ``allowed`` lets it attend.

    Args:
        features: feature maps ``(B, T, C, h, w)``.
        allowed: bool ``(B, L, T*h*w)`` rows in the same token order; every row must allow at
            least one token.
        layout: token layout of ``features``.
        largest: ``allowed.sum(-1).max()`` if already known.

    Returns:
        ``tokens`` ``(B, L, K, C)`` and ``mask`` bool ``(B, L, K)`` (False on the padding), for
        [MultiHeadAttention][tarpose.layers.attention.MultiHeadAttention].
    """
    index, valid = allowed_index(allowed, largest)
    return gather_tokens(features, index, layout), valid

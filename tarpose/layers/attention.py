"""Multi-head attention through ``F.scaled_dot_product_attention``, with exact algebraic shortcuts.

The module keeps ``torch.nn.MultiheadAttention``'s parameter layout (``in_proj_weight``,
``in_proj_bias``, ``out_proj``), so state dicts move between the two unchanged, and offers three
exact ways of computing the same function:

``"project"``
    The usual way: project queries, keys and values, attend per head, project the output.
``"fold_context"``
    For few queries over many context tokens (JTA: 17 joint queries over T*h*w frame tokens).
    Per head, ``q_h . (W_k,h x + b_k,h) = (W_k,h^T q_h) . x + const``; the constant is the same
    for every key of a query row and softmax ignores it, so the key projection is folded into the
    queries and the attention runs over the raw tokens. The value projection is applied after
    aggregation: attention rows sum to one, so ``sum_s a_s (W_v x_s + b_v) = W_v (sum_s a_s x_s) +
    b_v``. The context is never projected: O(H L S C) instead of O(S C^2).
``"fold_query"``
    For many queries over few context tokens (GRA: h*w map tokens over 17 joint tokens). The query
    projection is folded into the keys (its bias becomes an additive per-key score bias) and the
    output projection into the values, so the many query tokens are never projected.

``strategy="auto"`` picks the one with the fewest multiply-adds for the given lengths.

A fourth computation serves masks that allow each query only a few tokens (JTA's heatmap mask):
the context may be *gathered*, one set of ``K`` tokens per query ``(B, L, K, C)`` with a bool
``(B, L, K)`` marking the real ones ([gather_allowed][tarpose.layers.gather.gather_allowed] builds it from a
dense mask). It is attended the ``"fold_context"`` way, each query over its own tokens only, so the
attention costs ``O(H L K C)`` instead of ``O(H L S C)``; the result equals the dense masked
computation over ``(B, S, C)`` (the padding gets exactly zero weight).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

Strategy = Literal["auto", "project", "fold_context", "fold_query"]
STRATEGIES: tuple[str, ...] = ("auto", "project", "fold_context", "fold_query")


def attention_costs(
    query_len: int, context_len: int, dim: int, num_heads: int
) -> dict[str, int]:
    """Multiply-adds of each strategy for one batch element (projections + attention)."""
    attend = 2 * num_heads * query_len * context_len * dim
    return {
        "project": 2 * (query_len + context_len) * dim * dim + 2 * query_len * context_len * dim,
        "fold_context": 4 * query_len * dim * dim + attend,
        "fold_query": 4 * context_len * dim * dim + attend,
    }


class MultiHeadAttention(nn.Module):
    """Multi-head cross/self attention, parameter-compatible with ``nn.MultiheadAttention``.

    Args:
        dim: embedding size C (divisible by ``num_heads``).
        num_heads: number of heads H.
        strategy: ``"auto"`` (cheapest exact strategy), ``"project"``, ``"fold_context"`` or
            ``"fold_query"``; all compute the same function.
    """

    def __init__(self, dim: int, num_heads: int, strategy: Strategy = "auto") -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.strategy = strategy
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as ``nn.MultiheadAttention`` does."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, strategy={self.strategy!r}"

    def choose_strategy(self, query_len: int, context_len: int, masked: bool = False) -> str:
        """The strategy used for these lengths.

        ``"auto"`` never picks ``"fold_query"`` for a masked call: there the mask would merge
        with that strategy's per-head score bias into a per-head tensor, and masks are meant to be
        broadcast over heads. (Asked for explicitly, ``"fold_query"`` still handles masks.)
        """
        if self.strategy != "auto":
            return self.strategy
        costs = attention_costs(query_len, context_len, self.dim, self.num_heads)
        if masked:
            del costs["fold_query"]
        return min(costs, key=costs.__getitem__)

    def forward(self, query: Tensor, context: Tensor, mask: Tensor | None = None) -> Tensor:
        """Attend from ``query`` to ``context``.

        Args:
            query: ``(B, L, C)``.
            context: ``(B, S, C)`` keys and values shared by all queries, or a gathered context
                ``(B, L, K, C)``: ``K`` tokens for each query (attended the ``"fold_context"``
                way whatever the strategy).
            mask: optional bool ``(B, L, S)`` (or broadcastable), or ``(B, L, K)`` with a gathered
                context; True = may attend. Every row must allow at least one position.

        Returns:
            ``(B, L, C)``.
        """
        if context.ndim == 4:
            return self._fold_gathered(query, context, mask)
        if mask is not None:
            mask = rearrange(mask, "b l s -> b 1 l s")  # broadcast over heads, no copies
        strategy = self.choose_strategy(query.shape[1], context.shape[1], mask is not None)
        if strategy == "fold_context":
            return self._fold_context(query, context, mask)
        if strategy == "fold_query":
            return self._fold_query(query, context, mask)
        return self._project(query, context, mask)

    # -- the three exact computations -------------------------------------------------------

    def _project(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        heads = "b n (h d) -> b h n d"
        if query is context:  # self-attention: one fused projection
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        else:
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
            q, k, v = F.linear(query, w_q, b_q), F.linear(context, w_k, b_k), F.linear(context, w_v, b_v)
        q = rearrange(q, heads, h=self.num_heads)  # (b, h, l, d)
        k = rearrange(k, heads, h=self.num_heads)  # (b, h, s, d)
        v = rearrange(v, heads, h=self.num_heads)  # (b, h, s, d)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (b, h, l, d)
        return self.out_proj(rearrange(out, "b h l d -> b l (h d)"))

    def _fold_context(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        h = self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, _, b_v = self.in_proj_bias.chunk(3)  # the key bias cannot change a softmax row
        q = rearrange(F.linear(query, w_q, b_q), "b l (h d) -> b h l d", h=h)  # (b, h, l, d)
        w_k = rearrange(w_k, "(h d) c -> h d c", h=h)  # (h, d, c)
        q_folded = torch.einsum("bhld,hdc->bhlc", q, w_k)  # (b, h, l, c)
        # cast before expanding: autocast would otherwise materialise the expanded copy
        tokens = repeat(context.to(q_folded.dtype), "b s c -> b h s c", h=h)  # (b, h, s, c) view
        pooled = F.scaled_dot_product_attention(
            q_folded, tokens, tokens, attn_mask=mask, scale=self.head_dim**-0.5
        )  # (b, h, l, c): attention-weighted raw tokens
        w_v = rearrange(w_v, "(h d) c -> h d c", h=h)  # (h, d, c)
        v = torch.einsum("bhlc,hdc->bhld", pooled, w_v)  # (b, h, l, d)
        v = v + rearrange(b_v, "(h d) -> h 1 d", h=h)  # rows sum to one: the bias passes through
        return self.out_proj(rearrange(v, "b h l d -> b l (h d)"))

    def _fold_gathered(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        h = self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, _, b_v = self.in_proj_bias.chunk(3)  # the key bias cannot change a softmax row
        q = rearrange(F.linear(query, w_q, b_q), "b l (h d) -> b l h d", h=h)  # (b, l, h, d)
        q_folded = torch.einsum("blhd,hdc->blhc", q, rearrange(w_k, "(h d) c -> h d c", h=h))
        if mask is not None:
            mask = rearrange(mask, "b l k -> b l 1 k")  # broadcast over heads
        # one query's heads are the rows of its own attention over its K tokens: (b, l) is the
        # batch of the call, the heads its query positions
        pooled = F.scaled_dot_product_attention(
            q_folded, context.to(q_folded.dtype), context.to(q_folded.dtype), attn_mask=mask,
            scale=self.head_dim**-0.5,
        )  # (b, l, h, c): attention-weighted raw tokens
        w_v = rearrange(w_v, "(h d) c -> h d c", h=h)  # (h, d, c)
        v = torch.einsum("blhc,hdc->blhd", pooled, w_v)  # (b, l, h, d)
        v = v + rearrange(b_v, "(h d) -> h d", h=h)  # rows sum to one: the bias passes through
        return self.out_proj(rearrange(v, "b l h d -> b l (h d)"))

    def _fold_query(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        h = self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        k = rearrange(F.linear(context, w_k, b_k), "b s (h d) -> b h s d", h=h)  # (b, h, s, d)
        v = rearrange(F.linear(context, w_v, b_v), "b s (h d) -> b h s d", h=h)  # (b, h, s, d)
        k_folded = torch.einsum("bhsd,hdc->bhsc", k, rearrange(w_q, "(h d) c -> h d c", h=h))
        w_o = rearrange(self.out_proj.weight, "c (h d) -> h d c", h=h)  # (h, d, c)
        v_folded = torch.einsum("bhsd,hdc->bhsc", v, w_o)  # (b, h, s, c)
        scale = self.head_dim**-0.5
        # the query bias adds b_q,h . k_s to every score of key s
        bias = torch.einsum("bhsd,hd->bhs", k, rearrange(b_q, "(h d) -> h d", h=h)) * scale
        bias = rearrange(bias, "b h s -> b h 1 s")
        if mask is not None:
            bias = bias.masked_fill(~mask, float("-inf"))
        queries = repeat(query.to(k_folded.dtype), "b l c -> b h l c", h=h)  # (b, h, l, c) view
        out = F.scaled_dot_product_attention(
            queries, k_folded, v_folded, attn_mask=bias.to(queries.dtype), scale=scale
        )  # (b, h, l, c): each head's share of the output projection
        return out.sum(dim=1) + self.out_proj.bias

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

Each computation runs one matrix product per projection over every batch row and head at once
(keys and values that read the same tokens share one product: rows ``C:3C`` of
``in_proj_weight``), and the attention itself (scores, softmax, weighted sum) through
``torch.nn.functional.scaled_dot_product_attention``, the heads as a broadcast view of the shared
tokens, never a per-head copy.

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

from .linear import linear, linear_module

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
                context; True = may attend. Every row must allow at least one position. With a
                gathered context also a float mask added to the scores (0 where a query may
                attend, ``-inf`` where not), which a caller attending the same tokens several
                times (JTA's layers) builds once.

        Returns:
            ``(B, L, C)``.
        """
        if context.ndim == 4:
            return self._fold_gathered(query, context, mask)
        strategy = self.choose_strategy(query.shape[1], context.shape[1], mask is not None)
        if mask is not None:
            mask = rearrange(mask, "b l s -> b 1 l s")  # broadcast over heads, no copies
        if strategy == "fold_query":
            return self._fold_query(query, context, mask)
        if strategy == "fold_context":
            return self._fold_context(query, context, mask)
        return self._project(query, context, mask)

    # -- the exact computations -----------------------------------------------------------
    #
    # Each is a few matrix products over all heads and batch rows at once (a product per
    # projection, the heads of a fold one batched product) around one call of
    # F.scaled_dot_product_attention; masks are broadcast over the heads.

    def _project(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        h = self.num_heads
        if query is context:  # self-attention: one fused projection
            qkv = linear(query, self.in_proj_weight, self.in_proj_bias)  # (b, l, 3c)
            q, k, v = rearrange(qkv, "b l (k h d) -> k b h l d", k=3, h=h)  # (b, h, l, d) each
        else:
            w_q, w_kv = self.in_proj_weight.split([self.dim, 2 * self.dim])
            b_q, b_kv = self.in_proj_bias.split([self.dim, 2 * self.dim])
            q = rearrange(linear(query, w_q, b_q), "b l (h d) -> b h l d", h=h)  # (b, h, l, d)
            # keys and values read the same tokens: one product
            kv = linear(context, w_kv, b_kv)  # (b, s, 2c)
            k, v = rearrange(kv, "b s (k h d) -> k b h s d", k=2, h=h)  # (b, h, s, d) each
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (b, h, l, d)
        return linear_module(self.out_proj, rearrange(out, "b h l d -> b l (h d)"))

    def _fold_keys(self, query: Tensor) -> Tensor:
        """The query projection, then the key projection folded into it: ``(N, C)`` ->
        ``(H, N, C)``, row ``n`` of head ``h`` is ``W_k,h^T (W_q,h x_n + b_q,h)``."""
        h, c = self.num_heads, self.dim
        q = linear(query, self.in_proj_weight[:c], self.in_proj_bias[:c])  # (n, c)
        w_k = rearrange(self.in_proj_weight[c : 2 * c], "(h d) c -> h d c", h=h)  # (h, d, c) view
        return torch.bmm(rearrange(q, "n (h d) -> h n d", h=h), w_k)  # (h, n, c)

    def _unfold_values(self, pooled: Tensor) -> Tensor:
        """Attention-weighted raw tokens ``(H, N, C)`` -> the output ``(N, C)``: each head's value
        projection, its bias (rows sum to one: it passes through), the output projection."""
        h, c = self.num_heads, self.dim
        w_v = rearrange(self.in_proj_weight[2 * c :], "(h d) c -> h c d", h=h)  # (h, c, d) view
        v = rearrange(torch.bmm(pooled, w_v), "h n d -> n (h d)")  # (n, c)
        return linear_module(self.out_proj, v + self.in_proj_bias[2 * c :])

    def _fold_context(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        b, h = query.shape[0], self.num_heads
        folded = self._fold_keys(rearrange(query, "b l c -> (b l) c"))  # (h, b*l, c)
        folded = rearrange(folded, "h (b l) c -> b h l c", b=b)  # (b, h, l, c)
        # the raw tokens are every head's keys and values (the key bias cannot change a softmax
        # row); cast before expanding, or autocast would materialise the expanded copy
        tokens = repeat(context.to(folded.dtype), "b s c -> b h s c", h=h)  # (b, h, s, c) view
        pooled = F.scaled_dot_product_attention(
            folded, tokens, tokens, attn_mask=mask, scale=self.head_dim**-0.5
        )  # (b, h, l, c): attention-weighted raw tokens
        out = self._unfold_values(rearrange(pooled, "b h l c -> h (b l) c"))  # (b*l, c)
        return rearrange(out, "(b l) c -> b l c", b=b)

    def _fold_gathered(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        b = query.shape[0]
        folded = self._fold_keys(rearrange(query, "b l c -> (b l) c"))  # (h, b*l, c)
        folded = rearrange(folded, "h (b l) c -> b l h c", b=b)  # (b, l, h, c)
        tokens = context.to(folded.dtype)  # (b, l, k, c)
        if mask is not None:  # bool (True = may attend) or added to the scaled scores
            mask = rearrange(mask, "b l k -> b l 1 k")  # broadcast over heads
            if mask.dtype != torch.bool:
                mask = mask.to(folded.dtype)
        # one query's heads are the rows of its own attention over its K tokens: (b, l) is the
        # batch of the call (4-D, as ONNX's attention takes it), the heads its query positions
        pooled = F.scaled_dot_product_attention(
            folded, tokens, tokens, attn_mask=mask, scale=self.head_dim**-0.5
        )  # (b, l, h, c): attention-weighted raw tokens
        out = self._unfold_values(rearrange(pooled, "b l h c -> h (b l) c"))  # (b*l, c)
        return rearrange(out, "(b l) c -> b l c", b=b)

    def _fold_query(self, query: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        b, c, h = query.shape[0], self.dim, self.num_heads
        b_q = rearrange(self.in_proj_bias[:c], "(h d) -> h d", h=h)
        # keys and values read the same tokens: one product
        kv = linear(context, self.in_proj_weight[c:], self.in_proj_bias[c:])  # (b, s, 2c)
        k, v = rearrange(kv, "b s (k h d) -> k h (b s) d", k=2, h=h)  # (h, b*s, d) each
        w_q = rearrange(self.in_proj_weight[:c], "(h d) c -> h d c", h=h)  # (h, d, c)
        w_o = rearrange(self.out_proj.weight, "c (h d) -> h d c", h=h)  # (h, d, c)
        k_folded = rearrange(torch.bmm(k, w_q), "h (b s) c -> b h s c", b=b)  # (b, h, s, c)
        v_folded = rearrange(torch.bmm(v, w_o), "h (b s) c -> b h s c", b=b)  # (b, h, s, c)
        scale = self.head_dim**-0.5
        # the query bias adds b_q,h . k_s to every score of key s (in scaled units)
        bias = (k * rearrange(b_q, "h d -> h 1 d")).sum(-1) * scale  # (h, b*s)
        bias = rearrange(bias, "h (b s) -> b h 1 s", b=b)
        if mask is not None:
            bias = bias.masked_fill(~mask, float("-inf"))  # (b, h, l, s)
        queries = repeat(query.to(k_folded.dtype), "b l c -> b h l c", h=h)  # (b, h, l, c) view
        out = F.scaled_dot_product_attention(
            queries, k_folded, v_folded, attn_mask=bias.to(queries.dtype), scale=scale
        )  # (b, h, l, c): each head's share of the output projection
        return out.sum(dim=1) + self.out_proj.bias

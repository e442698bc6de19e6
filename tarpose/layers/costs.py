"""Multiply-adds of the temporal modules, counted by formula from their sizes.

What is counted: the multiply-adds of every matrix product a module runs (its linear layers, the
attention's batched products, the heatmap embedding's frame mean), as
``torch.utils.flop_counter.FlopCounterMode`` counts them (FLOPs / 2; the tests check the two
agree). Elementwise work (softmax, LayerNorm, GELU, masks, bias adds) is not counted. The counts
follow the computation each module chooses for the given sizes: JTA's gathered or dense
cross-attention, each attention's strategy (``MultiHeadAttention.choose_strategy``).

Per batch element, with ``C`` channels, ``H`` heads, ``J`` joints, ``n = h*w`` map tokens, ``T``
frames and ``K`` tokens a joint attends (gathered: the largest count of the batch; dense: ``T*n``),
at the default strategies:

- JTA, per layer: cross-attention ``4 J C^2 + 2 H J K C`` (query projection, key fold, value
  unfold, output projection; scores and weighted sums over the raw tokens), self-attention among
  joints ``4 J C^2 + 2 J^2 C``, feed-forward ``2 J C M`` (hidden size ``M``);
- GRA: ``4 J C^2 + 2 H n J C`` (keys and values, the query projection folded into the keys and the
  output projection into the values), feed-forward ``2 n C M``;
- heatmap embedding: the neighbours' mean and the target's heatmaps ``2 T J Hh Wh``, the projection
  ``n (2 J s^2) C``.
"""

from __future__ import annotations

from .attention import MultiHeadAttention, attention_costs
from .gather import gathered_is_cheaper
from .gra import GlobalRestoringAttention
from .heatmap_embed import HeatmapEmbedding
from .jta import JointTemporalAggregator


def attention_macs(
    attn: MultiHeadAttention, query_len: int, context_len: int, masked: bool = False
) -> int:
    """One batch element of ``attn(query (L, C), context (S, C))`` with the strategy it chooses."""
    strategy = attn.choose_strategy(query_len, context_len, masked)
    return attention_costs(query_len, context_len, attn.dim, attn.num_heads)[strategy]


def gathered_attention_macs(attn: MultiHeadAttention, query_len: int, tokens: int) -> int:
    """One batch element of ``attn`` over a gathered context, ``tokens`` per query (the
    ``"fold_context"`` computation)."""
    return attention_costs(query_len, tokens, attn.dim, attn.num_heads)["fold_context"]


def jta_macs(
    jta: JointTemporalAggregator, frames: int, grid: tuple[int, int], tokens: int | None = None
) -> int:
    """One batch element (one window) of ``jta``.

    Args:
        jta: the module.
        frames: T.
        grid: the token grid ``(h, w)``.
        tokens: the largest number of tokens a joint attends in the batch (``None``: every token
            of the window). The cross-attention is counted gathered where ``jta`` gathers for
            that count eagerly (``jta.gather`` and ``gathered_is_cheaper``), dense otherwise.
    """
    j, context = jta.num_joints, frames * grid[0] * grid[1]
    largest = context if tokens is None else tokens
    cheaper = gathered_is_cheaper(largest, context)
    gathered = jta.gather == "always" or (jta.gather == "auto" and cheaper)
    total = 0
    for layer in jta.layers:
        if gathered:
            total += gathered_attention_macs(layer.cross_attn, j, largest)
        else:
            total += attention_macs(layer.cross_attn, j, context, masked=True)
        total += attention_macs(layer.self_attn, j, j)
        total += 2 * j * layer.mlp.fc1.in_features * layer.mlp.fc1.out_features
    return total


def gra_macs(gra: GlobalRestoringAttention, grid: tuple[int, int], joints: int) -> int:
    """One batch element of ``gra`` restoring an ``(h, w)`` map from ``joints`` joint tokens (its
    feed-forward block included)."""
    n = grid[0] * grid[1]
    total = attention_macs(gra.attn, n, joints)
    if gra.ffn_ratio > 0:
        total += 2 * n * gra.ffn.fc1.in_features * gra.ffn.fc1.out_features
    return total


def heatmap_embed_macs(embed: HeatmapEmbedding, frames: int, heatmap_size: tuple[int, int]) -> int:
    """One batch element of ``embed`` on a window of ``frames`` heatmaps of ``(Hh, Wh)`` pixels."""
    hh, wh = heatmap_size
    s = embed.stride
    mean = 2 * frames * embed.num_joints * hh * wh  # neighbours' mean and the target: one product
    return mean + (hh // s) * (wh // s) * embed.proj.in_features * embed.proj.out_features


def temporal_macs(
    jta: JointTemporalAggregator,
    gra: GlobalRestoringAttention,
    heatmap_embed: HeatmapEmbedding | None,
    *,
    frames: int,
    grid: tuple[int, int],
    heatmap_size: tuple[int, int],
    batch: int = 1,
    tokens: int | None = None,
) -> dict[str, int]:
    """Multiply-adds of a temporal model's JTA, GRA and heatmap embedding for ``batch`` windows.

    Args:
        jta: the JointTemporalAggregator.
        gra: the GlobalRestoringAttention (its feed-forward block counted with it).
        heatmap_embed: the HeatmapEmbedding, or ``None`` (counted 0).
        frames: window length T.
        grid: the feature map's token grid ``(h, w)``.
        heatmap_size: the heatmaps' ``(Hh, Wh)``.
        batch: windows (persons) per call.
        tokens: the largest number of tokens a joint attends (see ``jta_macs``); ``None``: all
            of them.

    Returns:
        ``{"jta": ..., "gra": ..., "embed": ...}``.
    """
    embed = 0 if heatmap_embed is None else heatmap_embed_macs(heatmap_embed, frames, heatmap_size)
    return {
        "jta": batch * jta_macs(jta, frames, grid, tokens),
        "gra": batch * gra_macs(gra, grid, jta.num_joints),
        "embed": batch * embed,
    }

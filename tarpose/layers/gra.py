"""Global Restoring Attention (GRA)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .._checks import expect_dtype, expect_shape
from .attention import MultiHeadAttention, Strategy
from .mlp import Mlp
from .position import sincos_position_2d
from .tokens import TokenLayout, check_token_layout, map_to_tokens, tokens_to_map

Restore = Literal["residual", "zero_out", "postnorm"]
RESTORE_MODES: tuple[str, ...] = ("residual", "zero_out", "postnorm")


class GlobalRestoringAttention(nn.Module):
    """Every token of the target frame's map reads the aggregated joint tokens.

    Args:
        dim: channels C.
        num_heads: attention heads (4 in the paper).
        restore: ``"residual"`` (default): ``F + gate * Attn(F, Q)`` with a per-channel gate that
            starts at ``gate_init`` (0: at initialisation the restored map equals the input map and
            a wrapped model starts exactly where the single-frame model is). ``"zero_out"``:
            ``F + Attn(F, Q)`` with the attention's output projection initialised to zero (also
            the identity at initialisation, but every output channel can move at once).
            ``"postnorm"``: ``LN(F + Attn(F, Q))`` as the reference code (needed to load its
            weights).
        gate_init: initial value of the ``"residual"`` gate (LayerScale-style when small, > 0).
        position: add fixed sine-cosine codes of the token positions to the attention's queries,
            so a map token can find the joint tokens that describe its own place.
        ffn_ratio: when > 0, a pre-norm feed-forward block ``x + FFN(LN(x))`` (hidden size
            ``ffn_ratio * C``, output layer initialised to zero) follows the restoring step. The
            attention's update is a function of the joint tokens only, the same for every map
            whatever the target frame shows; the FFN lets each token weigh that update against
            its own content (replace a corrupted token, keep a clean one). 0 (default): none, as
            the paper.
        token_layout: ``"spatial"`` (default) or ``"official"``, see [tarpose.layers.tokens][tarpose.layers.tokens].
        attention: attention strategy, see [MultiHeadAttention][tarpose.layers.attention.MultiHeadAttention].
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        restore: Restore = "residual",
        *,
        gate_init: float = 0.0,
        position: bool = False,
        ffn_ratio: float = 0.0,
        token_layout: TokenLayout = "spatial",
        attention: Strategy = "auto",
    ) -> None:
        super().__init__()
        check_token_layout(token_layout)
        if restore not in RESTORE_MODES:
            raise ValueError(f"restore must be one of {RESTORE_MODES}, got {restore!r}")
        self.dim = dim
        if position and token_layout != "spatial":
            raise ValueError("position codes need token_layout='spatial'")
        if ffn_ratio < 0:
            raise ValueError(f"ffn_ratio must be >= 0, got {ffn_ratio}")
        self.restore = restore
        self.position = position
        self.ffn_ratio = ffn_ratio
        self.token_layout = token_layout
        self.attn = MultiHeadAttention(dim, num_heads, strategy=attention)
        if restore == "residual":
            self.gate = nn.Parameter(torch.full((dim,), float(gate_init)))
        elif restore == "zero_out":
            nn.init.zeros_(self.attn.out_proj.weight)
        else:
            self.norm = nn.LayerNorm(dim)
        if ffn_ratio > 0:
            self.ffn_norm = nn.LayerNorm(dim)
            self.ffn = Mlp(dim, int(dim * ffn_ratio), packed_weights=True)
            nn.init.zeros_(self.ffn.fc2.weight)
            nn.init.zeros_(self.ffn.fc2.bias)

    def forward(self, feature_map: Tensor, joint_tokens: Tensor, evidence: Tensor | None = None) -> Tensor:
        """Restore the target frame's map.

        Args:
            feature_map: ``(B, C, h, w)``.
            joint_tokens: ``(B, J, C)`` from [JointTemporalAggregator][tarpose.JointTemporalAggregator].
            evidence: optional ``(B, C, h, w)`` added to the restored map before the FFN, e.g. the
                window's heatmaps from [HeatmapEmbedding][tarpose.HeatmapEmbedding].

        Returns:
            ``(B, C, h, w)``.
        """
        expect_shape("feature_map", feature_map, "(B, C, h, w)", (None, self.dim, None, None))
        b, _, h, w = feature_map.shape
        expect_shape("joint_tokens", joint_tokens, "(B, J, C)", (b, None, self.dim))
        expect_dtype("feature_map", feature_map, self)
        expect_dtype("joint_tokens", joint_tokens, self)
        tokens = map_to_tokens(feature_map, self.token_layout)  # (b, h*w, c)
        queries = tokens
        if self.position:
            queries = tokens + sincos_position_2d(h, w, self.dim, device=tokens.device, dtype=tokens.dtype)
        update = self.attn(queries, joint_tokens)  # (b, h*w, c)
        if self.restore == "residual":
            restored = tokens + self.gate * update
        elif self.restore == "zero_out":
            restored = tokens + update
        else:
            restored = self.norm(tokens + update)
        if evidence is not None:
            expect_shape("evidence", evidence, "(B, C, h, w)", (b, self.dim, h, w))
            restored = restored + map_to_tokens(evidence, self.token_layout)  # (b, h*w, c)
        if self.ffn_ratio > 0:
            restored = restored + self.ffn(self.ffn_norm(restored))
        return tokens_to_map(restored, h, w, self.token_layout)

"""Joint-centric Temporal Aggregation (JTA)."""

from __future__ import annotations

from typing import Literal

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from .._checks import expect_bool, expect_shape, is_tracing
from .attention import MultiHeadAttention, Strategy
from .gather import allowed_index, gather_tokens, gathered_is_cheaper
from .mask import heatmap_mask
from .mlp import Mlp
from .position import sincos_position_2d
from .tokens import TokenLayout, check_token_layout, map_to_tokens, mask_to_rows

Gather = Literal["auto", "always", "never"]
GATHER_MODES: tuple[str, ...] = ("auto", "always", "never")


class JTALayer(nn.Module):
    """Masked cross-attention to all frame tokens -> self-attention among joints -> FFN.

    Post-norm residuals ``LN(x + sublayer(x))`` as in the reference code.
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, attention: Strategy = "auto"
    ) -> None:
        super().__init__()
        self.cross_attn = MultiHeadAttention(dim, num_heads, strategy=attention)
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, num_heads, strategy=attention)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), packed_weights=True)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, joints: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """joints ``(B, J, C)``, tokens ``(B, N, C)`` with mask bool ``(B, J, N)``, or gathered
        tokens ``(B, J, K, C)`` with mask ``(B, J, K)`` (bool, or float added to the scores) ->
        ``(B, J, C)``."""
        joints = self.norm1(joints + self.cross_attn(joints, tokens, mask))
        joints = self.norm2(joints + self.self_attn(joints, joints))
        return self.norm3(joints + self.mlp(joints))


class JointTemporalAggregator(nn.Module):
    """J learnable joint queries gather their joint's evidence from every frame of the window.

    Each query attends only to the tokens its joint's initial heatmap points at (the heatmap mask),
    in all ``T`` frames at once, so one softmax weighs the frames against each other.

    Args:
        dim: channels C of the encoder feature maps.
        num_joints: J, the number of keypoints (17 for COCO).
        depth: number of layers (6 in the paper).
        num_heads: attention heads (4 in the paper).
        mlp_ratio: FFN hidden size as a multiple of ``dim`` (2.0 in the paper).
        mask_threshold: the heatmap-mask threshold phi (0.2 in the paper).
        token_layout: ``"spatial"`` (correct, default) or ``"official"`` (the reference code's
            scrambled layout, only for its released weights; see [tarpose.layers.tokens][tarpose.layers.tokens]).
        attention: attention strategy, see [MultiHeadAttention][tarpose.layers.attention.MultiHeadAttention].
        gather: how the masked cross-attention reads the tokens. ``"auto"`` (default): gather each
            joint's allowed tokens ([tarpose.layers.gather][tarpose.layers.gather]) when that is
            cheaper than attending all ``T*h*w`` tokens, judged by each call's largest count
            ([gathered_is_cheaper][tarpose.layers.gather.gathered_is_cheaper]); under
            ``torch.compile`` / ``torch.export`` the dense path (static shapes). ``"always"``:
            gather, also when traced (the count then becomes a data-dependent size).
            ``"never"``: the dense masked attention. All three compute the same function. Also
            settable later as the ``gather`` attribute.
        position: add fixed sine-cosine codes of each token's grid position to the frame tokens
            (keys and values), so the joint tokens carry where their joint was.
    """

    def __init__(
        self,
        dim: int,
        num_joints: int = 17,
        depth: int = 6,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        mask_threshold: float = 0.2,
        *,
        token_layout: TokenLayout = "spatial",
        attention: Strategy = "auto",
        gather: Gather = "auto",
        position: bool = False,
    ) -> None:
        super().__init__()
        check_token_layout(token_layout)
        if position and token_layout != "spatial":
            raise ValueError("position codes need token_layout='spatial'")
        if gather not in GATHER_MODES:
            raise ValueError(f"gather must be one of {GATHER_MODES}, got {gather!r}")
        if depth < 1 or num_joints < 1:
            raise ValueError(f"depth and num_joints must be >= 1, got {depth} and {num_joints}")
        self.dim = dim
        self.num_joints = num_joints
        self.mask_threshold = mask_threshold
        self.token_layout = token_layout
        self.gather = gather
        self.position = position
        self.query_embed = nn.Parameter(torch.randn(num_joints, dim))  # (j, c)
        self.query_pos = nn.Parameter(torch.randn(num_joints, dim))  # (j, c), added once
        self.layers = nn.ModuleList(
            JTALayer(dim, num_heads, mlp_ratio, attention) for _ in range(depth)
        )

    def forward(
        self,
        features: Tensor,
        heatmaps: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        frame_valid: Tensor | None = None,
    ) -> Tensor:
        """Aggregate the joints of a window of frames.

        Args:
            features: encoder maps of all frames ``(B, T, C, h, w)``.
            heatmaps: initial heatmaps of all frames ``(B, T, J, H, W)``, any resolution; the
                mask is computed from them with [heatmap_mask][tarpose.heatmap_mask].
            mask: instead of ``heatmaps``, an explicit bool mask ``(B, T, J, h, w)``, True = may
                attend.
            frame_valid: optional bool ``(B, T)``; tokens of invalid frames (clip edges, dropped
                frames) are never attended and their values, even NaN, never reach the
                output. At least one frame per clip must be valid.

        Returns:
            joint tokens ``(B, J, C)``.

        A joint whose mask allows nothing (e.g. all its heatmaps are constant) attends to every
        token of the valid frames instead of producing NaN.
        """
        expect_shape("features", features, "(B, T, C, h, w)", (None, None, self.dim, None, None))
        b, t, _, h, w = features.shape
        if (heatmaps is None) == (mask is None):
            raise ValueError("pass exactly one of heatmaps (B, T, J, H, W) or mask (B, T, J, h, w)")
        if mask is None:
            expect_shape("heatmaps", heatmaps, "(B, T, J, H, W)", (b, t, self.num_joints, None, None))
            mask = heatmap_mask(heatmaps, (h, w), self.mask_threshold)
        else:
            expect_shape("mask", mask, "(B, T, J, h, w)", (b, t, self.num_joints, h, w))
            expect_bool("mask", mask)
        allowed = self.allowed_tokens(mask, frame_valid)  # (b, j, t*h*w)

        joints = repeat(self.query_embed + self.query_pos, "j c -> b j c", b=b)  # (b, j, c)
        context, context_mask = self._context(features, allowed, frame_valid)
        for layer in self.layers:
            joints = layer(joints, context, context_mask)
        return joints

    def allowed_tokens(self, mask: Tensor, frame_valid: Tensor | None = None) -> Tensor:
        """The tokens each joint query attends: its mask, less the invalid frames; a joint whose
        mask allows nothing there attends every token of the valid frames.

        Args:
            mask: bool ``(B, T, J, h, w)``.
            frame_valid: optional bool ``(B, T)``; at least one frame per clip valid.

        Returns:
            bool ``(B, J, T*h*w)``, in the order of the cross-attention's tokens (``token_layout``).
        """
        b, t, _, h, w = mask.shape
        allowed = mask_to_rows(mask, self.token_layout)  # (b, j, t*h*w)
        if frame_valid is not None:
            expect_shape("frame_valid", frame_valid, "(B, T)", (b, t))
            expect_bool("frame_valid", frame_valid)
            if not is_tracing() and not bool(frame_valid.any(dim=1).all()):
                raise ValueError("frame_valid marks every frame of a clip invalid")
            valid_tokens = repeat(frame_valid, "b t -> b 1 (t n)", n=h * w)  # (b, 1, t*h*w)
            allowed = allowed & valid_tokens
        else:
            valid_tokens = torch.ones_like(allowed[:, :1])  # (b, 1, t*h*w)
        empty_rows = ~allowed.any(dim=-1, keepdim=True)  # (b, j, 1)
        return allowed | (empty_rows & valid_tokens)  # an empty row attends everywhere valid

    def _context(
        self, features: Tensor, allowed: Tensor, frame_valid: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """What the cross-attention reads: the gathered allowed tokens ``(B, J, K, C)`` with their
        mask ``(B, J, K)`` (float: 0 on the real tokens, ``-inf`` on the padding, added to the
        scores), or all tokens ``(B, T*h*w, C)`` with ``allowed`` ``(B, J, T*h*w)``."""
        b, t, c, h, w = features.shape
        if self.gather == "always" or (self.gather == "auto" and not is_tracing()):
            largest = allowed.sum(dim=-1).max()
            if is_tracing():  # a data-dependent size
                largest = largest.item()
                torch._check(largest >= 1)
                torch._check(largest <= t * h * w)
            else:
                largest = int(largest)
            if self.gather == "always" or gathered_is_cheaper(largest, t * h * w):
                index, valid = allowed_index(allowed, largest)  # (b, j, k) each
                tokens = gather_tokens(features, index, self.token_layout)  # (b, j, k, c)
                if self.position:  # token t*h*w + n sits at grid position n
                    tokens = tokens + self._position_codes(h, w, tokens)[index % (h * w)]
                # the padding's -inf, added to the scores: built once for all layers
                bias = torch.zeros(valid.shape, dtype=tokens.dtype, device=valid.device)
                return tokens, bias.masked_fill_(~valid, float("-inf"))  # (b, j, k, c), (b, j, k)
        if frame_valid is not None:  # excluded frames: zero weight, and zeros, not NaN, to weigh
            features = features.masked_fill(~rearrange(frame_valid, "b t -> b t 1 1 1"), 0)
        tokens = map_to_tokens(features, self.token_layout)  # (b, t, h*w, c)
        if self.position:
            tokens = tokens + self._position_codes(h, w, tokens)
        return rearrange(tokens, "b t n c -> b (t n) c"), allowed

    def _position_codes(self, h: int, w: int, like: Tensor) -> Tensor:
        """The sine-cosine codes of the ``h*w`` grid positions ``(h*w, C)``, on ``like``'s device
        and dtype."""
        return sincos_position_2d(h, w, self.dim, device=like.device, dtype=like.dtype)

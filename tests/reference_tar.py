"""The reference implementation's computation, written out for tests and benchmarks.

This is a clean re-statement of what the TAR-ViTPose reference code computes (see
../shared/PAPER.md), with its module and parameter names, so that tarpose can be checked against
it: ``nn.MultiheadAttention`` with attention weights returned, the boolean mask repeated once per
head, keys and values projected from every token of every frame, post-norm residuals.

``layout="official"`` reproduces the reference's reshape-based token layout and mask order;
``layout="spatial"`` is the same computation on correctly laid-out tokens.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RefCrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, query: Tensor, context: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        out, _weights = self.mha(query, context, context, attn_mask=attn_mask)  # need_weights=True
        return self.norm(query + out)


class RefSelfAttention(RefCrossAttention):
    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        out, _weights = self.mha(x, x, x)
        return self.norm(x + out)


class RefFFN(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.fc2(self.act(self.fc1(x))))


class ReferenceTemporalHead(nn.Module):
    """JTA + GRA as the reference computes them; parameter names as in its checkpoints."""

    def __init__(
        self, dim: int, num_joints: int = 17, num_frames: int = 5, depth: int = 6, heads: int = 4,
        threshold: float = 0.2, layout: str = "official",
    ) -> None:
        super().__init__()
        self.dim, self.num_joints, self.num_frames = dim, num_joints, num_frames
        self.heads, self.threshold, self.layout = heads, threshold, layout
        self.query_feat = nn.Embedding(num_joints, dim)
        self.query_pe = nn.Embedding(num_joints, dim)
        self.masked_attention_layers = nn.ModuleList(RefCrossAttention(dim, heads) for _ in range(depth))
        self.self_attention_layers = nn.ModuleList(RefSelfAttention(dim, heads) for _ in range(depth))
        self.ffn_layers = nn.ModuleList(RefFFN(dim, dim * 2) for _ in range(depth))
        self.cross_attention = RefCrossAttention(dim, heads)

    def blocked_mask(self, heatmaps: Tensor, h: int, w: int, t: int | None = None) -> Tensor:
        """heatmaps (B*T, J, H, W) -> blocked (B*heads, J, T*h*w), True = may NOT attend."""
        bt, j = heatmaps.shape[:2]
        t = t or self.num_frames
        lo = heatmaps.amin(dim=(2, 3), keepdim=True)
        hi = heatmaps.amax(dim=(2, 3), keepdim=True)
        normed = (heatmaps - lo) / (hi - lo + 1e-6)
        small = F.interpolate(normed, size=(h, w), mode="bilinear", align_corners=False)
        blocked = (small < self.threshold).view(bt // t, t, j, h * w)
        if self.layout == "official":
            blocked = blocked.unsqueeze(1).repeat(1, self.heads, 1, 1, 1).flatten(0, 1)
            return blocked.view(-1, j, t, h * w).flatten(2).detach()
        blocked = blocked.permute(0, 2, 1, 3).flatten(2)  # (B, J, T*hw)
        return blocked.unsqueeze(1).repeat(1, self.heads, 1, 1).flatten(0, 1).detach()

    def tokens(self, maps: Tensor) -> Tensor:
        """(B, T, C, h, w) -> (B, T, h*w, C)."""
        b, t, c, h, w = maps.shape
        if self.layout == "official":
            return maps.flatten(3).reshape(b, t, h * w, c)
        return maps.flatten(3).transpose(2, 3)

    def untokens(self, tokens: Tensor, h: int, w: int) -> Tensor:
        b, n, c = tokens.shape
        if self.layout == "official":
            return tokens.reshape(b, c, h, w)
        return tokens.transpose(1, 2).reshape(b, c, h, w)

    def joints(self, maps: Tensor, heatmaps: Tensor) -> Tensor:
        """JTA: maps (B, T, C, h, w), heatmaps (B, T, J, H, W) -> joint tokens (B, J, C)."""
        b, t, c, h, w = maps.shape
        blocked = self.blocked_mask(heatmaps.flatten(0, 1), h, w, t)
        output = (self.query_feat.weight + self.query_pe.weight).unsqueeze(0).repeat(b, 1, 1)
        tokens = self.tokens(maps).flatten(1, 2)
        for cross, self_attn, ffn in zip(
            self.masked_attention_layers, self.self_attention_layers, self.ffn_layers
        ):
            output = ffn(self_attn(cross(output, tokens, attn_mask=blocked)))
        return output

    def forward(self, maps: Tensor, heatmaps: Tensor) -> Tensor:
        """maps (B, T, C, h, w), heatmaps (B, T, J, H, W) -> restored centre map (B, C, h, w)."""
        b, t, c, h, w = maps.shape
        output = self.joints(maps, heatmaps)
        centre = self.cross_attention(self.tokens(maps)[:, t // 2], output)
        return self.untokens(centre, h, w)

    def joints_of_valid_frames(self, maps: Tensor, heatmaps: Tensor, frame_valid: Tensor) -> Tensor:
        """JTA over each clip's valid frames only, clip by clip (what ``frame_valid`` means):
        maps (B, T, C, h, w), heatmaps (B, T, J, H, W), frame_valid bool (B, T) -> (B, J, C)."""
        return torch.cat([
            self.joints(maps[i : i + 1, frame_valid[i]], heatmaps[i : i + 1, frame_valid[i]])
            for i in range(maps.shape[0])
        ])


class ReferenceTARViTPose(nn.Module):
    """The reference model: encoder + decoder + :class:`ReferenceTemporalHead`."""

    def __init__(self, encoder: Callable[[Tensor], Tensor], decoder: nn.Module, head: ReferenceTemporalHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head

    def forward(self, clip: Tensor) -> Tensor:
        b, t = clip.shape[:2]
        maps = self.encoder(clip.flatten(0, 1))
        init = self.decoder(maps)
        restored = self.head(maps.view(b, t, *maps.shape[1:]), init.view(b, t, *init.shape[1:]))
        return self.decoder(restored)


def copy_reference_into(head: ReferenceTemporalHead, jta: nn.Module, gra: nn.Module) -> None:
    """Copy a reference head's weights into tarpose's JTA and GRA (postnorm GRA)."""
    with torch.no_grad():
        jta.query_embed.copy_(head.query_feat.weight)
        jta.query_pos.copy_(head.query_pe.weight)
        for layer, cross, self_attn, ffn in zip(
            jta.layers, head.masked_attention_layers, head.self_attention_layers, head.ffn_layers
        ):
            layer.cross_attn.load_state_dict(cross.mha.state_dict())
            layer.norm1.load_state_dict(cross.norm.state_dict())
            layer.self_attn.load_state_dict(self_attn.mha.state_dict())
            layer.norm2.load_state_dict(self_attn.norm.state_dict())
            layer.mlp.fc1.load_state_dict(ffn.fc1.state_dict())
            layer.mlp.fc2.load_state_dict(ffn.fc2.state_dict())
            layer.norm3.load_state_dict(ffn.norm.state_dict())
        gra.attn.load_state_dict(head.cross_attention.mha.state_dict())
        gra.norm.load_state_dict(head.cross_attention.norm.state_dict())


def randomise_(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Give every parameter (biases and norms too) random values, so no term hides at zero/one."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * (0.3 if p.ndim > 1 else 0.5))
    return module


def activate_temporal_(wrapper: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Give the temporal part's zero-initialised parameters (GRA's gate or output projection, the
    FFN's output layer, the heatmap embedding) random values, so the wrapper's output depends on
    the other frames, whatever its ``restore`` mode."""
    with torch.no_grad():
        for name, p in wrapper.named_parameters():
            if not name.startswith(("jta.", "gra.", "heatmap_embed.")) or bool(p.any()):
                continue
            if name.endswith("gate"):
                p.copy_(0.5 + torch.rand(p.shape, generator=generator))
            else:
                fan_in = p.shape[-1] if p.ndim > 1 else 1
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5 / fan_in**0.5)
    return wrapper

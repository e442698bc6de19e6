"""A self-contained ViTPose: plain ViT backbone + classic or simple heatmap decoder.

Parameter names follow the official ViTPose repository (``backbone.patch_embed.proj``,
``backbone.blocks.i.attn.qkv``, ``backbone.last_norm``, ``keypoint_head.deconv_layers``,
``keypoint_head.final_layer``), so official checkpoints map onto it almost one to one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._checks import Field, check_fields, expect_shape
from ..layers.mlp import Mlp
from ..preprocess import DataConfig

Decoder = Literal["classic", "simple"]

#: sanity bounds of a config read from a file (generous: ViTPose-H has 32 blocks of width 1280)
MAX_DEPTH = 1024
MAX_SIZE = 1 << 16
#: what each [ViTPoseConfig][tarpose.models.vitpose.ViTPoseConfig] field may hold (checked on construction, so a config read
#: from an untrusted ``config.json`` fails here, with the field named, before anything is built)
VITPOSE_SPECS: dict[str, Field] = {
    "input_size": Field(int, 1, MAX_SIZE, length=2),
    "patch_size": Field(int, 1, 1024),
    "patch_padding": Field(int, 0, 1024),
    "in_chans": Field(int, 1, 1024),
    "embed_dim": Field(int, 1, MAX_SIZE),
    "depth": Field(int, 1, MAX_DEPTH),
    "num_heads": Field(int, 1, MAX_SIZE),
    "mlp_ratio": Field(float, 1e-3, 1024),
    "qkv_bias": Field(bool),
    "layer_norm_eps": Field(float, 0, 1),
    "drop_path_rate": Field(float, 0, 1),
    "num_joints": Field(int, 1, MAX_SIZE),
    "decoder": Field(str, choices=("classic", "simple")),
    "deconv_channels": Field(int, 1, MAX_SIZE),
    "upsample": Field(int, 1, 64),
}


@dataclass
class ViTPoseConfig:
    """Architecture of a built-in ViTPose.

    ``input_size`` is the input (H, W) the position embeddings are stored for; any other input whose
    sides are multiples of ``patch_size`` also works (the embeddings are resized bicubically).

    Attributes:
        input_size: input crops ``(H, W)`` the position embeddings are stored for.
        patch_size: side of the square patches (16: tokens ``H/16 x W/16``).
        patch_padding: padding of the patch-embedding convolution (2 in ViTPose).
        in_chans: input channels.
        embed_dim: token width C (384 S, 768 B, 1024 L, 1280 H).
        depth: transformer blocks.
        num_heads: attention heads per block.
        mlp_ratio: MLP hidden width over ``embed_dim``.
        qkv_bias: biases on the query/key/value projection.
        layer_norm_eps: LayerNorm epsilon (1e-6 as ViTPose; transformers' configs say 1e-12).
        drop_path_rate: stochastic depth at the last block (linear from 0), for training.
        num_joints: keypoints the decoder predicts.
        decoder: ``"classic"`` (two deconvolutions) or ``"simple"`` (bilinear x ``upsample`` and a
            3x3 convolution).
        deconv_channels: channels of the classic decoder's deconvolutions.
        upsample: the simple decoder's upsampling factor.
    """

    input_size: tuple[int, int] = (256, 192)
    patch_size: int = 16
    patch_padding: int = 2
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    drop_path_rate: float = 0.0
    num_joints: int = 17
    decoder: Decoder = "classic"
    deconv_channels: int = 256
    upsample: int = 4

    def __post_init__(self) -> None:
        checked = check_fields(VITPOSE_SPECS, asdict(self), what="ViTPoseConfig")
        for name, value in checked.items():
            setattr(self, name, value)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim={self.embed_dim} must be divisible by num_heads={self.num_heads}"
            )
        for side in self.input_size:
            if side % self.patch_size:
                raise ValueError(
                    f"input_size {self.input_size} must be multiples of patch_size {self.patch_size}"
                )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d


class PatchEmbed(nn.Module):
    """Conv patchify with ViTPose's padding: ``(N, 3, H, W) -> (N, C, H/16, W/16)``."""

    def __init__(self, in_chans: int, dim: int, patch_size: int, padding: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size, padding=padding)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class SelfAttention(nn.Module):
    """ViT self-attention with a fused qkv projection, through SDPA."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, L, C) -> (N, L, C)``."""
        qkv = rearrange(self.qkv(x), "n l (three h d) -> three n h l d", three=3, h=self.num_heads)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (n, h, l, d)
        return self.proj(rearrange(out, "n h l d -> n l (h d)"))


class DropPath(nn.Module):
    """Stochastic depth per sample (identity in eval mode or with ``p=0``)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, eps: float, drop_path: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def resize_pos_embed(pos_embed: Tensor, src: tuple[int, int], dst: tuple[int, int]) -> Tensor:
    """Bicubic resize of ``(1, src_h*src_w, C)`` position embeddings to ``(1, dst_h*dst_w, C)``."""
    if tuple(src) == tuple(dst):
        return pos_embed
    grid = rearrange(pos_embed, "1 (h w) c -> 1 c h w", h=src[0], w=src[1])
    grid = F.interpolate(grid, size=tuple(dst), mode="bicubic", align_corners=False)
    return rearrange(grid, "1 c h w -> 1 (h w) c")


class ViT(nn.Module):
    """ViTPose's backbone: ``(N, 3, H, W) -> (N, C, H/16, W/16)`` after the last LayerNorm."""

    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_dim = cfg.embed_dim
        self.patch_embed = PatchEmbed(cfg.in_chans, cfg.embed_dim, cfg.patch_size, cfg.patch_padding)
        self.grid_size = self.feature_size(cfg.input_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.grid_size), cfg.embed_dim))
        rates = [cfg.drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(
            Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, cfg.layer_norm_eps, r)
            for r in rates
        )
        self.last_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(_init_weights)

    def feature_size(self, input_size: tuple[int, int]) -> tuple[int, int]:
        """The token grid ``(h, w)`` for an input ``(H, W)``."""
        k, p = self.cfg.patch_size, self.cfg.patch_padding
        return tuple((s + 2 * p - k) // k + 1 for s in input_size)  # type: ignore[return-value]

    def forward(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` with H, W multiples of the patch size -> ``(N, C, h, w)``."""
        expect_shape("images", images, "(N, 3, H, W)", (None, self.cfg.in_chans, None, None))
        size = tuple(images.shape[-2:])
        if size[0] % self.cfg.patch_size or size[1] % self.cfg.patch_size:
            raise ValueError(
                f"image size {size} must be multiples of patch size {self.cfg.patch_size}"
            )
        x = self.patch_embed(images)  # (n, c, h, w)
        h, w = x.shape[-2:]
        x = rearrange(x, "n c h w -> n (h w) c")
        x = x + resize_pos_embed(self.pos_embed, self.grid_size, (h, w))
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        return rearrange(x, "n (h w) c -> n c h w", h=h, w=w)


class HeatmapHead(nn.Module):
    """ViTPose decoders, ``(N, C, h, w) -> (N, J, 4h, 4w)``.

    ``classic``: 2 x (ConvTranspose k4 s2 -> BN -> ReLU) -> 1x1 conv.
    ``simple``: ReLU -> bilinear x4 -> 3x3 conv.
    """

    def __init__(
        self, in_channels: int, num_joints: int, kind: Decoder = "classic",
        deconv_channels: int = 256, upsample: int = 4,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.upsample = upsample
        self.num_joints = num_joints
        if kind == "classic":
            c = deconv_channels
            self.deconv_layers = nn.Sequential(
                nn.ConvTranspose2d(in_channels, c, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            )
            self.final_layer = nn.Conv2d(c, num_joints, kernel_size=1)
        else:
            self.deconv_layers = nn.Sequential()
            self.final_layer = nn.Conv2d(in_channels, num_joints, kernel_size=3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                nn.init.zeros_(m.bias)

    def forward(self, features: Tensor) -> Tensor:
        if self.kind == "simple":
            features = F.interpolate(
                F.relu(features), scale_factor=self.upsample, mode="bilinear", align_corners=False
            )
        return self.final_layer(self.deconv_layers(features))


class ViTPose(nn.Module):
    """Top-down single-frame ViTPose: crops ``(N, 3, H, W)`` -> heatmaps ``(N, J, H/4, W/4)``.

    Build one with ``tarpose.create_model`` (``"vitpose-b"``, ...) or from a
    [ViTPoseConfig][tarpose.ViTPoseConfig]. ``backbone`` is the encoder and ``keypoint_head`` the
    decoder that [TemporalWrapper][tarpose.TemporalWrapper] uses; ``data_config`` says how its
    crops are made (the input size, normalisation). ``tarpose.save_pretrained(model, dir)``
    writes ``config.json``, ``model.safetensors`` and a model card; ``tarpose.load_model(source)``
    loads it back, and the transformers, official, mmpose and easy_ViTPose checkpoints too.

    Args:
        config: the architecture (default: ViTPose-B's).
        **overrides: [ViTPoseConfig][tarpose.ViTPoseConfig] fields changed from ``config``.
    """

    def __init__(self, config: ViTPoseConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = ViTPoseConfig(**overrides)
        elif overrides:
            config = ViTPoseConfig(**{**config.to_dict(), **overrides})
        self.config = config
        self.data_config = DataConfig(input_size=config.input_size)
        self.backbone = ViT(config)
        self.keypoint_head = HeatmapHead(
            config.embed_dim, config.num_joints, config.decoder, config.deconv_channels, config.upsample
        )

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    def forward_features(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W) -> (N, C, H/16, W/16)``."""
        return self.backbone(images)

    def forward(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W) -> (N, J, H/4, W/4)``."""
        return self.keypoint_head(self.backbone(images))


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)

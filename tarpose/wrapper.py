"""TemporalWrapper: retrofit JTA and GRA onto any ViTPose-style encoder/decoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn

from ._checks import expect_bool, expect_shape, is_tracing
from .adapters import SplitModel, as_module, check_features, split_model
from .layers.attention import Strategy
from .layers.gra import GlobalRestoringAttention, Restore
from .layers.jta import JointTemporalAggregator
from .layers.mask import heatmap_mask
from .layers.tokens import TokenLayout
from .models.vitpose import ViTPose, ViTPoseConfig
from .weights.hub import HubMixin

Target = Literal["center", "last"]


class TemporalOutput(NamedTuple):
    """``heatmaps``: final heatmaps of the target frame ``(B, J, Hh, Wh)``;
    ``initial_heatmaps``: the base model's heatmaps of every frame ``(B, T, J, Hh, Wh)``."""

    heatmaps: Tensor
    initial_heatmaps: Tensor


def _encode_vitpose(model: ViTPose) -> dict:
    return model.config.to_dict()


def _decode_vitpose(config: dict) -> ViTPose:
    return ViTPose(ViTPoseConfig(**config))


class TemporalWrapper(nn.Module, HubMixin, coders={ViTPose: (_encode_vitpose, _decode_vitpose)}):
    """TAR-ViTPose around an existing single-frame model.

    ``forward(clip (B, T, 3, H, W)) -> heatmaps (B, J, Hh, Wh)`` of the target frame. The encoder
    runs once over all ``B*T`` frames in one batch, the model's own decoder gives the initial
    heatmaps, JTA aggregates every frame's joint evidence, GRA restores the target frame's map and
    the same decoder turns it into the final heatmaps.

    Args:
        model: a tarpose :class:`~tarpose.ViTPose`, transformers' ``VitPoseForPoseEstimation``,
            an mmpose-style model (``.backbone`` + ``.head``) or an official/easy_ViTPose-style
            one (``.backbone`` + ``.keypoint_head``). Its modules are shared, not copied.
        encoder: instead of ``model``: images ``(N, 3, H, W)`` -> maps ``(N, C, h, w)``.
        decoder: instead of ``model``: maps ``(N, C, h, w)`` -> heatmaps ``(N, J, Hh, Wh)``.
        num_frames: window length T (odd for ``target="center"``; 5 in the paper).
        dim, num_joints: channels C and joints J; inferred from ``model`` where possible.
        depth, num_heads, mlp_ratio, mask_threshold: JTA options (paper: 6, 4, 2.0, 0.2).
        restore: GRA mode, ``"residual"`` (equals the base model at initialisation) or
            ``"postnorm"`` (the reference code).
        token_layout: ``"spatial"`` (default) or ``"official"`` (reference weights only).
        target: ``"center"`` (frame T//2, the paper) or ``"last"`` (causal streaming).
        freeze_base: train only the new modules: the base's parameters get
            ``requires_grad=False`` and the base stays in eval mode (BatchNorm statistics frozen).
        dataset_index: expert of a transformers ViTPose+ backbone (0 = COCO).
        attention: attention strategy of the new modules (``"auto"``: fastest exact one).

    Over a built-in :class:`~tarpose.ViTPose`, ``save_pretrained(dir)`` writes ``config.json``
    (these arguments, the ViTPose as its :class:`~tarpose.ViTPoseConfig`), ``model.safetensors``
    and a model card; ``TemporalWrapper.from_pretrained(repo_id_or_dir, revision=...)`` loads it
    back strictly and ``push_to_hub(repo_id)`` uploads it.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        encoder: Callable[[Tensor], Tensor] | None = None,
        decoder: Callable[[Tensor], Tensor] | None = None,
        num_frames: int = 5,
        dim: int | None = None,
        num_joints: int | None = None,
        depth: int = 6,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        mask_threshold: float = 0.2,
        restore: Restore = "residual",
        token_layout: TokenLayout = "spatial",
        target: Target = "center",
        freeze_base: bool = False,
        dataset_index: int | None = None,
        attention: Strategy = "auto",
    ) -> None:
        super().__init__()
        split = self._split(model, encoder, decoder, dataset_index)
        dim = dim or split.dim
        num_joints = num_joints or split.num_joints
        if dim is None or num_joints is None:
            raise ValueError(
                "cannot infer dim and num_joints from the model: pass dim=C and num_joints=J"
            )
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if target not in ("center", "last"):
            raise ValueError(f"target must be 'center' or 'last', got {target!r}")
        if target == "center" and num_frames % 2 == 0:
            raise ValueError(
                f"num_frames={num_frames} is even: a centred window needs an odd length 2T+1"
            )
        self.num_frames = num_frames
        self.dim = dim
        self.num_joints = num_joints
        self.target = target
        self.target_index = num_frames // 2 if target == "center" else num_frames - 1
        self.in_chans = split.in_chans
        self.image_size = split.image_size
        self._base_config = model.config if isinstance(model, ViTPose) else None
        self.freeze_base = freeze_base
        self.encoder = split.encoder
        self.decoder = split.decoder
        self.jta = JointTemporalAggregator(
            dim, num_joints, depth, num_heads, mlp_ratio, mask_threshold,
            token_layout=token_layout, attention=attention,
        )
        self.gra = GlobalRestoringAttention(
            dim, num_heads, restore, token_layout=token_layout, attention=attention
        )
        if freeze_base:
            for p in self.base_parameters():
                p.requires_grad_(False)
            self.train(self.training)

    @staticmethod
    def _split(
        model: nn.Module | None,
        encoder: Callable[[Tensor], Tensor] | None,
        decoder: Callable[[Tensor], Tensor] | None,
        dataset_index: int | None,
    ) -> SplitModel:
        if model is not None:
            if encoder is not None or decoder is not None:
                raise ValueError("pass either model or encoder= and decoder=, not both")
            return split_model(model, dataset_index=dataset_index)
        if encoder is None or decoder is None:
            raise ValueError("pass a model, or both encoder= and decoder=")
        return SplitModel(as_module(encoder), as_module(decoder))

    @property
    def base_config(self) -> ViTPoseConfig | None:
        """The config of the built-in :class:`~tarpose.ViTPose` this wraps (``None`` for others)."""
        return self._base_config

    def _hub_config(self) -> dict:
        config = dict(self._hub_mixin_config or {})
        if self._base_config is None or not isinstance(config.get("model"), dict):
            raise ValueError(
                "save_pretrained/push_to_hub need a TemporalWrapper over a built-in tarpose.ViTPose "
                "(passed as model=): only then can config.json rebuild it. For a transformers, "
                "mmpose or official model, load its weights into one first, e.g. "
                "TemporalWrapper(tarpose.load_vitpose('usyd-community/vitpose-base-simple'))"
            )
        return config

    def base_parameters(self) -> list[nn.Parameter]:
        """Parameters of the wrapped model (encoder and decoder)."""
        return list(self.encoder.parameters()) + list(self.decoder.parameters())

    def new_parameters(self) -> list[nn.Parameter]:
        """Parameters added by TAR (JTA and GRA)."""
        return list(self.jta.parameters()) + list(self.gra.parameters())

    def train(self, mode: bool = True) -> TemporalWrapper:
        super().train(mode)
        if self.freeze_base:
            self.encoder.eval()
            self.decoder.eval()
        return self

    # -- the two halves, also used by streaming inference and export --------------------------

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Per-frame part: images ``(N, 3, H, W)`` -> maps ``(N, C, h, w)``, heatmaps ``(N, J, Hh, Wh)``."""
        expect_shape("images", images, "(N, 3, H, W)", (None, self.in_chans, None, None))
        if self.image_size is not None and tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(
                f"this model takes {self.image_size[0]}x{self.image_size[1]} crops, got images of "
                f"shape {tuple(images.shape)}"
            )
        features = check_features(self.encoder(images), self.dim, images.shape[0])
        heatmaps = self.decoder(features)
        expect_shape("decoder output", heatmaps, "(N, J, Hh, Wh)", (images.shape[0], self.num_joints, None, None))
        return features, heatmaps

    def frame_masks(self, heatmaps: Tensor, size: tuple[int, int]) -> Tensor:
        """JTA's mask of each frame on its own: initial heatmaps ``(N, J, Hh, Wh)`` -> bool
        ``(N, J, h, w)`` on the token grid ``size``. A frame's mask does not depend on the window,
        so streaming computes it once per frame and passes windows of masks to
        :meth:`aggregate_restore`."""
        frames = rearrange(heatmaps, "n j hh ww -> n 1 j hh ww")
        return heatmap_mask(frames, size, self.jta.mask_threshold)[:, 0]  # (n, j, h, w)

    def aggregate_restore(
        self,
        features: Tensor,
        heatmaps: Tensor | None = None,
        frame_valid: Tensor | None = None,
        *,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Temporal part: maps ``(B, T, C, h, w)`` and initial heatmaps ``(B, T, J, Hh, Wh)`` of a
        window (``frame_valid`` optional bool ``(B, T)``) -> final heatmaps ``(B, J, Hh, Wh)`` of
        the target frame. Instead of ``heatmaps``, ``mask`` may pass the window's JTA masks
        ``(B, T, J, h, w)`` (from :meth:`frame_masks`)."""
        expect_shape("features", features, "(B, T, C, h, w)", (None, self.num_frames, self.dim, None, None))
        if frame_valid is not None:
            expect_shape("frame_valid", frame_valid, "(B, T)", (features.shape[0], self.num_frames))
            expect_bool("frame_valid", frame_valid)
            if not is_tracing() and not bool(frame_valid[:, self.target_index].all()):
                raise ValueError(f"frame_valid must mark the target frame {self.target_index} valid")
        joints = self.jta(features, heatmaps, mask=mask, frame_valid=frame_valid)  # (b, j, c)
        restored = self.gra(features[:, self.target_index], joints)  # (b, c, h, w)
        return self.decoder(restored)

    def forward(
        self, clip: Tensor, *, frame_valid: Tensor | None = None, return_initial: bool = False
    ) -> Tensor | TemporalOutput:
        """Final heatmaps of the target frame.

        Args:
            clip: ``(B, T, 3, H, W)`` normalised crops, all frames cropped with the target frame's
                box; ``T`` must equal ``num_frames``.
            frame_valid: optional bool ``(B, T)``: frames marked False (missing at a video's edge,
                dropped) are excluded from aggregation. The target frame must be valid.
            return_initial: also return the base model's heatmaps of every frame.

        Returns:
            ``(B, J, Hh, Wh)``, or a :class:`TemporalOutput` when ``return_initial``.
        """
        expect_shape("clip", clip, "(B, T, 3, H, W)", (None, None, self.in_chans, None, None))
        b, t = clip.shape[:2]
        if t != self.num_frames:
            raise ValueError(
                f"clip has T={t} frames (shape {tuple(clip.shape)}) but the model was built for "
                f"num_frames={self.num_frames}"
            )
        features, heatmaps = self.encode(rearrange(clip, "b t c h w -> (b t) c h w"))
        features = rearrange(features, "(b t) c h w -> b t c h w", b=b)
        heatmaps = rearrange(heatmaps, "(b t) j h w -> b t j h w", b=b)
        final = self.aggregate_restore(features, heatmaps, frame_valid)
        if return_initial:
            return TemporalOutput(final, heatmaps)
        return final

    def extra_repr(self) -> str:
        return f"num_frames={self.num_frames}, target={self.target!r}, freeze_base={self.freeze_base}"


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared ones counted once)."""
    seen: dict[int, torch.nn.Parameter] = {id(p): p for p in module.parameters()}
    return sum(p.numel() for p in seen.values() if p.requires_grad or not trainable_only)

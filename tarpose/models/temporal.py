"""TemporalWrapper: retrofit JTA and GRA onto any ViTPose-style encoder/decoder, configured by a
[TARConfig][tarpose.models.temporal.TARConfig]."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn

from .._checks import Field, check_fields, expect_bool, expect_dtype, expect_shape, is_tracing
from ..layers.attention import STRATEGIES, Strategy
from ..layers.gra import RESTORE_MODES, GlobalRestoringAttention, Restore
from ..layers.heatmap_embed import HeatmapEmbedding
from ..layers.jta import JointTemporalAggregator
from ..layers.mask import heatmap_mask
from ..layers.tokens import TOKEN_LAYOUTS, TokenLayout
from ..preprocess import DataConfig
from ..window import MAX_FRAMES, Target, Window
from .adapters import SplitModel, as_module, check_features, probe_shapes, split_model
from .vitpose import MAX_DEPTH, MAX_SIZE, ViTPose, ViTPoseConfig


def _to(*params: str) -> dict[str, tuple[str, ...]]:
    """Field metadata: the module parameters a [TARConfig][tarpose.models.temporal.TARConfig] field is passed to, as
    ``"jta.<parameter>"`` ([JointTemporalAggregator][tarpose.JointTemporalAggregator]) or ``"gra.<parameter>"``
    ([GlobalRestoringAttention][tarpose.GlobalRestoringAttention])."""
    return {"to": params}


@dataclass(frozen=True)
class TARConfig:
    """The temporal part of a TAR-ViTPose: its frame window and its JTA and GRA modules.

    Saved in ``config.json`` (``"temporal"``) beside the base model's
    [ViTPoseConfig][tarpose.ViTPoseConfig]. Each field that configures a module names the module's
    parameter in its metadata, and [TemporalWrapper][tarpose.models.temporal.TemporalWrapper] passes such fields on generically:
    a new JTA or GRA option is one line here, e.g.
    ``gra_dropout: float = field(default=0.0, metadata=_to("gra.dropout"))``. Names carry
    their module's prefix, so none of them can mean a ViTPose setting too.

    Args:
        num_frames: window length T (odd for a centred target; 5 in the paper).
        target: the frame predicted, ``"centred"`` (frame T//2, the paper) or ``"last"`` (causal
            streaming); see [Window][tarpose.Window].
        jta_depth: JTA layers (default 2, 6 in the paper: with ``gra_ffn_ratio=1.0`` they
            score within 0.3 of six layers and ratio 2 on the synthetic benchmark at about half
            the temporal part's cost; docs/performance.md).
        jta_heads: JTA attention heads (4 in the paper).
        jta_mlp_ratio: JTA feed-forward width as a multiple of C (2.0 in the paper).
        mask_threshold: heatmap-mask threshold phi of JTA (0.2 in the paper).
        gra_heads: GRA attention heads (4 in the reference code).
        restore: GRA's restoring step: ``"zero_out"`` (default: ``F + MHA(F, Q, Q)`` with a
            zero-initialised output projection, the identity at initialisation),
            ``"residual"`` (``F + gate * MHA(F, Q, Q)``, a per-channel gate starting at
            ``gra_gate_init``) or ``"postnorm"`` (the paper's and reference code's
            ``LN(F + MHA(F, Q, Q))``, not the identity at initialisation).
        gra_gate_init: initial value of the ``"residual"`` gate.
        gra_ffn_ratio: width of a zero-initialised feed-forward block after GRA, as a multiple of
            C (default 1.0; 0: none, as the paper). It lets each map token decide between its own content and
            the update from the joint tokens.
        heatmap_embed: add the window's initial heatmaps (neighbours' mean and the target's own,
            ``heatmap_stride`` x ``heatmap_stride`` pixels per token) to the restored map through
            a zero-initialised linear layer, see
            [HeatmapEmbedding][tarpose.HeatmapEmbedding]: JTA's joint tokens
            say where a joint is to within a token; these say where inside it.
        heatmap_stride: heatmap pixels the embedding reads per feature-map token side. Heatmaps
            of another resolution (a decoder that upsamples 2x or 8x) are resampled to it, so any
            encoder/decoder pair works with the default; ViTPose's decoders upsample 4x.
        position: add fixed sine-cosine codes of the token positions to JTA's frame tokens and
            GRA's queries (``token_layout="spatial"`` only).
        token_layout: ``"spatial"`` (default) or ``"official"`` (the reference code's layout, for
            its released weights only).
        attention: attention strategy of JTA and GRA (``"auto"``: the fastest exact one).
    """

    num_frames: int = 5
    target: Target = "centred"
    jta_depth: int = field(default=2, metadata=_to("jta.depth"))
    jta_heads: int = field(default=4, metadata=_to("jta.num_heads"))
    jta_mlp_ratio: float = field(default=2.0, metadata=_to("jta.mlp_ratio"))
    mask_threshold: float = field(default=0.2, metadata=_to("jta.mask_threshold"))
    gra_heads: int = field(default=4, metadata=_to("gra.num_heads"))
    restore: Restore = field(default="zero_out", metadata=_to("gra.restore"))
    gra_gate_init: float = field(default=0.0, metadata=_to("gra.gate_init"))
    gra_ffn_ratio: float = field(default=1.0, metadata=_to("gra.ffn_ratio"))
    heatmap_embed: bool = True
    heatmap_stride: int = 4
    position: bool = field(default=False, metadata=_to("jta.position", "gra.position"))
    token_layout: TokenLayout = field(default="spatial", metadata=_to("jta.token_layout", "gra.token_layout"))
    attention: Strategy = field(default="auto", metadata=_to("jta.attention", "gra.attention"))

    def __post_init__(self) -> None:
        checked = check_fields(TAR_SPECS, {k: v for k, v in self.__dict__.items() if k != "target"}, what="TARConfig")
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        Window(self.num_frames, self.target)  # checks both
        if self.heatmap_stride < 1:
            raise ValueError(f"heatmap_stride must be >= 1, got {self.heatmap_stride}")

    @classmethod
    def paper(cls, **changes: Any) -> TARConfig:
        """The paper's modules exactly: six JTA layers, post-norm restore, no FFN after GRA, no
        heatmap embedding.

        Args:
            **changes: other fields to set.
        """
        return cls(**{"jta_depth": 6, "restore": "postnorm", "gra_ffn_ratio": 0.0, "heatmap_embed": False,
                      **changes})

    @property
    def window(self) -> Window:
        """The frame window (length and target)."""
        return Window(self.num_frames, self.target)

    def module_options(self, module: str) -> dict[str, Any]:
        """Keyword arguments of one module: ``"jta"`` or ``"gra"``.

        Args:
            module: the prefix of the parameters wanted.
        """
        options = {}
        for f in fields(self):
            for target in f.metadata.get("to", ()):
                owner, _, parameter = target.partition(".")
                if owner == module:
                    options[parameter] = getattr(self, f.name)
        return options

    def replace(self, **changes: Any) -> TARConfig:
        """A copy with some fields changed (checked like the constructor's)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TARConfig:
        """A config from [to_dict][tarpose.models.temporal.TARConfig.to_dict]'s output (a saved model's):
        every field, none other.

        Args:
            values: field names and values.

        Raises:
            TypeError: a name that is not a field, or a missing field.
        """
        unknown = sorted(set(values) - TAR_FIELDS)
        missing = sorted(TAR_FIELDS - set(values))
        if unknown or missing:
            raise TypeError(
                f"a saved TARConfig must have exactly its fields: unknown {unknown}, missing {missing}"
            )
        return cls(**values)


#: what each [TARConfig][tarpose.models.temporal.TARConfig] field may hold (``target`` is checked by [Window][tarpose.Window])
TAR_SPECS: dict[str, Field] = {
    "num_frames": Field(int, 1, MAX_FRAMES),
    "jta_depth": Field(int, 1, MAX_DEPTH),
    "jta_heads": Field(int, 1, MAX_SIZE),
    "jta_mlp_ratio": Field(float, 1e-3, 1024),
    "mask_threshold": Field(float),
    "gra_heads": Field(int, 1, MAX_SIZE),
    "restore": Field(str, choices=RESTORE_MODES),
    "gra_gate_init": Field(float),
    "gra_ffn_ratio": Field(float, 0, 1024),
    "heatmap_embed": Field(bool),
    "heatmap_stride": Field(int, 1, 64),
    "position": Field(bool),
    "token_layout": Field(str, choices=TOKEN_LAYOUTS),
    "attention": Field(str, choices=STRATEGIES),
}
#: the submodules TAR adds to the base model (the prefixes of their weights' names)
TEMPORAL_MODULES: tuple[str, ...] = ("jta", "gra", "heatmap_embed")
#: the names of [TARConfig][tarpose.models.temporal.TARConfig]'s fields
TAR_FIELDS: frozenset[str] = frozenset(f.name for f in fields(TARConfig))
class TemporalOutput(NamedTuple):
    """``heatmaps``: final heatmaps of the target frame ``(B, J, Hh, Wh)``;
    ``initial_heatmaps``: the base model's heatmaps of every frame ``(B, T, J, Hh, Wh)``."""

    heatmaps: Tensor
    initial_heatmaps: Tensor


class TemporalWrapper(nn.Module):
    """TAR-ViTPose around an existing single-frame model.

    ``forward(clip (B, T, 3, H, W)) -> heatmaps (B, J, Hh, Wh)`` of the target frame. The encoder
    runs once over all ``B*T`` frames in one batch, the model's own decoder gives the initial
    heatmaps, JTA aggregates every frame's joint evidence, GRA restores the target frame's map and
    the same decoder turns it into the final heatmaps.

    Args:
        model: a tarpose [ViTPose][tarpose.ViTPose], transformers' ``VitPoseForPoseEstimation``,
            an mmpose-style model (``.backbone`` + ``.head``) or an official/easy_ViTPose-style
            one (``.backbone`` + ``.keypoint_head``). Its modules are shared, not copied.
        config: the temporal part, a [TARConfig][tarpose.TARConfig] (default: the paper's).
        encoder: instead of ``model``: images ``(N, 3, H, W)`` -> maps ``(N, C, h, w)``.
        decoder: instead of ``model``: maps ``(N, C, h, w)`` -> heatmaps ``(N, J, Hh, Wh)``.
        dim: channels C of the feature maps; inferred from ``model`` where possible.
        num_joints: joints J; inferred from ``model`` where possible.
        dataset_index: expert of a transformers ViTPose+ backbone (0 = COCO).
        **overrides: [TARConfig][tarpose.TARConfig] fields changed from ``config``, for
            convenience: ``TemporalWrapper(vitpose, num_frames=3, jta_depth=2)``.

    A wrapper over a built-in ViTPose saves and loads the Hub way:
    ``tarpose.save_pretrained(model, dir)`` writes ``config.json`` (the ViTPose's config, the
    TARConfig and the preprocessing), ``model.safetensors`` and a model card;
    ``tarpose.load_model(dir_or_repo_id)`` loads it back strictly and ``tarpose.push_to_hub``
    uploads it. To train only the new modules: ``tarpose.training.freeze_base(model)``.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        config: TARConfig | None = None,
        *,
        encoder: Callable[[Tensor], Tensor] | None = None,
        decoder: Callable[[Tensor], Tensor] | None = None,
        dim: int | None = None,
        num_joints: int | None = None,
        dataset_index: int | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        options = overrides
        unknown = sorted(set(options) - TAR_FIELDS)
        if unknown:
            raise TypeError(f"unknown TemporalWrapper options {unknown}; TARConfig fields: {sorted(TAR_FIELDS)}")
        if config is not None and not isinstance(config, TARConfig):
            raise TypeError(f"config must be a TARConfig, got {type(config).__name__}")
        config = (config or TARConfig()).replace(**options)
        split = self._split(model, encoder, decoder, dataset_index)
        dim = dim or split.dim
        num_joints = num_joints or split.num_joints
        if dim is None or num_joints is None:
            raise ValueError(
                "cannot infer dim and num_joints from the model: pass dim=C and num_joints=J"
            )
        self.config = config
        self.window = config.window
        self.dim = dim
        self.num_joints = num_joints
        self.in_chans = split.in_chans
        self.input_size = split.input_size
        self._base_config = model.config if isinstance(model, ViTPose) else None
        base_data = getattr(model, "data_config", None)
        self._data_config = base_data if isinstance(base_data, DataConfig) else None
        self.freeze_base = False
        self.encoder = split.encoder
        self.decoder = split.decoder
        # the crop size the pair is probed at: the model's own, else ViTPose's usual 256x192
        size = split.input_size or (self._data_config.input_size if self._data_config else None)
        self._check_pair(split.in_chans, tuple(size or (256, 192)))
        self.jta = JointTemporalAggregator(dim, num_joints, **config.module_options("jta"))
        self.gra = GlobalRestoringAttention(dim, **config.module_options("gra"))
        self.heatmap_embed = (
            HeatmapEmbedding(num_joints, dim, config.heatmap_stride) if config.heatmap_embed else None
        )

    def _check_pair(self, in_chans: int, size: tuple[int, int]) -> None:
        """Refuse an encoder/decoder pair that cannot work with the temporal modules, at
        construction (probed on the ``meta`` device; a pair that cannot run there is checked at
        the first forward instead)."""
        shapes = probe_shapes(self.encoder, self.decoder, in_chans, size)
        if shapes is None:
            return
        maps, heatmaps = shapes
        if maps[1] != self.dim:
            raise ValueError(
                f"the encoder gives {maps[1]}-channel maps {maps} for a {size[0]}x{size[1]} crop, "
                f"but the temporal modules are built for dim={self.dim}"
            )
        if len(heatmaps) != 4 or heatmaps[1] != self.num_joints:
            raise ValueError(
                f"the decoder turns the encoder's maps {maps} into {heatmaps}, not heatmaps "
                f"(N, J={self.num_joints}, Hh, Wh)"
            )

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
    def num_frames(self) -> int:
        """Window length T."""
        return self.window.length

    @property
    def target(self) -> Target:
        """``"centred"`` or ``"last"``."""
        return self.window.target

    @property
    def target_index(self) -> int:
        """Position of the target frame in the window."""
        return self.window.target_index

    @property
    def data_config(self) -> DataConfig:
        """How the crops are made: the base model's [DataConfig][tarpose.DataConfig], or the
        defaults at the encoder's fixed ``input_size`` (``None`` when it takes any size)."""
        return self._data_config if self._data_config is not None else DataConfig(self.input_size)

    @data_config.setter
    def data_config(self, value: DataConfig) -> None:
        if not isinstance(value, DataConfig):
            raise TypeError(f"data_config must be a DataConfig, got {type(value).__name__}")
        self._data_config = value

    @property
    def base_config(self) -> ViTPoseConfig | None:
        """The config of the built-in [ViTPose][tarpose.ViTPose] this wraps (``None`` for others)."""
        return self._base_config

    def base_parameters(self) -> list[nn.Parameter]:
        """Parameters of the wrapped model (encoder and decoder)."""
        return list(self.encoder.parameters()) + list(self.decoder.parameters())

    def new_parameters(self) -> list[nn.Parameter]:
        """Parameters added by TAR (JTA, GRA and the heatmap embedding)."""
        modules = [getattr(self, name) for name in TEMPORAL_MODULES]  # heatmap_embed may be None
        return [p for m in modules if m is not None for p in m.parameters()]

    def train(self, mode: bool = True) -> TemporalWrapper:
        """Set training mode; a frozen base (``freeze_base``) stays in eval mode, so its
        BatchNorm statistics do not move."""
        super().train(mode)
        if self.freeze_base:
            self.encoder.eval()
            self.decoder.eval()
        return self

    # -- the two halves, also used by streaming inference and export --------------------------

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Per-frame part: images ``(N, 3, H, W)`` -> maps ``(N, C, h, w)``, heatmaps ``(N, J, Hh, Wh)``."""
        expect_shape("images", images, "(N, 3, H, W)", (None, self.in_chans, None, None))
        expect_dtype("images", images, self.encoder)
        if self.input_size is not None and tuple(images.shape[-2:]) != self.input_size:
            raise ValueError(
                f"this model takes {self.input_size[0]}x{self.input_size[1]} crops, got images of "
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
        [aggregate_restore][tarpose.TemporalWrapper.aggregate_restore]."""
        frames = rearrange(heatmaps, "n j hh ww -> n 1 j hh ww")
        return heatmap_mask(frames, size, self.jta.mask_threshold)[:, 0]  # (n, j, h, w)

    def aggregate_restore(
        self,
        features: Tensor,
        heatmaps: Tensor,
        frame_valid: Tensor | None = None,
        *,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Temporal part: maps ``(B, T, C, h, w)`` and initial heatmaps ``(B, T, J, Hh, Wh)`` of a
        window (``frame_valid`` optional bool ``(B, T)``) -> final heatmaps ``(B, J, Hh, Wh)`` of
        the target frame. ``mask``, optional bool ``(B, T, J, h, w)``: JTA's masks of the window,
        already computed ([frame_masks][tarpose.TemporalWrapper.frame_masks] of each frame), read
        in place of the masks of ``heatmaps``."""
        expect_shape("features", features, "(B, T, C, h, w)", (None, self.num_frames, self.dim, None, None))
        expect_dtype("features", features, self.jta)
        if frame_valid is not None:
            expect_shape("frame_valid", frame_valid, "(B, T)", (features.shape[0], self.num_frames))
            expect_bool("frame_valid", frame_valid)
            if not is_tracing() and not bool(frame_valid[:, self.target_index].all()):
                raise ValueError(f"frame_valid must mark the target frame {self.target_index} valid")
        if not is_tracing() and features.shape[0] == 0:  # an empty batch: an empty result
            return heatmaps[:, self.target_index]  # (0, j, hh, wh)
        if frame_valid is not None:  # excluded frames contribute nothing to any module, even NaN
            excluded = ~rearrange(frame_valid, "b t -> b t 1 1 1")
            features, heatmaps = features.masked_fill(excluded, 0.0), heatmaps.masked_fill(excluded, 0.0)
        if mask is None:
            joints = self.jta(features, heatmaps, frame_valid=frame_valid)  # (b, j, c)
        else:
            joints = self.jta(features, mask=mask, frame_valid=frame_valid)  # (b, j, c)
        evidence = None
        if self.heatmap_embed is not None:  # (b, c, h, w); any decoder's resolution
            evidence = self.heatmap_embed(heatmaps, self.target_index, frame_valid, features.shape[-2:])
        restored = self.gra(features[:, self.target_index], joints, evidence)  # (b, c, h, w)
        return self.decoder(restored)

    def forward(
        self,
        clip: Tensor | None = None,
        *,
        frame_valid: Tensor | None = None,
        return_initial: bool = False,
        features: Tensor | None = None,
        heatmaps: Tensor | None = None,
    ) -> Tensor | TemporalOutput:
        """Final heatmaps of the target frame.

        Args:
            clip: ``(B, T, 3, H, W)`` normalised crops, all frames cropped with the target frame's
                box; ``T`` must equal ``num_frames``.
            frame_valid: optional bool ``(B, T)``: frames marked False (missing at a video's edge,
                dropped) are excluded from aggregation. The target frame must be valid.
            return_initial: also return the base model's heatmaps of every frame.
            features: instead of ``clip``: the window's encoder outputs, already computed
                (cached), ``(B, T, C, h, w)``; the encoder does not run.
            heatmaps: with ``features``: the window's initial heatmaps ``(B, T, J, Hh, Wh)``.

        Returns:
            ``(B, J, Hh, Wh)``, or a [TemporalOutput][tarpose.TemporalOutput] when ``return_initial``.
        """
        if features is not None or heatmaps is not None:
            if clip is not None or features is None or heatmaps is None:
                raise ValueError("pass clip, or features= and heatmaps= (a window's encoder outputs), not both")
            expect_shape("heatmaps", heatmaps, "(B, T, J, Hh, Wh)",
                         (features.shape[0], self.num_frames, self.num_joints, None, None))
            final = self.aggregate_restore(features, heatmaps, frame_valid)
            return TemporalOutput(final, heatmaps) if return_initial else final
        if clip is None:
            raise ValueError("pass clip (B, T, 3, H, W), or features= and heatmaps=")
        expect_shape("clip", clip, "(B, T, 3, H, W)", (None, None, self.in_chans, None, None))
        t = clip.shape[1]
        if t != self.num_frames:
            raise ValueError(
                f"clip has T={t} frames (shape {tuple(clip.shape)}) but the model was built for "
                f"num_frames={self.num_frames}"
            )
        features, heatmaps = self.encode(rearrange(clip, "b t c h w -> (b t) c h w"))
        features = rearrange(features, "(b t) c h w -> b t c h w", t=t)  # t, not b: b may be 0
        heatmaps = rearrange(heatmaps, "(b t) j h w -> b t j h w", t=t)
        final = self.aggregate_restore(features, heatmaps, frame_valid)
        if return_initial:
            return TemporalOutput(final, heatmaps)
        return final

    def extra_repr(self) -> str:
        return f"num_frames={self.num_frames}, target={self.target!r}, freeze_base={self.freeze_base}"


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared ones counted once).

    Args:
        module: any module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    seen: dict[int, torch.nn.Parameter] = {id(p): p for p in module.parameters()}
    return sum(p.numel() for p in seen.values() if p.requires_grad or not trainable_only)

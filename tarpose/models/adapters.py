"""Split a ViTPose-style model into the encoder and decoder that TemporalWrapper needs.

The contract: ``encoder(images (N, 3, H, W)) -> feature maps (N, C, h, w)`` and
``decoder(feature maps (N, C, h, w)) -> heatmaps (N, J, Hh, Wh)``. The adapters below are
``nn.Module``s that hold the model's own submodules (no copies), so the wrapped model shares its
parameters with the original and ``copy.deepcopy`` / ``.to()`` / state dicts behave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from .._checks import expect_shape
from .vitpose import ViTPose


@dataclass
class SplitModel:
    """What [split_model][tarpose.models.adapters.split_model] found: the two halves and what is known of their shapes."""

    encoder: nn.Module
    decoder: nn.Module
    dim: int | None = None
    num_joints: int | None = None
    in_chans: int = 3
    input_size: tuple[int, int] | None = None  # set when the encoder accepts only one size


class CallableModule(nn.Module):
    """Wraps a plain callable so it can sit in a module tree (it holds no parameters)."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


def last_feature_map(output: object) -> Tensor:
    """The ``(N, C, h, w)`` map of an encoder that may return a tuple/list of maps."""
    if isinstance(output, (tuple, list)):
        output = output[-1]
    if not isinstance(output, Tensor) or output.ndim != 4:
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(
            f"the encoder must return feature maps (N, C, h, w), got {shape}; pass an encoder "
            "callable that returns (N, C, h, w) maps"
        )
    return output


class FeatureMapEncoder(nn.Module):
    """A backbone returning a map or a tuple of maps (official ViTPose, easy_ViTPose, mmpretrain)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: Tensor) -> Tensor:
        return last_feature_map(self.backbone(images))


class MMPoseDecoder(nn.Module):
    """mmpose 1.x ``HeatmapHead`` (+ optional neck): deconv_layers -> conv_layers -> final_layer."""

    def __init__(self, head: nn.Module, neck: nn.Module | None = None) -> None:
        super().__init__()
        self.neck = neck
        self.head = head

    def forward(self, features: Tensor) -> Tensor:
        if self.neck is not None:
            features = last_feature_map(self.neck((features,)))
        x = self.head.deconv_layers(features)
        conv_layers = getattr(self.head, "conv_layers", None)
        if conv_layers is not None:
            x = conv_layers(x)
        return self.head.final_layer(x)


class HFVitPoseEncoder(nn.Module):
    """transformers' ``VitPoseBackbone`` as an encoder: ``(N, 3, H, W) -> (N, C, h, w)``.

    Its sequence output ``(N, h*w, C)`` (after the final LayerNorm) is rearranged to a map, the
    same way ``VitPoseForPoseEstimation`` does before its head. For ViTPose+ (mixture-of-experts)
    backbones ``dataset_index`` picks the expert (0 = COCO).
    """

    def __init__(self, model: nn.Module, dataset_index: int | None = None) -> None:
        super().__init__()
        cfg = model.config.backbone_config
        self.backbone = model.backbone
        self.input_size = (int(cfg.image_size[0]), int(cfg.image_size[1]))
        self.grid = (self.input_size[0] // cfg.patch_size[0], self.input_size[1] // cfg.patch_size[1])
        self.num_experts = int(getattr(cfg, "num_experts", 1) or 1)
        self.dataset_index = dataset_index

    def forward(self, images: Tensor) -> Tensor:
        kwargs = {}
        if self.num_experts > 1:
            index = 0 if self.dataset_index is None else self.dataset_index
            kwargs["dataset_index"] = torch.full(
                (images.shape[0],), index, dtype=torch.long, device=images.device
            )
        sequence = self.backbone(images, **kwargs).feature_maps[-1]  # (n, h*w, c)
        return rearrange(sequence, "n (h w) c -> n c h w", h=self.grid[0], w=self.grid[1])


def _conv_out_channels(module: nn.Module | None) -> int | None:
    return getattr(module, "out_channels", None) if module is not None else None


def _first_conv_in_channels(module: nn.Module) -> int | None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            return m.in_channels
    return None


def _is_hf_vitpose(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return (
        getattr(config, "backbone_config", None) is not None
        and hasattr(model, "backbone")
        and hasattr(model, "head")
        and getattr(config, "model_type", "") == "vitpose"
    )


def split_model(model: nn.Module, *, dataset_index: int | None = None) -> SplitModel:
    """Find the encoder and decoder of a ViTPose-style model.

    Recognised: tarpose's [ViTPose][tarpose.ViTPose]; transformers' ``VitPoseForPoseEstimation``;
    mmpose 1.x ``TopdownPoseEstimator``-like objects (``.backbone`` + ``.head`` with
    ``deconv_layers`` and ``final_layer``, optional ``.neck``); official ViTPose / easy_ViTPose
    (``.backbone`` + ``.keypoint_head``).
    """
    if isinstance(model, ViTPose):
        return SplitModel(
            model.backbone, model.keypoint_head, model.embed_dim, model.num_joints,
            model.config.in_chans,
        )
    if _is_hf_vitpose(model):
        encoder = HFVitPoseEncoder(model, dataset_index)
        cfg = model.config.backbone_config
        return SplitModel(
            encoder, model.head, int(cfg.hidden_size),
            _conv_out_channels(getattr(model.head, "conv", None)),
            int(getattr(cfg, "num_channels", 3)), encoder.input_size,
        )
    backbone = getattr(model, "backbone", None)
    head = getattr(model, "head", None)
    if backbone is not None and head is not None and hasattr(head, "deconv_layers") and hasattr(head, "final_layer"):
        neck = getattr(model, "neck", None)
        dim = (
            getattr(backbone, "embed_dims", None)
            or getattr(backbone, "embed_dim", None)
            or getattr(head, "in_channels", None)
            or _first_conv_in_channels(head)
        )
        return SplitModel(
            FeatureMapEncoder(backbone), MMPoseDecoder(head, neck), dim,
            _conv_out_channels(head.final_layer),
        )
    keypoint_head = getattr(model, "keypoint_head", None)
    if backbone is not None and keypoint_head is not None:
        final = getattr(keypoint_head, "final_layer", None)
        dim = getattr(backbone, "embed_dim", None) or _first_conv_in_channels(keypoint_head)
        return SplitModel(
            FeatureMapEncoder(backbone), keypoint_head, dim, _conv_out_channels(final)
        )
    raise TypeError(
        f"cannot split {type(model).__name__} into encoder and decoder: expected a tarpose ViTPose, "
        "a transformers VitPoseForPoseEstimation, an object with .backbone + .head (mmpose) or "
        ".backbone + .keypoint_head (official ViTPose, easy_ViTPose); otherwise pass "
        "encoder= and decoder= callables"
    )


def as_module(fn: Callable[[Tensor], Tensor]) -> nn.Module:
    """``fn`` itself if it is a module, else a parameter-free module calling it."""
    return fn if isinstance(fn, nn.Module) else CallableModule(fn)


def probe_shapes(
    encoder: nn.Module, decoder: nn.Module, in_chans: int, size: tuple[int, int]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The shapes of ``encoder``'s maps and ``decoder``'s heatmaps for one ``size`` crop, found on
    the ``meta`` device (nothing is computed or allocated): ``((1, C, h, w), (1, J, Hh, Wh))``.
    ``None`` when the pair cannot run there (a plain function holding real tensors, an operation
    without a meta kernel): the shapes are then checked at the first forward.

    Args:
        encoder: images ``(N, in_chans, H, W)`` -> maps.
        decoder: maps -> heatmaps.
        in_chans: image channels.
        size: crop ``(H, W)``.
    """
    from torch.func import functional_call

    def on_meta(module: nn.Module, x: Tensor) -> object:
        tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
        meta = {k: torch.empty_like(v, device="meta") for k, v in tensors.items()}
        return functional_call(module, meta, (x,))

    try:
        with torch.no_grad():
            images = torch.empty(1, in_chans, *size, device="meta")
            features = last_feature_map(on_meta(encoder, images))
            heatmaps = on_meta(decoder, features)
    except Exception:  # noqa: BLE001 - any failure only means "not probeable": checked later
        return None
    if not isinstance(heatmaps, Tensor) or features.device.type != "meta" or heatmaps.device.type != "meta":
        return None
    return tuple(features.shape), tuple(heatmaps.shape)


def check_features(features: object, dim: int, batch: int) -> Tensor:
    """Validate an encoder's output against the temporal modules' ``dim``."""
    features = last_feature_map(features)
    expect_shape("encoder output", features, "(N, C, h, w)", (batch, dim, None, None))
    return features

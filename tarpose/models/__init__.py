"""Built-in models and their registry."""

from .pretrained import PretrainedCfg, pretrained_cfg, register_pretrained
from .registry import VITPOSE_SIZES, create_model, list_models, register_model
from .vitpose import HeatmapHead, ViT, ViTPose, ViTPoseConfig

__all__ = [
    "VITPOSE_SIZES",
    "HeatmapHead",
    "PretrainedCfg",
    "ViT",
    "ViTPose",
    "ViTPoseConfig",
    "create_model",
    "list_models",
    "pretrained_cfg",
    "register_model",
    "register_pretrained",
]

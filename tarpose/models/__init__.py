"""Built-in models and their registry."""

from .registry import VITPOSE_SIZES, create_model, list_models, register_model
from .vitpose import HeatmapHead, ViT, ViTPose, ViTPoseConfig

__all__ = [
    "VITPOSE_SIZES",
    "HeatmapHead",
    "ViT",
    "ViTPose",
    "ViTPoseConfig",
    "create_model",
    "list_models",
    "register_model",
]

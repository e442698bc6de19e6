"""Built-in models and their registry."""

from .pretrained import PretrainedCfg, pretrained_cfg, register_pretrained
from .registry import VITPOSE_SIZES, create_model, list_models, register_model
from .vitpose import HeatmapHead, ViT, ViTPose, ViTPoseConfig
from . import demo as _demo  # noqa: E402,F401  (registers vitpose-demo, tar-vitpose-demo)

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

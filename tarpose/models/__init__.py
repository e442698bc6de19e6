"""The models layer: the built-in ViTPose, the temporal wrapper and its config, the adapters that
split other ViTPose implementations, and the registry of model names. Nothing here reads or
writes files (see ``tarpose.weights``) or builds by name with weights (``tarpose.factory``)."""

from .adapters import SplitModel, split_model
from .init import skip_init
from .pretrained import PretrainedCfg, pretrained_cfg, register_pretrained
from .registry import VITPOSE_SIZES, list_models, model_entrypoint, register_model
from .temporal import TARConfig, TemporalOutput, TemporalWrapper, count_parameters
from .options import ModelOptions
from .vitpose import HeatmapHead, ViT, ViTPose, ViTPoseConfig
from . import demo as _demo  # noqa: E402,F401  (registers vitpose-demo, tar-vitpose-demo)

__all__ = [
    "VITPOSE_SIZES",
    "HeatmapHead",
    "ModelOptions",
    "PretrainedCfg",
    "SplitModel",
    "TARConfig",
    "TemporalOutput",
    "TemporalWrapper",
    "ViT",
    "ViTPose",
    "ViTPoseConfig",
    "count_parameters",
    "list_models",
    "model_entrypoint",
    "pretrained_cfg",
    "register_model",
    "register_pretrained",
    "skip_init",
    "split_model",
]

"""Deprecated location: the adapters are in ``tarpose.models.adapters``."""

import warnings

from .models.adapters import (
    CallableModule,
    FeatureMapEncoder,
    HFVitPoseEncoder,
    MMPoseDecoder,
    SplitModel,
    as_module,
    check_features,
    last_feature_map,
    split_model,
)

warnings.warn(
    "tarpose.adapters is deprecated: import from tarpose.models.adapters (split_model, SplitModel: "
    "tarpose.models)",
    DeprecationWarning, stacklevel=2,
)

__all__ = [
    "CallableModule", "FeatureMapEncoder", "HFVitPoseEncoder", "MMPoseDecoder", "SplitModel",
    "as_module", "check_features", "last_feature_map", "split_model",
]

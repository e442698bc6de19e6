"""tarpose: Temporal Aggregate-and-Restore (TAR-ViTPose) for any ViTPose.

The public API::

    JointTemporalAggregator, GlobalRestoringAttention, heatmap_mask   # the modules
    TemporalWrapper                                                     # retrofit a model
    ViTPose, ViTPoseConfig, create_model, list_models                  # built-in ViTPose
    load_vitpose, load_model, convert_tar_checkpoint                   # checkpoints, the Hub
    PoseInferencer, StreamingPredictor                                  # video (tarpose.inference)
    load_demo_models                                                    # the bundled demo models
"""

from .layers import GlobalRestoringAttention, JointTemporalAggregator, heatmap_mask
from .models import ViTPose, ViTPoseConfig, create_model, list_models, register_model
from .weights.convert import convert_tar_checkpoint
from .weights.load import load_model, load_vitpose
from .wrapper import TemporalOutput, TemporalWrapper
from .inference import PoseInferencer, StreamingPredictor  # noqa: E402  (after the wrapper it builds on)
from .demo import load_demo_models  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GlobalRestoringAttention",
    "JointTemporalAggregator",
    "PoseInferencer",
    "StreamingPredictor",
    "TemporalOutput",
    "TemporalWrapper",
    "ViTPose",
    "ViTPoseConfig",
    "__version__",
    "convert_tar_checkpoint",
    "create_model",
    "heatmap_mask",
    "list_models",
    "load_model",
    "load_vitpose",
    "load_demo_models",
    "register_model",
]

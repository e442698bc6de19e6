"""tarpose: Temporal Aggregate-and-Restore (TAR-ViTPose) for any ViTPose.

The public API:

```python
JointTemporalAggregator, GlobalRestoringAttention, HeatmapEmbedding, heatmap_mask   # the modules
TemporalWrapper, TARConfig, Window                                  # retrofit a model
ViTPose, ViTPoseConfig, create_model, list_models                  # built-in ViTPose
load_model, save_pretrained, push_to_hub, wrap                     # one format, one loader
DataConfig, resolve_data_config                                     # preprocessing
PoseInferencer, StreamingPredictor                                  # video (tarpose.inference)
```

The package is a stack of layers, each importing only the ones below it (drawn in
``docs/architecture.md`` and enforced by ``tests/test_architecture.py``):

```text
cli  >  inference, training, demo  >  factory  >  weights  >  models  >  layers  >  leaf helpers
             data, eval (datasets and metrics) sit on the leaf helpers
```
"""

from ._version import __version__
from .factory import create_model, load_model, wrap
from .inference import PoseInferencer, StreamingPredictor
from .layers import GlobalRestoringAttention, HeatmapEmbedding, JointTemporalAggregator, heatmap_mask
from .models import (
    TARConfig,
    TemporalOutput,
    TemporalWrapper,
    ViTPose,
    ViTPoseConfig,
    list_models,
    register_model,
)
from .preprocess import DataConfig, resolve_data_config
from .weights import push_to_hub, save_pretrained
from .window import Window


__all__ = [
    "DataConfig",
    "GlobalRestoringAttention",
    "HeatmapEmbedding",
    "JointTemporalAggregator",
    "PoseInferencer",
    "StreamingPredictor",
    "TARConfig",
    "TemporalOutput",
    "TemporalWrapper",
    "ViTPose",
    "ViTPoseConfig",
    "Window",
    "__version__",
    "create_model",
    "heatmap_mask",
    "list_models",
    "load_model",
    "push_to_hub",
    "register_model",
    "resolve_data_config",
    "save_pretrained",
    "wrap",
]

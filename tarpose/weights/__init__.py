"""Weights: reading checkpoints safely, finding them (file, directory, Hub), and every ViTPose
checkpoint layout tarpose loads.

The loaders are re-exported from :mod:`tarpose`: ``tarpose.load_vitpose``,
``tarpose.load_model`` and ``tarpose.convert_tar_checkpoint`` (they live in
:mod:`tarpose.weights.load` and :mod:`tarpose.weights.convert`, which import the models; this
package itself does not, because the models' Hub mixin lives here).
"""

from .errors import CheckpointError
from .formats import FORMATS, Remapped, detect_format, find_state_dict, remap
from .hub import HubMixin
from .safe_io import read_checkpoint, read_pickle, read_safetensors, write_safetensors
from .sources import ResolvedSource, resolve_source
from .strict import load_state_strict

__all__ = [
    "FORMATS",
    "CheckpointError",
    "HubMixin",
    "Remapped",
    "ResolvedSource",
    "detect_format",
    "find_state_dict",
    "load_state_strict",
    "read_checkpoint",
    "read_pickle",
    "read_safetensors",
    "remap",
    "resolve_source",
    "write_safetensors",
]

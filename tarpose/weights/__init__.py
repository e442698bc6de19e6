"""The weights layer: reading checkpoints safely, finding them (file, directory, Hub), every
ViTPose checkpoint layout tarpose loads, and tarpose's own format (written by
[save_pretrained][tarpose.weights.save_pretrained], uploaded by [push_to_hub][tarpose.weights.push_to_hub]).

It works on models and configs it is given; loading by source or name is ``tarpose.load_model``
and ``tarpose.create_model`` ([tarpose.factory][tarpose.factory], the layer above).
"""

from .errors import CheckpointError
from .formats import FORMATS, Remapped, detect_format, find_state_dict, remap
from .formats.tarpose import model_config
from .hub import push_to_hub, save_pretrained
from .load import build_model, build_vitpose, read_remapped, skip_init
from .safe_io import read_checkpoint, read_pickle, read_safetensors, write_safetensors
from .sources import ResolvedSource, resolve_source
from .strict import load_state_strict

__all__ = [
    "FORMATS",
    "CheckpointError",
    "Remapped",
    "ResolvedSource",
    "build_model",
    "build_vitpose",
    "detect_format",
    "find_state_dict",
    "load_state_strict",
    "model_config",
    "push_to_hub",
    "read_checkpoint",
    "read_pickle",
    "read_remapped",
    "read_safetensors",
    "remap",
    "resolve_source",
    "save_pretrained",
    "skip_init",
    "write_safetensors",
]

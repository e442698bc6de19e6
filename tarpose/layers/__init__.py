"""Building blocks: attention, the heatmap mask, JTA and GRA."""

from .attention import MultiHeadAttention, attention_costs
from .costs import temporal_macs
from .gra import GlobalRestoringAttention
from .heatmap_embed import HeatmapEmbedding
from .jta import JointTemporalAggregator, JTALayer
from .linear import set_packed_weights
from .mask import heatmap_mask
from .mlp import Mlp
from .tokens import map_to_tokens, mask_to_rows, tokens_to_map

__all__ = [
    "GlobalRestoringAttention",
    "HeatmapEmbedding",
    "JTALayer",
    "JointTemporalAggregator",
    "Mlp",
    "MultiHeadAttention",
    "attention_costs",
    "heatmap_mask",
    "map_to_tokens",
    "mask_to_rows",
    "set_packed_weights",
    "temporal_macs",
    "tokens_to_map",
]

"""A single-frame pose model behind the temporal interface, so it streams through the same loop."""

from __future__ import annotations

from torch import Tensor, nn

from ..models.adapters import split_model
from ..preprocess import DataConfig


class SingleFrameModel(nn.Module):
    """Any ViTPose ``tarpose.models.split_model`` understands, as a window of one frame.

    ``encode(images (N, 3, H, W))`` returns the model's features and heatmaps;
    ``aggregate_restore`` returns the heatmaps of the (only) frame unchanged. So the streaming
    predictor runs a plain ViTPose with exactly its own output and cost: no temporal part, no
    second decoder pass (``TemporalWrapper(model, num_frames=1)`` would give the same heatmaps
    at initialisation, at the price of both).
    """

    num_frames = 1
    target_index = 0

    def __init__(self, model: nn.Module, dataset_index: int | None = None) -> None:
        super().__init__()
        split = split_model(model, dataset_index=dataset_index)
        self.encoder = split.encoder
        self.decoder = split.decoder
        self.num_joints = split.num_joints
        self.input_size = split.input_size
        data = getattr(model, "data_config", None)
        self.data_config = data if isinstance(data, DataConfig) else DataConfig(split.input_size)

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images ``(N, 3, H, W)`` -> features ``(N, C, h, w)``, heatmaps ``(N, J, Hh, Wh)``."""
        features = self.encoder(images)
        return features, self.decoder(features)

    def aggregate_restore(self, features: Tensor, heatmaps: Tensor, frame_valid: Tensor | None = None) -> Tensor:
        """A window of one frame ``(B, 1, ...)`` -> its heatmaps ``(B, J, Hh, Wh)``."""
        return heatmaps[:, 0]

    def forward(self, images: Tensor) -> Tensor:
        return self.encode(images)[1]

"""Inference on video and images: streaming temporal pose estimation, the one-call inferencer,
ONNX export.

The models take tensors; this package turns frames and person boxes into model inputs and heatmaps
back into image keypoints ([tarpose.topdown][tarpose.topdown]), with frames read and drawn by
[tarpose.io][tarpose.io], people found by [tarpose.detection][tarpose.detection] and linked into
tracks by [tarpose.tracking][tarpose.tracking].

- ``.stream``: [StreamingPredictor][tarpose.inference.StreamingPredictor] (per-track feature
  cache; centred / causal / exact).
- ``.inferencer``: [PoseInferencer][tarpose.PoseInferencer] (a source in, tracked poses out, in
  one call).
- ``.export``: [export_onnx][tarpose.inference.export_onnx],
  [OnnxTemporalModel][tarpose.inference.OnnxTemporalModel].
"""

from .export import OnnxTemporalModel, export_onnx, onnx_paths
from .inferencer import PoseInferencer, PredictionSummary, poses_document  # noqa: E402  (uses all of the above)
from .single import SingleFrameModel
from .stream import FramePoses, StreamingPredictor

__all__ = [
    "FramePoses",
    "OnnxTemporalModel",
    "PoseInferencer",
    "PredictionSummary",
    "SingleFrameModel",
    "StreamingPredictor",
    "export_onnx",
    "onnx_paths",
    "poses_document",
]

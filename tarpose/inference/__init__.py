"""Inference on images and video: top-down crops, tracking, streaming, rendering, ONNX export.

Layers stay apart: the models take tensors; this package turns frames and person boxes into
model inputs and heatmaps back into image keypoints. Optional dependencies (PyAV for video,
onnx/onnxruntime for export) are imported only when used.

- ``.topdown``: boxes -> normalised crops, heatmaps -> image keypoints (DARK), flip test.
- ``.detection``: person detectors (RT-DETR, OpenCV's HOG, a boxes file, the full frame, a function).
- ``.tracker``: [ByteTracker][tarpose.inference.ByteTracker] (the default), [IoUTracker][tarpose.inference.IoUTracker].
- ``.stream``: [StreamingPredictor][tarpose.inference.StreamingPredictor] (per-track feature cache; centred / causal / exact).
- ``.frames``: ``open_frames`` (a video, an image, a folder, frames, a webcam).
- ``.inferencer``: [PoseInferencer][tarpose.PoseInferencer] (a source in, tracked poses out, in one call).
- ``.video``: [VideoReader][tarpose.inference.VideoReader], [VideoWriter][tarpose.inference.VideoWriter], [read_video][tarpose.inference.read_video], [write_video][tarpose.inference.write_video].
- ``.render``: [draw_pose][tarpose.inference.draw_pose], [draw_poses][tarpose.inference.draw_poses], [write_png][tarpose.inference.write_png].
- ``.export``: [export_onnx][tarpose.inference.export_onnx], [OnnxTemporalModel][tarpose.inference.OnnxTemporalModel].
"""

from ..atomic import atomic_output
from .export import OnnxTemporalModel, export_onnx, onnx_paths
from .frames import FrameSource, open_frames
from .render import (
    draw_box,
    draw_label,
    draw_pose,
    draw_poses,
    encode_png,
    label_positions,
    label_size,
    text_color,
    track_color,
    write_png,
)
from .single import SingleFrameModel
from .source import resolve_model
from .stream import FramePoses, StreamingPredictor, model_input_size
from .topdown import (
    as_boxes,
    as_image_tensor,
    box_matrices,
    crop_images,
    flip_crops,
    heatmaps_to_keypoints,
    merge_flipped,
)
from .tracker import ByteTracker, IoUTracker, Tracker, box_iou
from .video import VideoReader, VideoWriter, read_video, write_video
from .inferencer import PoseInferencer, PredictionSummary, poses_document  # noqa: E402  (uses all of the above)

__all__ = [
    "ByteTracker",
    "FramePoses",
    "FrameSource",
    "IoUTracker",
    "OnnxTemporalModel",
    "PoseInferencer",
    "PredictionSummary",
    "SingleFrameModel",
    "StreamingPredictor",
    "Tracker",
    "VideoReader",
    "VideoWriter",
    "as_boxes",
    "as_image_tensor",
    "atomic_output",
    "box_iou",
    "box_matrices",
    "crop_images",
    "draw_box",
    "draw_label",
    "draw_pose",
    "draw_poses",
    "encode_png",
    "export_onnx",
    "flip_crops",
    "heatmaps_to_keypoints",
    "label_positions",
    "label_size",
    "text_color",
    "merge_flipped",
    "model_input_size",
    "onnx_paths",
    "open_frames",
    "poses_document",
    "read_video",
    "resolve_model",
    "track_color",
    "write_png",
    "write_video",
]

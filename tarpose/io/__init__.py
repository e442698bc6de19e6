"""Pictures and video in and out: frame sources, video files, drawing poses, PNG files.

- ``.frames``: [open_frames][tarpose.io.open_frames] (a video, an image, a folder of images, an
  array of frames, a webcam) and [read_image][tarpose.io.read_image].
- ``.video``: [VideoReader][tarpose.io.VideoReader], [VideoWriter][tarpose.io.VideoWriter],
  [read_video][tarpose.io.read_video], [write_video][tarpose.io.write_video] (PyAV, the
  ``video`` extra).
- ``.render``: [draw_pose][tarpose.io.draw_pose], [draw_poses][tarpose.io.draw_poses],
  [draw_box][tarpose.io.draw_box], [draw_label][tarpose.io.draw_label],
  [write_png][tarpose.io.write_png] (numpy only).

Optional dependencies are imported only when used, with a message naming the extra to install.
"""

from .frames import (
    MAX_FRAME_PIXELS,
    FrameSource,
    as_rgb_array,
    check_pixels,
    open_frames,
    read_image,
)
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
from .video import VideoReader, VideoWriter, read_video, write_video

__all__ = [
    "MAX_FRAME_PIXELS",
    "FrameSource",
    "VideoReader",
    "VideoWriter",
    "as_rgb_array",
    "check_pixels",
    "draw_box",
    "draw_label",
    "draw_pose",
    "draw_poses",
    "encode_png",
    "label_positions",
    "label_size",
    "open_frames",
    "read_image",
    "read_video",
    "text_color",
    "track_color",
    "write_png",
    "write_video",
]

"""Frame sources: a video file, an image, a folder of images, frames in memory, or a webcam.

``open_frames`` turns what a user passes into a ``FrameSource``, which yields RGB
``(H, W, 3)`` uint8 frames and knows the source's frame rate and size where it has them. Videos
and webcams on Linux go through PyAV (``pip install "tarpose[video]"``); images through Pillow
when it is installed, else PyAV; a webcam through OpenCV when it is installed.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: file name endings read as images (anything else is opened as a video)
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

#: the largest image or video frame read from a file, in pixels, unless raised (``max_pixels=``,
#: ``--max-pixels``): about 8K UHD (7680 x 4320 = 33.2 million). Checked from the file's header,
#: before anything is decoded: a 69-byte PNG can announce 20000 x 20000 pixels (1.2 GB decoded)
MAX_FRAME_PIXELS = 40_000_000


def check_pixels(width: int, height: int, where: str, max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Refuse a frame of more than ``max_pixels`` pixels, naming the limit and how to raise it.

    Args:
        width: the frame's width, as its file's header says.
        height: its height.
        where: how to name the file in the message.
        max_pixels: the limit.
    """
    if width * height > max_pixels:
        raise ValueError(
            f"{where} is {width}x{height} = {width * height:,} pixels a frame, more than the limit of "
            f"{max_pixels:,} (a decompression bomb?); to read it raise the limit (max_pixels=, "
            f"tarpose predict --max-pixels {width * height})"
        )


class FrameSource:
    """Frames of one source, in order.

    Attributes:
        name: how the source is named in messages and in the JSON output.
        kind: ``"video"``, ``"image"``, ``"images"`` (a folder), ``"frames"`` (in memory) or
            ``"webcam"``.
        fps: frames per second (``None`` when the source has none: images, frames in memory).
        width: the frame width when known (after the first frame at the latest).
        height: the frame height when known (after the first frame at the latest).
        num_frames: the number of frames when known (``None`` for a webcam or a generator).
        files: the image file of each frame, for an image or a folder of images (else ``None``).
        stopped: why a live source (a webcam) ended, when it ended on a read error, else ``None``.
    """

    def __init__(
        self, name: str, kind: str, frames: Iterable[Any], *, fps: float | None = None,
        width: int | None = None, height: int | None = None, num_frames: int | None = None,
        close: Any = None, files: list[str] | None = None,
    ) -> None:
        self.name, self.kind, self.fps = name, kind, fps
        self.width, self.height, self.num_frames = width, height, num_frames
        self.files = files
        self.stopped: str | None = None
        self._frames = frames
        self._close = close

    def frame_name(self, index: int) -> str | None:
        """The file name of frame ``index`` (``None`` for a video, frames in memory, a webcam)."""
        return self.files[index] if self.files is not None and 0 <= index < len(self.files) else None

    def __iter__(self) -> Iterator[np.ndarray]:
        for index, frame in enumerate(self._frames):
            frame = as_rgb_array(frame, f"frame {index} of {self.name}")
            if self.width is None:
                self.height, self.width = frame.shape[:2]
            yield frame

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_rgb_array(frame: Any, where: str = "frame") -> np.ndarray:
    """A frame as an RGB ``(H, W, 3)`` uint8 array: from one, or from a tensor ``(3, H, W)``
    (uint8, or float in 0..1)."""
    if isinstance(frame, torch.Tensor):
        if frame.ndim != 3 or frame.shape[0] != 3:
            raise ValueError(f"{where}: a tensor frame must be (3, H, W), got {tuple(frame.shape)}")
        if frame.is_floating_point():
            frame = (frame.clamp(0, 1) * 255).round().to(torch.uint8)
        return frame.permute(1, 2, 0).cpu().numpy()
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"{where}: frames must be RGB (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    return frame


def read_image(path: str | os.PathLike[str], max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """An image file as RGB ``(H, W, 3)`` uint8 (Pillow when installed, else PyAV).

    Images of any bit depth are scaled to 8 bits: 16-bit ones (``0..65535``) divided by 257, float
    ones must hold ``0..1`` (anything else is refused: its range is unknown). An image of more
    than ``max_pixels`` pixels is refused before it is decoded (see
    [check_pixels][tarpose.io.frames.check_pixels]).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} does not exist")
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        where = f"image {str(path)!r}"
        try:
            with warnings.catch_warnings():  # tarpose's own limit is checked below, in one line
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(path)
        except Image.DecompressionBombError as error:  # beyond Pillow's own hard limit
            raise ValueError(f"{where} is more than {max_pixels:,} pixels, the limit: {error}") from None
        except OSError as error:
            raise ValueError(f"cannot read {where}: {error}") from None
        with image:
            check_pixels(image.width, image.height, where, max_pixels)
            try:
                return _rgb8(image, where)
            except OSError as error:  # truncated data shows when it is decoded
                raise ValueError(f"cannot read {where}: {error}") from None
    try:
        import av  # noqa: F401
    except ImportError:
        raise ImportError('reading images needs Pillow or PyAV: pip install "tarpose[data]" '
                          'or "tarpose[video]"') from None
    from .video import VideoReader

    with VideoReader(path) as reader:
        check_pixels(reader.width, reader.height, f"image {str(path)!r}", max_pixels)
        return next(iter(reader))


def _rgb8(image: Any, where: str) -> np.ndarray:
    """A Pillow image as RGB ``(H, W, 3)`` uint8, its bit depth and range respected (Pillow's
    ``convert("RGB")`` clips 16-bit values to 255 and truncates floats to 0)."""
    mode = image.mode
    if mode.startswith("I"):  # "I;16", "I;16B"...: 16-bit; "I": 32-bit integers (16-bit PNGs in old Pillows)
        values = np.asarray(image).astype(np.int64)
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low < 0 or high > 65535:
            raise ValueError(f"{where} holds 32-bit integer pixels ({low}..{high}) of no known range: "
                             "save it with 8 or 16 bits")
        gray = ((values + 128) // 257).astype(np.uint8)  # 0..65535 -> 0..255, rounded
    elif mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise ValueError(f"{where} holds float pixels of {np.nanmin(values):g}..{np.nanmax(values):g}: "
                             "a float image must hold values in 0..1")
        gray = np.round(values * 255).astype(np.uint8)
    else:
        return np.array(image.convert("RGB"))  # writable
    return np.repeat(gray[..., None], 3, axis=-1)


def _natural_key(path: Path) -> list[Any]:
    """Sort key: ``frame2.png`` before ``frame10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def open_frames(source: Any, *, max_pixels: int = MAX_FRAME_PIXELS) -> FrameSource:
    """A ``FrameSource`` for ``source``:

    - a video file path (anything FFmpeg reads);
    - an image file path (``.png``, ``.jpg``...);
    - a folder: its images in natural name order (``2.png`` before ``10.png``);
    - an ``int`` or a digit string: the webcam with that index (``0``);
    - a numpy array ``(T, H, W, 3)`` or ``(H, W, 3)``, or a list / iterable of frames
      (``(H, W, 3)`` uint8 arrays or ``(3, H, W)`` tensors).

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for an unreadable one, or
    for an image or video whose frames have more than ``max_pixels`` pixels (checked from the
    file's header, before anything is decoded).
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, bool):
        raise TypeError("a frame source cannot be a bool")
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit() and not Path(source).exists()):
        return _webcam(int(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            images = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
            if not images:
                raise ValueError(f"folder {str(path)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            return FrameSource(str(path), "images", (read_image(p, max_pixels) for p in images),
                               num_frames=len(images), files=[p.name for p in images])
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image = read_image(path, max_pixels)
            return FrameSource(str(path), "image", [image], width=image.shape[1], height=image.shape[0],
                               num_frames=1, files=[path.name])
        from .video import VideoReader

        reader = VideoReader(path)
        try:
            check_pixels(reader.width, reader.height, f"video {str(path)!r}", max_pixels)
        except ValueError:
            reader.close()
            raise
        return FrameSource(str(path), "video", reader, fps=reader.fps, width=reader.width,
                           height=reader.height, num_frames=reader.num_frames or None, close=reader.close)
    if isinstance(source, np.ndarray) and source.ndim == 3:
        source = source[None]
    if isinstance(source, np.ndarray) or isinstance(source, torch.Tensor) and source.ndim == 4:
        return FrameSource("frames", "frames", list(source), num_frames=len(source))
    if isinstance(source, (list, tuple)):
        return FrameSource("frames", "frames", source, num_frames=len(source))
    if isinstance(source, Iterable):
        return FrameSource("frames", "frames", source)
    raise TypeError(
        f"cannot read frames from a {type(source).__name__}: give a video or image path, a folder, a "
        "webcam index, or frames (arrays (H, W, 3) uint8)"
    )


def _webcam(index: int) -> FrameSource:
    """Webcam ``index`` through OpenCV, or through PyAV's video4linux2 input on Linux."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            raise ValueError(f"cannot open webcam {index}")

        def frames() -> Iterator[np.ndarray]:
            while True:
                ok, frame = capture.read()
                if not ok:  # the camera is gone (unplugged, the end of a file): a clean end
                    source.stopped = "the camera gave no more frames"
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

        fps = float(capture.get(cv2.CAP_PROP_FPS)) or None
        source = FrameSource(f"webcam {index}", "webcam", frames(), fps=fps, close=capture.release)
        return source
    if sys.platform.startswith("linux"):
        try:
            import av
        except ImportError:
            raise ImportError('a webcam needs OpenCV or PyAV: pip install "tarpose[detect]" or '
                              '"tarpose[video]"') from None
        try:
            container = av.open(f"/dev/video{index}", format="video4linux2")
        except av.FFmpegError as error:
            raise ValueError(f"cannot open webcam {index} (/dev/video{index}): {error}") from None
        stream = container.streams.video[0]

        def decoded() -> Iterator[np.ndarray]:
            try:
                for f in container.decode(stream):
                    yield f.to_ndarray(format="rgb24")
            except (av.FFmpegError, OSError) as error:  # the device went away mid-stream: a clean end
                source.stopped = f"the camera failed: {str(error).splitlines()[0]}"

        rate = stream.average_rate or stream.guessed_rate
        source = FrameSource(f"webcam {index}", "webcam", decoded(), fps=float(rate) if rate else None,
                             close=container.close)
        return source
    raise ImportError('a webcam needs OpenCV: pip install "tarpose[detect]"')

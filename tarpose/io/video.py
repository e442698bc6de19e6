"""Reading and writing video files through PyAV (FFmpeg): any container and codec FFmpeg knows.

PyAV is optional (``pip install "tarpose[video]"``); it is imported when a video is opened.
Frames are RGB ``uint8`` numpy arrays ``(H, W, 3)``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ..atomic import atomic_output

_INSTALL = 'reading and writing video needs PyAV: pip install "tarpose[video]"'


def _import_av() -> Any:
    try:
        import av
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    return av


class VideoReader:
    """Decode a video file frame by frame.

    Example:
        ```python
        with VideoReader("clip.mp4") as video:
            print(video.fps, video.width, video.height, video.num_frames)
            for frame in video:        # (H, W, 3) uint8 RGB
                ...
        ```

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a file FFmpeg cannot
    read as video (naming the file and FFmpeg's reason).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        av = _import_av()
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"video {str(self.path)!r} does not exist")
        if self.path.is_dir():
            raise ValueError(f"video {str(self.path)!r} is a directory, not a video file")
        try:
            self._container = av.open(str(self.path), mode="r")
        except av.FFmpegError as error:
            raise ValueError(f"cannot read video {str(self.path)!r}: {_reason(error)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise ValueError(f"{str(self.path)!r} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame-threaded decoding
        rate = self._stream.average_rate or self._stream.base_rate or self._stream.guessed_rate
        #: frames per second (25 when the file does not say)
        self.fps: float = float(rate) if rate else 25.0
        self.width: int = int(self._stream.codec_context.width)
        self.height: int = int(self._stream.codec_context.height)
        #: frame count from the container header (0 when unknown; may be approximate)
        self.num_frames: int = int(self._stream.frames or 0)
        self.codec: str = self._stream.codec_context.name

    def __iter__(self) -> Iterator[np.ndarray]:
        av = _import_av()
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                yield frame.to_ndarray(format="rgb24")
                index += 1
        except av.FFmpegError as error:
            raise ValueError(
                f"cannot decode video {str(self.path)!r} after frame {index}: {_reason(error)}"
            ) from None
        if index == 0:
            raise ValueError(f"video {str(self.path)!r} has no decodable frames")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_video(path: str | os.PathLike[str], max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """All frames of a video (or the first ``max_frames``) as ``(T, H, W, 3)`` uint8, and its fps."""
    with VideoReader(path) as video:
        frames = []
        for frame in video:
            if max_frames is not None and len(frames) >= max_frames:
                break
            frames.append(frame)
        return np.stack(frames), video.fps


class VideoWriter:
    """Encode RGB frames to a video file; the file appears only when the writer closes cleanly.

    H.264 (libx264, ``yuv420p``) when the FFmpeg inside PyAV has it, MPEG-4 Part 2 otherwise, both
    in the container the file's extension names (``.mp4``, ``.mkv``, ``.avi``...); VP9 (or VP8, AV1)
    in ``.webm``, which holds no other codec ([default_codec][tarpose.io.video.default_codec]). Odd frame sizes
    are padded by one edge pixel (4:2:0 needs even sides).

    Example:
        ```python
        with VideoWriter("out.mp4", fps=25) as writer:
            for frame in frames:      # (H, W, 3) uint8
                writer.write(frame)
        ```

    An exception inside the ``with`` block removes the partial file.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, codec: str | None = None, crf: int = 20) -> None:
        self._av = _import_av()
        self.path = Path(path)
        self.fps = fps
        self.codec = codec
        self.crf = crf
        self.frames_written = 0
        self._exit = contextlib.ExitStack()
        self._tmp = self._exit.enter_context(atomic_output(self.path))
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None

    def _open(self, height: int, width: int) -> None:
        av = self._av
        codec = self.codec or default_codec(self.path)
        try:
            self._container = av.open(str(self._tmp), mode="w", format=_container_format(self.path))
            self._stream = self._container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        except (av.FFmpegError, ValueError) as error:
            raise ValueError(f"cannot write video {str(self.path)!r} with codec {codec!r}: {_reason(error)}") from None
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        elif codec in ("libvpx-vp9", "libvpx"):  # constant quality, real-time speed
            self._stream.options = {"crf": str(self.crf + 11), "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
        elif codec == "mpeg4":
            self._stream.bit_rate = 8_000_000
        self._size = (height, width)

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB ``(H, W, 3)`` uint8 frame (all frames of a file have one size)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        if self._container is None:
            self._open(*frame.shape[:2])
        if frame.shape[:2] != self._size:
            raise ValueError(f"frame of size {frame.shape[:2]} in a video of size {self._size}")
        if frame.shape[0] % 2 or frame.shape[1] % 2:
            frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it into place (it must hold at least one frame)."""
        try:
            if self._container is None:
                raise ValueError(f"no frames were written to {str(self.path)!r}")
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
        except BaseException as error:
            self.abort(error)
            raise
        self._exit.close()

    def abort(self, error: BaseException | None = None) -> None:
        """Stop writing and delete the partial file."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        error = error or RuntimeError("video writing aborted")
        self._exit.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


#: encoders tried, in order, for a file's container: WebM holds only VP8/VP9/AV1; the others take
#: H.264, or MPEG-4 Part 2 where the FFmpeg inside PyAV has no libx264
_ENCODERS: dict[str, tuple[str, ...]] = {"webm": ("libvpx-vp9", "libvpx", "libsvtav1", "libaom-av1")}
_DEFAULT_ENCODERS = ("libx264", "mpeg4")


def default_codec(path: str | os.PathLike[str]) -> str:
    """The encoder [VideoWriter][tarpose.io.VideoWriter] uses for ``path`` by default: the first of
    those its container holds that the FFmpeg inside PyAV has.

    Raises:
        ValueError: this FFmpeg has none of them (naming the file and the encoders looked for).
    """
    av = _import_av()
    wanted = _ENCODERS.get(_container_format(Path(path)) or "", _DEFAULT_ENCODERS)
    for codec in wanted:
        if codec in av.codecs_available:
            return codec
    raise ValueError(
        f"cannot write video {str(path)!r}: the FFmpeg inside PyAV has none of the encoders its "
        f"container takes ({', '.join(wanted)}); use .mp4 or .mkv"
    )


def write_video(path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float, codec: str | None = None) -> int:
    """Encode RGB ``(H, W, 3)`` uint8 frames to ``path`` (MP4 etc.); returns the number written."""
    with VideoWriter(path, fps, codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
        return writer.frames_written


def _container_format(path: Path) -> str | None:
    suffix = path.suffix.lower().lstrip(".")
    return {"mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "avi": "avi", "webm": "webm"}.get(suffix)


def _reason(error: BaseException) -> str:
    """FFmpeg's message without PyAV's repetition of the file name."""
    strerror = getattr(error, "strerror", None)
    return str(strerror or error).strip() or type(error).__name__

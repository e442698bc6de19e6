"""Every window of the footage, cropped once and run once through the frozen base.

A window is frames ``t-2 .. t+2`` (or ``t-4 .. t``, [Window][tarpose.Window]) of a track, clamped
at the track's ends and marked invalid there, all cropped with frame ``t``'s box in the base's
geometry ([tarpose.geometry][tarpose.geometry]). For each window the cache holds its crops (uint8)
and the base's outputs on them: encoder features, heatmaps, and the keypoints and scores decoded
from them. The base is frozen, so these never change: a training step reads them and runs the
encoder only on the frames it corrupts.

The arrays live in memory, or, given a folder, in memory-mapped ``.npy`` files under
``folder/<key>/``, where the key hashes the base's weights, the footage
(`tracks.fingerprint`) and the options; a build that
stops resumes where it stopped (a window is marked done after its data is written).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange
from torch import Tensor

from ...codec import decode_heatmaps
from ...geometry import (
    apply_affine,
    box_to_center_scale,
    crop_matrices,
    heatmap_matrix,
    invert_affine,
    normalize_images,
    warp_crops,
)
from ...models.temporal import TemporalWrapper
from ...preprocess import DataConfig, resolve_data_config
from ...window import Window
from .tracks import Track, fingerprint

#: bumped when what the cache stores changes
VERSION = 1
#: footage whose arrays would take more than this many bytes needs a cache folder
MEMORY_LIMIT = 2 << 30
_DTYPES = {"float16": np.float16, "float32": np.float32}


def weights_digest(model: TemporalWrapper) -> str:
    """SHA-256 of the base's weights (the encoder's and decoder's tensors, by name)."""
    digest = hashlib.sha256()
    for prefix, module in (("encoder", model.encoder), ("decoder", model.decoder)):
        for name, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().to("cpu").contiguous()
            digest.update(f"{prefix}.{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class WindowCache:
    """The windows of some tracks and the frozen base's outputs on them; see the module docs.

    Build it with [build][tarpose.training.adaptation.cache.WindowCache.build]. Arrays (``N``
    windows of ``T`` frames):

    - ``crops`` uint8 ``(N, T, 3, H, W)``;
    - ``features`` ``(N, T, C, h, w)`` and ``heatmaps`` ``(N, T, J, Hh, Wh)``, float16 or float32;
    - ``base_keypoints`` float32 ``(N, T, J, 2)`` (crop pixel indices) and ``base_scores``
      ``(N, T, J)``: the base's predictions, decoded from its heatmaps;
    - ``valid`` bool ``(N, T)``; ``matrix`` float64 ``(N, 2, 3)`` image -> crop; ``box`` float64
      ``(N, 4)``; ``size`` float32 ``(N,)``: the person's size in the crop (the box's longer side,
      crop pixels); ``digest`` uint8 ``(N, 32)``: SHA-256 of frame ``t``.

    Attributes:
        index: ``(N, 2)`` int64: the track and the target frame of each window.
        data: the base's [DataConfig][tarpose.DataConfig] the crops were made with.
        window: the [Window][tarpose.Window].
        info: the options and digests the cache was built from.
    """

    ARRAYS = ("crops", "features", "heatmaps", "base_keypoints", "base_scores", "valid", "matrix",
              "box", "size", "digest")

    def __init__(self, arrays: dict[str, np.ndarray], index: Tensor, data: DataConfig, window: Window,
                 info: dict[str, Any], folder: Path | None = None) -> None:
        self._arrays: dict[str, np.ndarray] | None = arrays
        self.index = index
        self.data = data
        self.window = window
        self.info = info
        self.folder = folder

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        """The array ``name`` (see the class docs)."""
        if self._arrays is None:  # unpickled in a data-loader worker: reopen the memory maps
            self._arrays = _open(self.folder, mode="r")
        return self._arrays[name]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.folder is not None:
            state["_arrays"] = None
        return state

    @property
    def geometry(self) -> str:
        """The geometry of the crops and heatmaps ([tarpose.geometry][tarpose.geometry])."""
        return self.data.geometry

    @property
    def input_size(self) -> tuple[int, int]:
        """Crop ``(H, W)``."""
        return tuple(self["crops"].shape[-2:])  # type: ignore[return-value]

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """Heatmap ``(Hh, Wh)``."""
        return tuple(self["heatmaps"].shape[-2:])  # type: ignore[return-value]

    def footage_digest(self) -> str:
        """SHA-256 of the footage: every frame the windows target, and every box."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self["digest"]).tobytes())
        digest.update(np.ascontiguousarray(self["box"]).tobytes())
        return digest.hexdigest()

    @classmethod
    def build(
        cls,
        model: TemporalWrapper,
        tracks: Sequence[Track],
        *,
        padding: float = 1.25,
        folder: str | Path | None = None,
        dtype: str = "float16",
        min_length: int | None = None,
        batch_size: int = 64,
        log: Callable[[str], None] | None = None,
    ) -> WindowCache:
        """Crop every window of ``tracks`` and run the base on them (or open the cache that holds
        them already).

        Args:
            model: a [TemporalWrapper][tarpose.TemporalWrapper] over the base: its window, its
                base's ``data_config`` and ``encode`` are used.
            tracks: checked tracks ([as_tracks][tarpose.training.adaptation.tracks.as_tracks]).
            padding: box enlargement before cropping.
            folder: where the memory-mapped arrays go (``None``: in memory, for footage whose
                arrays fit in `MEMORY_LIMIT` bytes).
            dtype: of the cached features and heatmaps, ``"float16"`` or ``"float32"``.
            min_length: tracks with fewer frames are left out (default: the window's length).
            batch_size: crops per encoder pass.
            log: where progress lines go.

        Raises:
            ValueError: every track is shorter than ``min_length``; no folder for footage too big
                for memory; an unknown dtype.
        """
        if dtype not in _DTYPES:
            raise ValueError(f"cache dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        window = model.window
        data = resolve_data_config(model)
        min_length = window.length if min_length is None else int(min_length)
        kept = [i for i, track in enumerate(tracks) if len(track) >= min_length]
        if not kept:
            longest = max(len(track) for track in tracks)
            raise ValueError(
                f"every track is shorter than {min_length} frames (the longest has {longest}): a "
                f"window of {window.length} frames needs longer tracks (or a lower min_length)"
            )
        if log is not None and len(kept) < len(tracks):
            log(f"left out {len(tracks) - len(kept)} track(s) shorter than {min_length} frames")
        index = torch.tensor([(i, t) for i in kept for t in range(len(tracks[i]))], dtype=torch.int64)
        info = {
            "version": VERSION, "base": weights_digest(model), "footage": fingerprint([tracks[i] for i in kept]),
            "tracks": kept, "window": [window.length, window.target], "padding": float(padding),
            "data": data.to_dict(), "dtype": dtype, "windows": len(index),
        }
        path = None
        if folder is not None:
            key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
            path = Path(folder) / key
        if path is not None and (path / "config.json").exists():  # built (or begun) before
            arrays = _open(path, mode="r+")
        else:
            shapes = _shapes(model, data, window, len(index), dtype)
            size = sum(int(np.prod(shape)) * np.dtype(kind).itemsize for shape, kind in shapes.values())
            if path is not None:
                arrays = _create(path, shapes, info)
            elif size > MEMORY_LIMIT:
                raise ValueError(
                    f"the footage's windows take {size / 2**30:.1f} GiB (more than {MEMORY_LIMIT / 2**30:.0f} "
                    "GiB): give a cache folder, where they are memory-mapped"
                )
            else:
                arrays = {name: np.zeros(shape, kind) for name, (shape, kind) in shapes.items()}
        size = sum(array.nbytes for array in arrays.values())
        cache = cls(arrays, index, data, window, info, path)
        todo = np.flatnonzero(arrays["done"] == 0)
        if len(todo):
            if log is not None:
                log(f"caching the base's outputs on {len(todo)} of {len(index)} windows "
                    f"({size / 2**20:.0f} MiB{'' if path is None else ' in ' + str(path)})")
            _fill(cache, model, tracks, todo, padding, batch_size)
        if path is not None:
            cache._arrays = _open(path, mode="r")
        return cache


def _shapes(model: TemporalWrapper, data: DataConfig, window: Window, n: int, dtype: str) -> dict[str, tuple]:
    """Array name -> (shape, numpy dtype), the base's output sizes found by running it once."""
    h, w = data.input_size
    device = next(model.parameters()).device
    with torch.no_grad():
        features, heatmaps = model.encode(torch.zeros(1, 3, h, w, device=device))
    c, fh, fw = features.shape[1:]
    j, hh, hw = heatmaps.shape[1:]
    t, kind = window.length, _DTYPES[dtype]
    return {
        "crops": ((n, t, 3, h, w), np.uint8), "features": ((n, t, c, fh, fw), kind),
        "heatmaps": ((n, t, j, hh, hw), kind), "base_keypoints": ((n, t, j, 2), np.float32),
        "base_scores": ((n, t, j), np.float32), "valid": ((n, t), np.bool_), "matrix": ((n, 2, 3), np.float64),
        "box": ((n, 4), np.float64), "size": ((n,), np.float32), "digest": ((n, 32), np.uint8),
        "done": ((n,), np.uint8),
    }


def _create(path: Path, shapes: dict[str, tuple], info: dict[str, Any]) -> dict[str, np.ndarray]:
    """The memory-mapped arrays under ``path``, created (zeros) where missing."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "config.json").exists():
        for name, (shape, kind) in shapes.items():
            np.lib.format.open_memmap(path / f"{name}.npy", mode="w+", dtype=kind, shape=shape).flush()
        (path / "config.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return _open(path, mode="r+")


def _open(path: Path | None, mode: str) -> dict[str, np.ndarray]:
    if path is None:
        raise RuntimeError("an in-memory window cache has no folder to reopen")
    names = (*WindowCache.ARRAYS, "done")
    return {name: np.load(path / f"{name}.npy", mmap_mode=mode) for name in names}  # type: ignore[call-overload]


def _fill(cache: WindowCache, model: TemporalWrapper, tracks: Sequence[Track], todo: np.ndarray,
          padding: float, batch_size: int) -> None:
    """Crop and encode the windows ``todo`` (ascending), a batch of windows at a time, each frame
    loaded once per run of consecutive windows."""
    arrays = cache._arrays
    assert arrays is not None
    data, window = cache.data, cache.window
    h, w = data.input_size
    t_len = window.length
    to_crop = invert_affine(heatmap_matrix((h, w), cache.heatmap_size, data.geometry)[None])  # (1, 2, 3)
    device = next(model.parameters()).device
    per_batch = max(1, batch_size // t_len)
    loaded: dict[tuple[int, int], Tensor] = {}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(todo), per_batch):
            rows = todo[start : start + per_batch]
            crops, valid, matrices, digests = [], [], [], []
            for row in rows.tolist():
                track_id, t = (int(v) for v in cache.index[row])
                track = tracks[track_id]
                frames, ok = window.indices(t, len(track))
                for key in [k for k in loaded if k[0] != track_id or k[1] < int(frames.min())]:
                    del loaded[key]
                images = []
                for f in frames.tolist():
                    if (track_id, f) not in loaded:
                        loaded[(track_id, f)] = track.frame(f)
                    images.append(loaded[(track_id, f)])
                box = track.boxes[t].to(torch.float64)
                centre, scale = box_to_center_scale(box[None], aspect_ratio=w / h, padding=padding)
                matrix = crop_matrices(centre, scale, (h, w), geometry=data.geometry)  # (1, 2, 3)
                stack = torch.stack([image.float() for image in images])  # (t, 3, H, W), 0..255
                crop = warp_crops(stack, matrix.expand(t_len, 2, 3), (h, w))
                crops.append(crop.round().clamp(0, 255).to(torch.uint8))
                valid.append(ok)
                matrices.append(matrix[0])
                digests.append(np.frombuffer(hashlib.sha256(loaded[(track_id, t)].contiguous().numpy().tobytes()).digest(), np.uint8))
            crops_t = torch.stack(crops)  # (b, t, 3, h, w)
            flat = normalize_images(rearrange(crops_t, "b t c h w -> (b t) c h w"), data.mean, data.std)
            with torch.no_grad():
                features, heatmaps = model.encode(flat.to(device))
            coords, scores = decode_heatmaps(heatmaps)  # (b t, j, 2) heatmap pixels
            keypoints = apply_affine(coords.double().cpu(), to_crop.expand(len(coords), 2, 3))
            matrix_t = torch.stack(matrices)
            boxes = torch.stack([tracks[int(cache.index[r, 0])].boxes[int(cache.index[r, 1])] for r in rows.tolist()])
            size = torch.maximum(boxes[:, 2] * matrix_t[:, 0, 0].abs(), boxes[:, 3] * matrix_t[:, 1, 1].abs())
            b = len(rows)
            arrays["crops"][rows] = crops_t.numpy()
            arrays["features"][rows] = rearrange(features.float().cpu(), "(b t) c h w -> b t c h w", b=b).numpy()
            arrays["heatmaps"][rows] = rearrange(heatmaps.float().cpu(), "(b t) j h w -> b t j h w", b=b).numpy()
            arrays["base_keypoints"][rows] = rearrange(keypoints.float(), "(b t) j x -> b t j x", b=b).numpy()
            arrays["base_scores"][rows] = rearrange(scores.float().cpu(), "(b t) j -> b t j", b=b).numpy()
            arrays["valid"][rows] = torch.stack(valid).numpy()
            arrays["matrix"][rows] = matrix_t.numpy()
            arrays["box"][rows] = boxes.numpy()
            arrays["size"][rows] = size.float().numpy()
            arrays["digest"][rows] = np.stack(digests)
            arrays["done"][rows] = 1  # after the data: a reader never sees a half-written window
    finally:
        model.train(was_training)
    for array in arrays.values():
        if isinstance(array, np.memmap):
            array.flush()

"""The ``"synthetic"`` dataset: windows of procedural videos in the tarpose sample format."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ...codec import gaussian_targets, heatmap_matrices
from ...geometry import apply_affine, check_geometry, normalize_images
from ...topdown import box_matrices
from ...window import Window
from .. import register_dataset
from .corruptions import names
from .figure import ACTIONS
from .video import SyntheticVideo

#: first video seed of each split; a split's seeds are ``[start, start + SPLIT_SIZE)``, so no video
#: of one split is ever a video of another (``val``: for choosing settings such as a keypoint
#: filter, so that the ``test`` split is only ever measured)
SPLITS: dict[str, int] = {"train": 0, "test": 1_000_000, "demo": 2_000_000, "val": 3_000_000}
SPLIT_SIZE = 1_000_000


def split_seeds(split: str, num_videos: int, first_video: int = 0) -> range:
    """The video seeds of ``num_videos`` videos of ``split`` starting at its ``first_video``-th."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if num_videos < 1 or first_video < 0 or first_video + num_videos > SPLIT_SIZE:
        raise ValueError(
            f"videos [{first_video}, {first_video + num_videos}) are outside split {split!r}'s "
            f"{SPLIT_SIZE} seeds"
        )
    start = SPLITS[split] + first_video
    return range(start, start + num_videos)


class SyntheticPoseDataset(Dataset):
    """Windows ``t-T .. t+T`` of procedural videos, all cropped with frame ``t``'s box.

    Every (video, frame) pair is one sample, in the format of [tarpose.data][tarpose.data], plus
    ``"visibility"`` ``(J,)`` int (COCO 0/1/2 of the target frame). ``meta`` holds ``video`` (its
    seed), ``frame``, ``corruption`` (bit mask of the target frame), ``corrupted`` (bool),
    ``area`` (silhouette pixels, for OKS) and ``action``.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"demo"``: disjoint seed ranges (``SPLITS``).
        num_videos: videos in the dataset (``num_videos * video_length`` samples).
        video_length: frames per video.
        first_video: skip this many videos of the split (e.g. a validation slice).
        num_frames: window length (``1``: single-frame samples).
        target: ``"centred"`` (frame ``t`` in the middle) or ``"last"`` (causal window), see
            [tarpose.Window][tarpose.Window].
        input_size: crop ``(H, W)``; heatmaps are ``(H/4, W/4)``.
        image_size: video frame ``(H, W)``.
        corruption: fraction of each video's frames that are corrupted.
        kinds: corruption kinds and weights (default: all).
        sigma: Gaussian target sigma in heatmap pixels.
        padding: box enlargement before cropping.
        geometry: how crops and heatmaps lie over the boxes ([tarpose.geometry][tarpose.geometry]): the
            geometry of the model to train (``"biased"`` for the bundled demo models).
        cache_videos: how many recently used videos to keep in memory.
        cache: a folder: rendered crops and labels are kept there (memory-mapped ``.npy`` files
            under a hash of the options), so later epochs and later runs with the same options
            read them instead of rendering again. Samples are identical either way.
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 256,
        video_length: int = 32,
        first_video: int = 0,
        num_frames: int = 5,
        target: str = "centred",
        input_size: tuple[int, int] = (128, 96),
        image_size: tuple[int, int] = (192, 256),
        corruption: float = 0.3,
        kinds: dict[str, float] | None = None,
        sigma: float = 2.0,
        padding: float = 1.25,
        geometry: str = "udp",
        cache_videos: int = 8,
        cache: str | None = None,
    ) -> None:
        self.seeds = split_seeds(split, num_videos, first_video)
        self.window = Window(num_frames, target)
        if input_size[0] % 4 or input_size[1] % 4:
            raise ValueError(f"input_size {tuple(input_size)} must be multiples of 4 (heatmap stride)")
        if video_length < 1:
            raise ValueError(f"video_length must be >= 1, got {video_length}")
        self.split = split
        self.video_length = video_length
        self.num_frames = num_frames
        self.target = self.window.target
        self.target_index = self.window.target_index
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (self.input_size[0] // 4, self.input_size[1] // 4)
        self.image_size = tuple(image_size)
        self.corruption = corruption
        self.kinds = kinds
        self.sigma = sigma
        self.padding = padding
        self.geometry = check_geometry(geometry)
        self.cache_videos = cache_videos
        self._cache: OrderedDict[int, SyntheticVideo] = OrderedDict()
        self.cache = None if cache is None else str(cache)
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.seeds) * self.video_length

    def video(self, index: int) -> SyntheticVideo:
        """The ``index``-th video of this dataset."""
        seed = self.seeds[index]
        if seed in self._cache:
            self._cache.move_to_end(seed)
            return self._cache[seed]
        video = SyntheticVideo(seed, self.video_length, self.image_size, self.corruption, self.kinds)
        self._cache[seed] = video
        while len(self._cache) > max(self.cache_videos, 1):
            self._cache.popitem(last=False)
        return video

    def matrix(self, box: Tensor) -> Tensor:
        """Image -> crop affine ``(2, 3)`` for a box ``(4,)`` x, y, w, h."""
        return box_matrices(box[None], self.input_size, self.padding, self.geometry)[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        if self.cache is None:
            return self._sample(index, self._render(index))
        store = self._store()
        if not store["done"][index]:  # render the whole video: most of the work is shared
            v = index // self.video_length
            for t, raw in enumerate(self._render_video(v)):
                i = v * self.video_length + t
                for key, value in raw.items():
                    store[key][i] = value
                store["done"][i] = 1  # after the data: a reader never sees a half-written sample
        return self._sample(index, {key: torch.from_numpy(np.array(store[key][index])) for key in _RAW})

    def _render_video(self, v: int) -> list[dict[str, Tensor]]:
        """The rendered part of every sample of video ``v``, in one render call."""
        video = self.video(v)
        windows = [self.window.indices(t, self.video_length)[0] for t in range(self.video_length)]
        matrices = [self.matrix(video.boxes[t].double()) for t in range(self.video_length)]
        images, area = video.render(
            torch.cat(windows), matrix=torch.stack(matrices).repeat_interleave(self.num_frames, 0),
            size=self.input_size,
        )
        images = images.view(self.video_length, self.num_frames, *images.shape[1:])
        area = area.view(self.video_length, self.num_frames)
        return [self._labels(video, t, matrices[t], images[t], area[t, self.target_index])
                for t in range(self.video_length)]

    def _render(self, index: int) -> dict[str, Tensor]:
        """The expensive part of a sample: its crops (uint8) and the target frame's labels."""
        v, t = divmod(index, self.video_length)
        video = self.video(v)
        frames, _ = self.window.indices(t, self.video_length)
        unique, inverse = torch.unique(frames, return_inverse=True)
        matrix = self.matrix(video.boxes[t].double())
        images, area = video.render(unique, matrix=matrix, size=self.input_size)
        return self._labels(video, t, matrix, images[inverse], area[inverse[self.target_index]])

    @staticmethod
    def _labels(video: SyntheticVideo, t: int, matrix: Tensor, crops: Tensor, area: Tensor) -> dict[str, Tensor]:
        return {
            "crops": crops,
            "keypoints": video.keypoints[t].float(),
            "visibility": video.visibility[t].to(torch.int8),
            "matrix": matrix,
            "corruption": video.corruption[t].to(torch.int32),
            "area": area.float(),
            "action": torch.tensor(ACTIONS.index(video.action), dtype=torch.int8),
        }

    def _sample(self, index: int, raw: dict[str, Tensor]) -> dict[str, Any]:
        v, t = divmod(index, self.video_length)
        _, valid = self.window.indices(t, self.video_length)
        matrix = raw["matrix"].to(torch.float64)
        keypoints = raw["keypoints"]
        visibility = raw["visibility"].to(torch.int64)
        visible = (visibility > 0).float()
        size, heatmap_size = self.input_size, self.heatmap_size
        to_heatmap = heatmap_matrices(matrix[None], size, heatmap_size, self.geometry)
        in_heatmap = apply_affine(keypoints[None].double(), to_heatmap)  # (1, 17, 2)
        heat, weight = gaussian_targets(in_heatmap.float(), visible[None], heatmap_size, sigma=self.sigma)
        code = int(raw["corruption"])
        return {
            "clip": normalize_images(raw["crops"]),
            "frame_valid": valid,
            "target": heat[0],
            "target_weight": weight[0],
            "keypoints": keypoints,
            "visible": visible,
            "visibility": visibility,
            "matrix": matrix,
            "meta": {
                "video": self.seeds[v], "frame": t, "corruption": code, "corrupted": code != 0,
                "corruption_names": "+".join(names(code)), "area": float(raw["area"]),
                "action": ACTIONS[int(raw["action"])],
            },
        }

    # -- the on-disk cache -----------------------------------------------------------------------

    def fill_cache(self, workers: int = 0) -> int:
        """Render every sample not yet in the cache (``workers`` processes); returns how many
        videos were rendered. Training then only reads."""
        from torch.utils.data import DataLoader

        if self.cache is None:
            raise ValueError("fill_cache needs a dataset with cache=FOLDER")
        done = self._store()["done"]
        todo = [v for v in range(len(self.seeds)) if not done[v * self.video_length: (v + 1) * self.video_length].all()]
        loader = DataLoader(_VideoFiller(self, todo), batch_size=None, num_workers=workers)
        return sum(1 for _ in loader)

    def _config(self) -> dict[str, Any]:
        """Everything the rendered part of a sample depends on."""
        return {
            "version": _CACHE_VERSION, "split": self.split, "seeds": [self.seeds.start, self.seeds.stop],
            "video_length": self.video_length, "num_frames": self.num_frames,
            "target": "center" if self.target == "centred" else "last",  # cache v3's spelling: caches stay valid
            "input_size": list(self.input_size), "image_size": list(self.image_size),
            "corruption": self.corruption, "kinds": self.kinds, "padding": self.padding,
            "geometry": self.geometry,
        }

    def _store(self) -> dict[str, np.ndarray]:
        """The cache's arrays (memory-mapped ``.npy`` files), created on first use and opened
        once per process."""
        if self._arrays is not None:
            return self._arrays
        config = json.dumps(self._config(), sort_keys=True)
        folder = Path(self.cache) / hashlib.sha1(config.encode()).hexdigest()[:16]
        n, t = len(self), self.num_frames
        h, w = self.input_size
        shapes = {
            "crops": ((n, t, 3, h, w), np.uint8), "keypoints": ((n, 17, 2), np.float32),
            "visibility": ((n, 17), np.int8), "matrix": ((n, 2, 3), np.float64),
            "corruption": ((n,), np.int32), "area": ((n,), np.float32), "action": ((n,), np.int8),
            "done": ((n,), np.uint8),
        }
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "config.json").exists():
            for key, (shape, dtype) in shapes.items():
                if not (folder / f"{key}.npy").exists():
                    np.lib.format.open_memmap(folder / f"{key}.npy", mode="w+", dtype=dtype, shape=shape).flush()
            (folder / "config.json").write_text(config + "\n")
        self._arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r+") for key in shapes}
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:  # memory maps are reopened in each worker
        return {**self.__dict__, "_arrays": None, "_cache": OrderedDict()}


class _VideoFiller(Dataset):
    """Item ``i`` renders video ``videos[i]`` of a cached dataset into its cache."""

    def __init__(self, dataset: SyntheticPoseDataset, videos: list[int]) -> None:
        self.dataset = dataset
        self.videos = videos

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> int:
        v = self.videos[i]
        self.dataset[v * self.dataset.video_length]  # a miss renders and stores the whole video
        return v


_CACHE_VERSION = 4  # 4: pixel-index keypoints and matrices, the geometry
_RAW = ("crops", "keypoints", "visibility", "matrix", "corruption", "area", "action")


@register_dataset("synthetic")
def build_synthetic(**kwargs: Any) -> SyntheticPoseDataset:
    """``build_dataset("synthetic", split="train", num_videos=..., num_frames=5, ...)``."""
    return SyntheticPoseDataset(**kwargs)

"""The unlabelled window dataset: cached clean windows, corrupted afresh each time they are read.

A sample is a window of a [WindowCache][tarpose.training.adaptation.cache.WindowCache] with its
target frame corrupted (with probability ``target_rate``) and each valid neighbour corrupted
(with probability ``neighbour_rate``) by a
[CropCorruptor][tarpose.training.adaptation.corrupt.CropCorruptor], and the
[Teacher][tarpose.training.adaptation.teacher.Teacher]'s target computed from the base's outputs
on the clean window. It is in the sample format of [tarpose.data][tarpose.data] without any
keypoint field, plus the cached encoder outputs (``"features"``, ``"heatmaps"``) and which frames
changed (``"encode"``), so that [train][tarpose.training.train] encodes only those
([cached_encoding][tarpose.training.engine.cached_encoding]).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...geometry import apply_affine, heatmap_matrix, normalize_images
from .cache import WindowCache
from .corrupt import CropCorruptor
from .teacher import Teacher


def _seed(*values: int) -> int:
    return int(np.random.SeedSequence([int(v) for v in values]).generate_state(2, np.uint64)[0] >> 1)


class UnlabelledWindows(Dataset):
    """Corrupted windows of unlabelled footage with the base's clean view as the target.

    Args:
        cache: the windows and the base's outputs on them.
        indices: the windows of ``cache`` this dataset holds (default: all).
        corruptor: how frames are corrupted.
        teacher: what the target is.
        target_rate: probability that a window's target frame is corrupted.
        neighbour_rate: probability that each other valid frame of it is.
        cached: carry the cached encoder outputs (``False``: samples as any dataset's, the whole
            clip encoded by the model).
        seed: ``None``: corruptions drawn from torch's global generator (which
            [train][tarpose.training.train] seeds per sample, epoch and run); an int: the
            corruptions of sample ``i`` are fixed by ``(seed, i)`` (evaluation).

    Samples: ``"clip"`` ``(T, 3, H, W)`` normalised crops (corrupted where drawn),
    ``"frame_valid"`` ``(T,)``, ``"target"`` ``(J, Hh, Wh)``, ``"target_weight"`` ``(J,)``,
    ``"corruption"`` ``(T,)`` int64 bits of the kinds each frame got (0: clean), ``"matrix"``
    ``(2, 3)`` image -> crop, and with ``cached``: ``"features"`` ``(T, C, h, w)``,
    ``"heatmaps"`` ``(T, J, Hh, Wh)`` (float32, of the clean frames) and ``"encode"`` ``(T,)``
    bool (the corrupted frames). ``"meta"``: ``track``, ``frame`` and ``window``.
    """

    def __init__(
        self,
        cache: WindowCache,
        indices: Sequence[int] | None = None,
        *,
        corruptor: CropCorruptor,
        teacher: Teacher,
        target_rate: float = 0.9,
        neighbour_rate: float = 0.3,
        cached: bool = True,
        seed: int | None = None,
    ) -> None:
        for name, rate in (("target_rate", target_rate), ("neighbour_rate", neighbour_rate)):
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.cache = cache
        self.indices = list(range(len(cache))) if indices is None else [int(i) for i in indices]
        if self.indices and not (0 <= min(self.indices) and max(self.indices) < len(cache)):
            raise ValueError(f"window indices must be in [0, {len(cache)})")
        self.corruptor = corruptor
        self.teacher = teacher
        self.target_rate = float(target_rate)
        self.neighbour_rate = float(neighbour_rate)
        self.cached = cached
        self.seed = seed
        self.target_index = cache.window.target_index
        size = cache.input_size
        self._to_heatmap = heatmap_matrix(size, cache.heatmap_size, cache.geometry)[None]  # (1, 2, 3)

    @property
    def geometry(self) -> str:
        """The geometry of the crops and targets (the base's)."""
        return self.cache.geometry

    def __len__(self) -> int:
        return len(self.indices)

    def generator(self, index: int) -> torch.Generator:
        """The source of sample ``index``'s corruptions."""
        if self.seed is None:
            return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
        return torch.Generator().manual_seed(_seed(self.seed, index))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} windows")
        index %= len(self)
        row = self.indices[index]
        c = self.cache
        crops = torch.from_numpy(np.array(c["crops"][row]))  # (t, 3, h, w) uint8
        valid = torch.from_numpy(np.array(c["valid"][row]))  # (t,)
        keypoints = torch.from_numpy(np.array(c["base_keypoints"][row]))  # (t, j, 2) crop pixels
        scores = torch.from_numpy(np.array(c["base_scores"][row]))  # (t, j)
        heatmaps = torch.from_numpy(np.array(c["heatmaps"][row])).float()  # (t, j, hh, wh)
        gen = self.generator(index)
        rate = torch.full((len(valid),), self.neighbour_rate, dtype=torch.float64)
        rate[self.target_index] = self.target_rate
        corrupt = (torch.rand(len(valid), generator=gen, dtype=torch.float64) < rate) & valid
        code = torch.zeros(len(valid), dtype=torch.int64)
        if bool(corrupt.any()):
            size = float(c["size"][row])
            out = self.corruptor(crops[corrupt], size, gen, keypoints[corrupt], scores[corrupt])
            crops = crops.clone()
            crops[corrupt] = out.images
            code[corrupt] = out.code
        in_heatmap = apply_affine(keypoints.double(), self._to_heatmap.expand(len(valid), 2, 3)).float()
        target, weight = self.teacher(heatmaps, in_heatmap, scores, valid, self.target_index)
        track, frame = (int(v) for v in c.index[row])
        sample = {
            "clip": normalize_images(crops, c.data.mean, c.data.std),
            "frame_valid": valid,
            "target": target,
            "target_weight": weight,
            "corruption": code,
            "matrix": torch.from_numpy(np.array(c["matrix"][row])),
            "meta": {"track": track, "frame": frame, "window": row},
        }
        if self.cached:
            sample["features"] = torch.from_numpy(np.array(c["features"][row])).float()
            sample["heatmaps"] = heatmaps
            sample["encode"] = corrupt
        return sample

"""A tiny dataset in tarpose's sample format, for training tests (importable as ``toy_pose_data``).

Each sample is J coloured blobs on a noisy background, moving slightly over T frames; the targets
are the codec's Gaussian heatmaps of the centre frame. A random shift drawn from torch's GLOBAL RNG
augments every sample, so the training engine's per-sample seeding is what makes runs repeatable.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from tarpose.codec import gaussian_targets


class ToyPoses(Dataset):
    def __init__(
        self,
        size: int = 16,
        num_frames: int = 3,
        num_joints: int = 5,
        image_size=(64, 48),
        sigma: float = 1.5,
        augment: bool = True,
    ) -> None:
        self.size, self.t, self.j = size, num_frames, num_joints
        self.h, self.w = image_size
        self.sigma, self.augment = sigma, augment

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        g = torch.Generator().manual_seed(index)
        t, j, h, w = self.t, self.j, self.h, self.w
        centre = (
            torch.rand(j, 2, generator=g) * torch.tensor([w - 16.0, h - 16.0]) + 8
        )  # (j, 2) x, y
        motion = torch.randn(j, 2, generator=g)
        offsets = torch.arange(t, dtype=torch.float32) - t // 2
        points = centre + offsets[:, None, None] * motion  # (t, j, 2)
        if self.augment:
            points = points + (torch.rand(2) - 0.5) * 4  # global RNG: one shift for the window
        colours = torch.rand(j, 3, generator=g) + 0.5
        ys = torch.arange(h, dtype=torch.float32) + 0.5
        xs = torch.arange(w, dtype=torch.float32) + 0.5
        d2 = (xs - points[..., 0:1, None]) ** 2 + (
            ys[:, None] - points[..., 1:2, None]
        ) ** 2  # (t, j, h, w)
        blobs = torch.einsum("tjhw,jc->tchw", torch.exp(-d2 / 8.0), colours)  # (t, 3, h, w)
        clip = blobs + 0.1 * torch.randn(t, 3, h, w, generator=g)
        visible = torch.ones(j)
        if index % 2:
            visible[-1] = 0
        target, weight = gaussian_targets(
            points[t // 2][None] / 4, visible[None], (h // 4, w // 4), self.sigma
        )
        frame_valid = torch.ones(t, dtype=torch.bool)
        if index % 3 == 0 and t > 1:
            frame_valid[0] = False
        return {
            "clip": clip,
            "frame_valid": frame_valid,
            "target": target[0],
            "target_weight": weight[0],
            "keypoints": points[t // 2],
            "visible": visible,
            "matrix": torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64),
            "meta": {"index": index},
        }

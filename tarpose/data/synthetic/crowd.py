"""A few figures walking past each other in one static scene: ground truth for tracking.

Each figure is the walking figure of its own ``SyntheticVideo`` (body, clothes, gait), taken
out of that video's camera and put on a straight path across a shared scene: nearer figures walk
lower in the frame and are drawn larger and in front, and the paths are timed to cross near the
middle of the clip, so the figures occlude each other. Every label is exact: each figure's
silhouette box and the fraction of it that is visible (not hidden by a nearer figure), per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ...geometry import apply_affine
from .figure import PELVIS
from .raster import Paint, Primitives, rasterize
from .video import SyntheticVideo, _float, _transform

#: the scene's nearest figures are drawn this many depth units in front of the next ones
_LAYER = 1e5


class SyntheticCrowd:
    """``num_people`` figures walking across a static scene, deterministic by ``seed``.

    Args:
        seed: everything follows from it.
        num_people: figures in the scene (they enter and leave the frame).
        num_frames: clip length ``F``.
        image_size: frame ``(H, W)``.

    Labels (computed at construction, by rasterising each figure's silhouette):
        ``boxes`` ``(F, K, 4)`` x, y, w, h of each figure's silhouette inside the frame (zeros when
        it is outside); ``area`` ``(F, K)`` its silhouette pixels inside the frame; ``visible``
        ``(F, K)`` the fraction of those pixels not hidden by a nearer figure (0 when outside);
        ``keypoints`` ``(F, K, 17, 2)``; ``depth_order`` ``(K,)`` figure indices, farthest first.
    """

    def __init__(
        self,
        seed: int,
        num_people: int = 3,
        num_frames: int = 64,
        image_size: tuple[int, int] = (240, 320),
    ) -> None:
        if not 1 <= num_people <= 8:
            raise ValueError(f"num_people must be in 1..8, got {num_people}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if len(image_size) != 2 or min(image_size) < 32:
            raise ValueError(f"image_size must be (H, W) with sides >= 32, got {image_size}")
        self.seed = int(seed)
        self.num_people = num_people
        self.num_frames = num_frames
        self.image_size = (int(image_size[0]), int(image_size[1]))
        gen = torch.Generator().manual_seed(self.seed * 7919 + 17)
        rand = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)
        h, w = self.image_size
        base = 2_000_000_000 + self.seed * 16  # figures of their own seed range
        # the scene: a video whose figure stands still (its camera barely moves); its figure is unused
        self._scene = SyntheticVideo(base, num_frames, self.image_size, action="wave")
        self.people = [SyntheticVideo(base + 1 + k, num_frames, self.image_size, action="walk")
                       for k in range(num_people)]
        ground = h * (0.6 + 0.38 * rand(num_people))  # feet line; lower = nearer = larger
        self.heights = ground * 0.5
        self.depth_order = torch.argsort(ground)  # farthest first
        t = torch.arange(num_frames, dtype=torch.float64)
        matrices = []
        for k, video in enumerate(self.people):
            side = 1.0 if float(torch.sin(torch.deg2rad(video.motion.yaw)).mean()) >= 0 else -1.0
            speed = (0.015 + 0.02 * float(rand(1))) * float(self.heights[k])  # px / frame
            cross_t = num_frames * (0.3 + 0.4 * float(rand(1)))
            cross_x = w * (0.35 + 0.3 * float(rand(1)))
            x = cross_x + side * speed * (t - cross_t)  # (f,) the pelvis
            body = video.body
            y = ground[k] - (body.thigh + body.shin) / body.height * self.heights[k]
            zoom = video._camera[1]  # (f,) the video's own zoom: undone
            scale = self.heights[k] / (video.figure_height * zoom)  # (f,)
            pelvis = video.points[:, PELVIS]  # (f, 2) in the video's own frame
            matrix = torch.zeros(num_frames, 2, 3, dtype=torch.float64)
            matrix[:, 0, 0] = matrix[:, 1, 1] = scale
            matrix[:, 0, 2] = x - scale * pelvis[:, 0]
            matrix[:, 1, 2] = y - scale * pelvis[:, 1]
            matrices.append(matrix)
        self._matrices = torch.stack(matrices, 1)  # (f, k, 2, 3): each figure's video -> the scene
        self._layer = torch.empty(num_people, dtype=torch.float64)
        self._layer[self.depth_order] = torch.arange(num_people, dtype=torch.float64) * _LAYER
        self.keypoints = torch.stack(
            [apply_affine(v.points[:, :17], self._matrices[:, k]) for k, v in enumerate(self.people)], 1
        ).float()
        self._labels()

    def _figure(self, k: int, frames: Tensor) -> Primitives:
        prims = _transform(self.people[k].body_primitives(frames), self._matrices[frames, k])
        prims.depth = prims.depth + self._layer[k]
        return prims

    def _labels(self) -> None:
        h, w = self.image_size
        frames = torch.arange(self.num_frames)
        masks = []
        for k, video in enumerate(self.people):
            _, opacity = rasterize(_float(self._figure(k, frames)), _float(video._paint), (h, w))
            masks.append(opacity.view(-1, h, w) >= 0.5)
        masks_t = torch.stack(masks, 1)  # (f, k, h, w)
        self.area = masks_t.flatten(2).sum(-1).float()  # (f, k)
        hidden = torch.zeros_like(masks_t)
        for rank, k in enumerate(self.depth_order.tolist()):
            nearer = self.depth_order[rank + 1:].tolist()
            if nearer:
                hidden[:, k] = masks_t[:, k] & masks_t[:, nearer].any(1)
        seen = (masks_t & ~hidden).flatten(2).sum(-1).float()
        self.visible = torch.where(self.area > 0, seen / self.area.clamp_min(1), torch.zeros_like(seen))
        rows, cols = masks_t.any(-1), masks_t.any(-2)  # (f, k, h), (f, k, w)
        boxes = torch.zeros(self.num_frames, self.num_people, 4)
        for name, axis, size in (("x", cols, w), ("y", rows, h)):
            index = torch.arange(size)
            lo = torch.where(axis, index, size).amin(-1)
            hi = torch.where(axis, index + 1, 0).amax(-1)
            i = 0 if name == "x" else 1
            boxes[..., i] = torch.where(hi > lo, lo, 0).float()
            boxes[..., i + 2] = (hi - lo).clamp_min(0).float()
        self.boxes = boxes

    def render(self, frames: Sequence[int] | Tensor | None = None) -> Tensor:
        """The clip's frames ``(n, 3, H, W)`` uint8 (default: all)."""
        frames = torch.arange(self.num_frames) if frames is None else torch.as_tensor(frames).long().flatten()
        if len(frames) and (frames.min() < 0 or frames.max() >= self.num_frames):
            raise ValueError(f"frames must be in [0, {self.num_frames}), got {frames.tolist()}")
        h, w = self.image_size
        identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64).expand(len(frames), 2, 3)
        image = self._scene._background_image(frames, identity, (h, w))  # (n, 3, h*w)
        prims = Primitives.cat([self._figure(k, frames) for k in range(self.num_people)])
        paint = Paint.cat([video._paint for video in self.people])
        colors, opacity = rasterize(_float(prims), _float(paint), (h, w))
        image = colors + (1 - opacity[:, None]) * image
        return (image.view(len(frames), 3, h, w).clamp(0, 1) * 255).round().to(torch.uint8)

    def occlusions(self) -> int:
        """Number of (frame, figure) pairs with the figure in the frame but partly hidden."""
        return int(((self.area > 0) & (self.visible < 1)).sum())

"""What the temporal modules learn to restore: the frozen base's view of the clean frame.

- ``"heatmaps"`` (the default): the base's heatmaps on the clean target crop.
- ``"keypoints"``: Gaussians ([gaussian_targets][tarpose.codec.gaussian_targets]) at the base's
  keypoints on the clean target crop: a sharper, single-peaked target.
- ``"filtered"``: Gaussians at the base's keypoints over the clean window, filtered in time
  ([tarpose.filters][tarpose.filters], e.g. ``"median:window=5"``), at the target frame.

Each joint is weighted by the base's confidence on the clean target (its heatmap's peak): 0 below
``floor``, and above it 1 (``weighting="threshold"``) or the peak itself (``"peak"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..._checks import expect_shape
from ...codec import gaussian_targets
from ...filters import build_filter

TeacherKind = Literal["heatmaps", "keypoints", "filtered"]
#: the teachers there are
TEACHERS: tuple[str, ...] = ("heatmaps", "keypoints", "filtered")
#: how a joint's confidence weighs its loss
WEIGHTINGS: tuple[str, ...] = ("threshold", "peak")


@dataclass(frozen=True)
class Teacher:
    """Targets of the target frame from the base's outputs on a clean window.

    Args:
        kind: ``"heatmaps"``, ``"keypoints"`` or ``"filtered"`` (see the module docs).
        floor: joints whose clean peak is under this weigh 0.
        weighting: ``"threshold"`` (1 above the floor) or ``"peak"`` (the peak above it).
        filter: the filter of ``"filtered"`` ([build_filter][tarpose.filters.build_filter] spec).
        sigma: the Gaussians' standard deviation, heatmap pixels.
    """

    kind: TeacherKind = "heatmaps"
    floor: float = 0.1
    weighting: Literal["threshold", "peak"] = "threshold"
    filter: str = "median:window=5"
    sigma: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in TEACHERS:
            raise ValueError(f"teacher must be one of {TEACHERS}, got {self.kind!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"confidence weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if not 0 <= self.floor < 1:
            raise ValueError(f"confidence floor must be in [0, 1), got {self.floor}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        if self.kind == "filtered":
            build_filter(self.filter)  # a clear error for a bad spec, now

    def __call__(
        self, heatmaps: Tensor, keypoints: Tensor, scores: Tensor, valid: Tensor, target_index: int
    ) -> tuple[Tensor, Tensor]:
        """The target and the joints' weights.

        Args:
            heatmaps: ``(T, J, Hh, Wh)`` the base's heatmaps on the clean window.
            keypoints: ``(T, J, 2)`` its keypoints, heatmap pixel indices.
            scores: ``(T, J)`` their scores (the heatmaps' peaks).
            valid: ``(T,)`` bool: frames inside the track.
            target_index: the target frame's position in the window.

        Returns:
            target ``(J, Hh, Wh)`` and weights ``(J,)``, float32.
        """
        t, j, hh, wh = heatmaps.shape
        expect_shape("keypoints", keypoints, "(T, J, 2)", (t, j, 2))
        expect_shape("scores", scores, "(T, J)", (t, j))
        peak = scores[target_index].float()
        weight = (peak >= self.floor).float()
        if self.weighting == "peak":
            weight = weight * peak
        if self.kind == "heatmaps":
            return heatmaps[target_index].float(), weight
        if self.kind == "keypoints":
            point = keypoints[target_index]
        else:
            confident = valid[:, None] & (scores >= self.floor)  # (t, j)
            point = build_filter(self.filter)(keypoints.double(), scores.double(), confident)[target_index]
        target, inside = gaussian_targets(point[None].float(), torch.ones(1, j), (hh, wh), sigma=self.sigma)
        return target[0], weight * inside[0]

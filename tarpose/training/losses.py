"""Heatmap losses: target- and joint-weighted MSE on the final (and optionally initial) heatmaps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._checks import expect_shape
from ..keypoints import COCO_JOINT_WEIGHTS


def heatmap_mse(
    pred: Tensor, target: Tensor, target_weight: Tensor, joint_weights: Tensor | None = None
) -> Tensor:
    """Weighted heatmap MSE: ``mean_{b,j,y,x} w[b,j] * (pred - target)^2``.

    ``w = target_weight * joint_weights`` weighs each joint's squared error linearly, as mmpose
    1.x's ``KeypointMSELoss``. HRNet's ``JointsMSELoss`` multiplies
    the heatmaps by the weights before squaring and halves the result: the same loss up to a
    factor 1/2 for 0/1 weights, while its effective joint weights are the squares (1.44, 2.25).

    Args:
        pred: ``(B, J, h, w)`` predicted heatmaps (any float dtype; computed in float32).
        target: ``(B, J, h, w)`` Gaussian targets.
        target_weight: ``(B, J)``: 0 for unlabelled joints.
        joint_weights: optional ``(J,)`` per-joint importance (e.g. ``COCO_JOINT_WEIGHTS``).

    Returns:
        scalar loss.
    """
    expect_shape("target", target, "(B, J, h, w)", (None, None, None, None))
    b, j, h, w = target.shape
    if tuple(pred.shape) != (b, j, h, w):
        raise ValueError(
            f"predicted heatmaps {tuple(pred.shape)} do not match the targets {(b, j, h, w)} "
            "(B, J, h, w): check the model's joints and heatmap size against the dataset's"
        )
    expect_shape("target_weight", target_weight, "(B, J)", (b, j))
    weight = target_weight.float()
    if joint_weights is not None:
        expect_shape("joint_weights", joint_weights, "(J,)", (j,))
        weight = weight * joint_weights.to(weight)
    squared = (pred.float() - target.float()) ** 2  # (b, j, h, w)
    return (squared.mean(dim=(-2, -1)) * weight).mean()


class HeatmapLoss(nn.Module):
    """The training loss: weighted MSE of the final heatmaps of the target frame, plus
    ``initial_weight`` times the same loss on the base model's initial heatmaps of that frame.

    Args:
        joint_weights: ``None``, ``"coco"`` (``COCO_JOINT_WEIGHTS``: 1.2
            elbows/knees, 1.5 wrists/ankles, as the paper) or a sequence of J floats.
        initial_weight: weight of the loss on the initial heatmaps (0 = off, the paper).
    """

    def __init__(
        self, joint_weights: str | Sequence[float] | None = None, initial_weight: float = 0.0
    ) -> None:
        super().__init__()
        if isinstance(joint_weights, str):
            if joint_weights != "coco":
                raise ValueError(
                    f"joint_weights must be 'coco', a list of floats or None, got {joint_weights!r}"
                )
            joint_weights = COCO_JOINT_WEIGHTS
        if not (math.isfinite(initial_weight) and initial_weight >= 0):
            raise ValueError(f"initial_weight must be a finite number >= 0, got {initial_weight}")
        weights = (
            None if joint_weights is None else torch.tensor(joint_weights, dtype=torch.float32)
        )
        if weights is not None and (weights.ndim != 1 or not bool(torch.isfinite(weights).all())
                                    or bool((weights < 0).any())):
            raise ValueError(
                f"joint_weights must be J finite non-negative floats, got {list(joint_weights)}"
            )
        self.register_buffer("joint_weights", weights, persistent=False)
        self.initial_weight = float(initial_weight)

    def forward(
        self, heatmaps: Tensor, target: Tensor, target_weight: Tensor, initial: Tensor | None = None
    ) -> Tensor:
        """heatmaps, target ``(B, J, h, w)``, target_weight ``(B, J)``, initial: the base model's
        heatmaps of the target frame ``(B, J, h, w)`` (needed when ``initial_weight > 0``)."""
        if self.joint_weights is not None and self.joint_weights.numel() != target.shape[1]:
            raise ValueError(
                f"{self.joint_weights.numel()} joint weights given but the targets have "
                f"J={target.shape[1]} joints (shape {tuple(target.shape)})"
            )
        loss = heatmap_mse(heatmaps, target, target_weight, self.joint_weights)
        if self.initial_weight > 0:
            if initial is None:
                raise ValueError("initial_weight > 0 needs the initial heatmaps (a temporal model)")
            loss = loss + self.initial_weight * heatmap_mse(
                initial, target, target_weight, self.joint_weights
            )
        return loss

    def extra_repr(self) -> str:
        jw = None if self.joint_weights is None else self.joint_weights.tolist()
        return f"joint_weights={jw}, initial_weight={self.initial_weight}"

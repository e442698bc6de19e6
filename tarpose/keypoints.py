"""The COCO-17 keypoint set: names, left/right pairs, skeleton, OKS sigmas, loss weights."""

from __future__ import annotations

from collections.abc import Sequence

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: left/right joint pairs swapped by a horizontal flip
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)

#: limbs (joint index pairs) for drawing
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

#: per-keypoint OKS sigmas of the COCO keypoint evaluation
COCO_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)

#: loss weights of the reference training: 1.2 elbows/knees, 1.5 wrists/ankles
COCO_JOINT_WEIGHTS: tuple[float, ...] = (
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5,
)

#: joints of the upper body (for half-body augmentation)
COCO_UPPER_BODY: tuple[int, ...] = tuple(range(11))


def flip_permutation(num_joints: int, flip_pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Index list ``p`` such that ``flipped[:, p]`` swaps every left/right pair."""
    perm = list(range(num_joints))
    for a, b in flip_pairs:
        if not (0 <= a < num_joints and 0 <= b < num_joints):
            raise ValueError(f"flip pair {(a, b)} out of range for {num_joints} joints")
        perm[a], perm[b] = b, a
    return perm

"""Procedural video-pose data that needs no download.

Articulated figures with the 17 COCO joints (varied proportions, clothes, textures) move smoothly
(walking, waving, turning, jumping, dancing) in front of textured backgrounds with distractor
shapes, under a drifting camera; a chosen fraction of frames is corrupted (occluders over limbs,
motion blur, defocus, noise, dropped frames). Everything is deterministic by seed and the labels
are exact, with COCO visibility and per-frame corruption flags.

- [SyntheticVideo][tarpose.data.synthetic.SyntheticVideo]: one video (labels at construction, frames rendered on demand).
- [SyntheticPoseDataset][tarpose.data.synthetic.SyntheticPoseDataset] (registered as ``"synthetic"``): windows in the tarpose sample
  format, with disjoint seed ranges per split ([SPLITS][tarpose.data.synthetic.SPLITS]).
"""

from .corruptions import KINDS
from .dataset import SPLITS, SyntheticPoseDataset, split_seeds
from .figure import ACTIONS
from .video import SyntheticVideo

__all__ = ["ACTIONS", "KINDS", "SPLITS", "SyntheticPoseDataset", "SyntheticVideo", "split_seeds"]

"""Label-free adaptation: train TAR's temporal modules on a user's own unlabelled footage.

```python
from tarpose.training import AdaptConfig, adapt
model = adapt(base, tracks, "runs/adapted", AdaptConfig(steps=800))
```

``tracks`` are person tracks as plain data (frames and one box per frame, no keypoints); the base
stays frozen and the temporal modules learn to restore what it sees in a clean frame from windows
whose frames have been corrupted. The parts, one a module:

- `tracks`: the footage, checked;
- `footage`: person tracks from videos and folders, through a detector and the tracker;
- `corrupt`: the synthetic benchmark's corruptions on real crops;
- `cache`: every window cropped and run through the base once;
- `teacher`: the targets, from the base's view of clean frames;
- `windows`: the dataset the training engine reads;
- `consistency`: agreement with the base, before and after;
- `config` and `run`: the entry point;
- `card`: the model card's section.
"""

from .cache import WindowCache
from .config import AdaptConfig
from .consistency import self_consistency
from .corrupt import CorruptedCrops, CropCorruptor
from .footage import FootageOptions, RegionFrames, footage_tracks
from .run import adapt, holdout_windows
from .teacher import Teacher
from .tracks import Track, as_tracks
from .windows import UnlabelledWindows

__all__ = [
    "AdaptConfig",
    "CorruptedCrops",
    "CropCorruptor",
    "FootageOptions",
    "RegionFrames",
    "Teacher",
    "Track",
    "UnlabelledWindows",
    "WindowCache",
    "adapt",
    "as_tracks",
    "footage_tracks",
    "holdout_windows",
    "self_consistency",
]

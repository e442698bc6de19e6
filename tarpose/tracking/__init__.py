"""Tracking: link each frame's person boxes to the tracks of the frames before.

[ByteTracker][tarpose.tracking.ByteTracker] (the default of
[PoseInferencer][tarpose.PoseInferencer] and ``tarpose predict``) and
[IoUTracker][tarpose.tracking.IoUTracker]; anything with ``reset()`` and
``update(boxes, scores=None) -> ids`` is a [Tracker][tarpose.tracking.Tracker].
"""

from .tracker import ByteTracker, IoUTracker, Tracker, match

__all__ = ["ByteTracker", "IoUTracker", "Tracker", "match"]

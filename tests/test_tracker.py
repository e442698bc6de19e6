"""Tracking: the assignment solver equals scipy's, the ByteTracker keeps identities where greedy
IoU linking swaps them, and a missed detection keeps a person's id and cached window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tarpose.tracking import ByteTracker, IoUTracker
from tarpose.inference import StreamingPredictor
from tarpose.tracking.assignment import linear_assignment


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 7), (7, 4), (8, 8), (0, 3), (3, 0), (12, 5)])
def test_assignment_equals_scipy(shape):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(sum(shape))
    for trial in range(30):
        cost = rng.normal(size=shape) * 10
        if trial % 3 == 0:
            cost = np.round(cost / 5)  # ties: the optimum is not unique, its cost is
        rows, cols = linear_assignment(cost)
        ref_rows, ref_cols = scipy_optimize.linear_sum_assignment(cost)
        assert len(rows) == len(ref_rows) == min(shape)
        assert np.isclose(cost[rows, cols].sum(), cost[ref_rows, ref_cols].sum())
        assert len(set(rows.tolist())) == len(set(cols.tolist())) == len(rows)
        if trial % 3:
            assert rows.tolist() == ref_rows.tolist() and cols.tolist() == ref_cols.tolist()


def test_assignment_bad_input():
    with pytest.raises(ValueError, match="matrix"):
        linear_assignment(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        linear_assignment(np.array([[0.0, np.inf]]))


def crossing(frames: int = 10, hidden=(4, 5, 6)):
    """Two people walking towards each other along one line; while they overlap only the front
    one (A) is detected. Per frame: the boxes and the truth (which person each box is)."""
    out = []
    for t in range(frames):
        a, b = [6.0 * t, 0.0, 20.0, 50.0], [60.0 - 6.0 * t, 0.0, 20.0, 50.0]
        out.append(([a], ["A"]) if t in hidden else ([b, a], ["B", "A"]))
    return out


def identities(tracker, frames) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {"A": set(), "B": set()}
    for boxes, who in frames:
        for person, track in zip(who, tracker.update(boxes)):
            seen[person].add(track)
    return seen


def test_byte_tracker_keeps_identities_where_greedy_iou_swaps_them():
    frames = crossing()
    assert identities(ByteTracker(), frames) == {"A": {1}, "B": {0}}
    greedy = identities(IoUTracker(), frames)
    assert greedy["A"] & greedy["B"]  # the IoU tracker hands B's id to A


def test_lost_tracks_live_for_the_buffer_then_end():
    tracker = ByteTracker(buffer=2)
    box = [10.0, 10.0, 20.0, 40.0]
    assert tracker.update([box]) == [0]
    assert tracker.update([]) == [] and tracker.live_tracks == {0: 1}
    assert tracker.update([]) == [] and tracker.live_tracks == {0: 2}
    assert tracker.update([box]) == [0]                 # back within the buffer: same id
    for _ in range(3):
        tracker.update([])
    assert tracker.live_tracks == {}
    assert tracker.update([box]) == [1]                 # too late: a new id, never a reused one


def test_low_score_boxes_continue_tracks_but_start_none():
    tracker = ByteTracker()
    a, b = [0.0, 0.0, 20.0, 40.0], [100.0, 0.0, 20.0, 40.0]
    assert tracker.update([a, b], [0.9, 0.3]) == [0, None]      # low: no new track
    assert tracker.update([a, b], [0.3, 0.55]) == [0, None]     # low continues; 0.55 < new (0.6)
    assert tracker.update([[1.0, 0.0, 20.0, 40.0]], [0.05]) == [None]   # below the low threshold
    assert tracker.update([b], [0.7]) == [1]
    tracker.reset()
    assert tracker.update([b]) == [0]                           # no scores: every box scores 1
    with pytest.raises(ValueError, match="1 boxes but 2 scores"):
        tracker.update([a], [0.5, 0.5])
    with pytest.raises(ValueError, match="low_threshold"):
        ByteTracker(low_threshold=0.6, high_threshold=0.5)


def test_missed_detection_keeps_the_id_and_the_window():
    """The tracker's ids through a missed frame equal given ids: the person keeps their cache and
    the missing frame is excluded from the window (frame_valid), not a restarted window."""
    from test_stream import random_video, temporal

    model = temporal(num_frames=5)
    frames = random_video(7, seed=4).numpy()
    box = (10.0, 6.0, 44.0, 66.0)
    seen = [True, True, False, True, True, True, True]
    tracker = ByteTracker()

    def tracked_items():
        for f, s in zip(frames, seen):
            boxes = [box] if s else []
            yield f, boxes, tracker.update(boxes)

    tracked = list(StreamingPredictor(model, keep_heatmaps=True).run(tracked_items()))
    given = list(StreamingPredictor(model, keep_heatmaps=True).run(
        (f, [box] if s else [], [0] if s else []) for f, s in zip(frames, seen)
    ))
    assert [p.track_ids for p in tracked] == [[0], [0], [], [0], [0], [0], [0]]
    for a, b in zip(tracked, given):
        if len(a):
            torch.testing.assert_close(a.heatmaps, b.heatmaps)
    # the window of frame 3 holds frames 1, 3, 4, 5 (2 is missing), as with given ids
    restarted = list(StreamingPredictor(model, keep_heatmaps=True).run(
        (f, [box] if s else [], [t // 3] if s else []) for t, (f, s) in enumerate(zip(frames, seen))
    ))
    assert (restarted[3].heatmaps - tracked[3].heatmaps).abs().max() > 1e-4

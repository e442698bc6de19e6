"""Tracking: the assignment solver equals scipy's, the ByteTracker keeps identities where greedy
IoU linking swaps them, a missed detection keeps a person's id and cached window, a still,
low-scoring box is taken for background, and min_hits confirms new tracks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SHARED
from tarpose.inference import StreamingPredictor
from tarpose.tracking import ByteTracker, IoUTracker
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


# -- background and birth -------------------------------------------------------------------------

DOOR = [680.0, 30.0, 34.0, 86.0]


def walker(t: int) -> list[float]:
    return [100.0 + 5 * t, 200.0, 40.0, 100.0]


def shown(tracker: ByteTracker, frames: list[tuple[list, list]]) -> list[list[int | None]]:
    return [tracker.update(boxes, scores) for boxes, scores in frames]


def test_a_still_low_scoring_box_is_background_after_static_frames():
    """A box that never moves and scores 0.7 (HOG's red door on vtest.avi) is reported for its
    first static_frames - 1 frames only, keeps absorbing its boxes (no new track is started for
    them) and a pedestrian walking past keeps their id throughout. Without the rule it lives for
    the whole video."""
    frames = [([DOOR, walker(t)], [0.7, 0.7]) for t in range(100)]
    ids = shown(ByteTracker(), frames)
    door = [i[0] for i in ids]
    assert door[:29] == [0] * 29 and door[29:] == [None] * 71
    assert [i[1] for i in ids] == [1] * 100
    assert ByteTracker().static_frames == 30
    before = [i[0] for i in shown(ByteTracker(static_frames=0), frames)]
    assert before == [0] * 100


def test_the_docs_state_the_background_rule_as_the_code_has_it():
    from conftest import ROOT

    d = ByteTracker()
    text = " ".join((ROOT / "docs" / "video.md").read_text().split())
    assert (f"ByteTracker(static_frames={d.static_frames}, static_motion={d.static_motion}, "
            f"static_score={d.static_score})") in text
    assert f"{round(100 * d.static_motion)}% of its height" in text and f"last {d.static_frames} matched frames" in text


def test_the_measured_default_does_not_regress_on_the_synthetic_crowds():
    """benchmarks/results/tracking.json (benchmarks/bench_tracking.py): the default tracker, with
    the background rule, is at least as good as without it on identities; on HOG's boxes of
    vtest.avi at OpenCV's threshold it reports the door in a small share of the frames."""
    import json

    from conftest import ROOT

    results = json.loads((ROOT / "benchmarks" / "results" / "tracking.json").read_text())
    synthetic = results["synthetic"]
    default, before = synthetic["ByteTracker (default)"], synthetic["ByteTracker without the background rule"]
    assert default["idf1"] >= before["idf1"] and default["id_switches"] <= before["id_switches"]
    hog = results["vtest_hog"]["thresholds"]["0.5"]["trackers"]
    frames = results["vtest_hog"]["frames"]
    assert hog["ByteTracker without the background rule"]["door_frames"] > frames / 2
    assert hog["ByteTracker (default)"]["door_frames"] < frames / 10


def test_people_standing_still_keep_their_poses():
    """Still, but scored as a person (0.9), or without scores at all (a boxes file): never
    background. A still box that scores low is reported again, under its id, once it moves."""
    still = [([DOOR], [0.9]) for _ in range(60)]
    assert shown(ByteTracker(), still) == [[0]] * 60
    tracker = ByteTracker()
    assert [tracker.update([DOOR]) for _ in range(60)] == [[0]] * 60
    tracker = ByteTracker()
    waited = shown(tracker, [([DOOR], [0.7])] * 40)
    assert waited[-1] == [None]
    x, y, w, h = DOOR
    walked = shown(tracker, [([[x - 4 * t, y, w, h]], [0.7]) for t in range(1, 11)])
    assert walked[-1] == [0] and tracker.live_tracks == {0: 0}


def test_min_hits_confirms_new_tracks_and_drops_one_frame_boxes():
    """min_hits=2: the first frame's people are confirmed at once; later a false box seen for one
    frame never gets an id, a person gets theirs from their second frame on, and ids stay
    consecutive (a tentative track that dies takes none)."""
    tracker = ByteTracker(min_hits=2)
    assert tracker.update([walker(0)]) == [0]            # the first frame: at once
    assert tracker.update([walker(1), [400.0, 50.0, 30.0, 80.0]]) == [0, None]   # tentative
    assert tracker.update([walker(2)]) == [0]            # the flicker ended unconfirmed
    newcomer = [[600.0 - 5 * t, 300.0, 40.0, 100.0] for t in range(3, 6)]
    assert tracker.update([walker(3), newcomer[0]]) == [0, None]
    assert tracker.update([walker(4), newcomer[1]]) == [0, 1]   # confirmed: the next id, 1
    assert tracker.update([walker(5), newcomer[2]]) == [0, 1]
    assert ByteTracker(min_hits=1).update([walker(0)]) == [0]
    with pytest.raises(ValueError, match="min_hits must be >= 1"):
        ByteTracker(min_hits=0)
    with pytest.raises(ValueError, match="static_motion > 0"):
        ByteTracker(static_motion=0)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "data" / "vtest.avi").exists(), reason="../shared/data/vtest.avi is not here")
def test_hogs_red_door_is_not_tracked_through_vtest():
    """Real footage: HOG at OpenCV's own threshold (0.5) finds the red door at the top right in
    most frames; the default tracker reports it for at most static_frames frames of 80, the rule
    switched off for most of them."""
    pytest.importorskip("cv2")
    from tarpose.boxes import box_iou
    from tarpose.io import read_video
    from tarpose.detection import make_detector

    frames, _ = read_video(SHARED / "data" / "vtest.avi", max_frames=80)
    found = make_detector("hog", score_threshold=0.5).detect(list(frames), list(range(len(frames))))
    door = torch.tensor([[683.0, 28.0, 34.0, 86.0]], dtype=torch.float64)

    def door_frames(tracker: ByteTracker) -> int:
        count = 0
        for d in found:
            ids = tracker.update(d.boxes, d.scores)
            kept = [i for i, track in enumerate(ids) if track is not None]
            count += bool(kept) and bool((box_iou(d.boxes[kept], door) >= 0.5).any())
        return count

    assert door_frames(ByteTracker(static_frames=0)) >= 60
    assert door_frames(ByteTracker()) <= ByteTracker().static_frames

"""Tracking: the ByteTracker against the previous greedy IoU tracker, on synthetic crowds with
exact identities and on real footage.

Ground truth: `tarpose.data.synthetic.SyntheticCrowd` clips (2-4 figures walking past and hiding
each other, 64 frames of 320x240). The detections both trackers get are simulated from it, the
same for both, drawn by seed: a figure is detected when at least 30% of it is visible, except for
5% random misses; its box is the silhouette box with Gaussian noise (4% of its size per side);
its score is high (0.6-0.95) when at least 70% of it is visible and low (0.15-0.5) when it is
partly hidden (a detector's typical behaviour, which ByteTrack's second pass is for); one frame in
ten has a false box with a score of 0.1-0.55. Metrics by motmetrics (ID switches, IDF1, MOTA;
a pair counts when IoU >= 0.5) over every figure at least 30% visible.

Real footage: the number of track ids on ../shared/data/vtest.avi with the boxes of
tests/data/vtest_boxes.json (background subtraction, no scores: all count as high), which hold
3-6 pedestrians per frame; and with `--hog-frames N`, OpenCV's HOG detector on the first N frames
at OpenCV's own threshold (0.5) and at tarpose's (HOG_THRESHOLD): track ids, the frames in which a
reported box sits on the red door at the top right (a false box that does not move), people
reported per frame (the reference boxes hold 4.46 per frame over the first 100 frames).

    python benchmarks/bench_tracking.py --hog-frames 795 --hog-cache /tmp/hog --json benchmarks/results/tracking.json
    python benchmarks/bench_tracking.py --clips 4 --json tracking.json   # quick
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

import numpy as np
import torch

from tarpose.data.synthetic.crowd import SyntheticCrowd
from tarpose.tracking.tracker import ByteTracker, IoUTracker, box_iou

VTEST = ROOT.parent / "shared" / "data" / "vtest.avi"
VTEST_BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"

#: the trackers compared: name -> (factory, lowest detection score it is given)
TRACKERS = {
    "IoU tracker (previous), every box": (IoUTracker, 0.0),
    "IoU tracker (previous), boxes >= 0.5": (IoUTracker, 0.5),
    "ByteTracker without the background rule": (functools.partial(ByteTracker, static_frames=0), 0.0),
    "ByteTracker (default)": (ByteTracker, 0.0),
    "ByteTracker, min_hits=2": (functools.partial(ByteTracker, min_hits=2), 0.0),
}
#: the ByteTracker variants run on HOG's boxes of vtest.avi
HOG_TRACKERS = {k: v[0] for k, v in TRACKERS.items() if k.startswith("ByteTracker")}
#: the red door at the top right of vtest.avi (HOG's false box there), x, y, w, h
DOOR = (683.0, 28.0, 34.0, 86.0)


def simulate_detections(crowd: SyntheticCrowd, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per frame: boxes ``(n, 4)`` and scores ``(n,)`` as a detector might give them."""
    rng = np.random.default_rng(seed)
    h, w = crowd.image_size
    frames = []
    for t in range(crowd.num_frames):
        boxes, scores = [], []
        for k in range(crowd.num_people):
            visible = float(crowd.visible[t, k])
            box = crowd.boxes[t, k].double().numpy()
            if visible < 0.3 or rng.random() < 0.05 or min(box[2:]) < 4:
                continue
            noisy = box + rng.normal(0, 0.04, 4) * np.r_[box[2:], box[2:]]
            noisy[2:] = np.maximum(noisy[2:], 2)
            boxes.append(noisy)
            scores.append(rng.uniform(0.6, 0.95) if visible >= 0.7 else rng.uniform(0.15, 0.5))
        if rng.random() < 0.1:
            bh = rng.uniform(0.25, 0.5) * h
            boxes.append(np.r_[rng.uniform(0, w - 0.4 * bh), rng.uniform(0, h - bh), 0.4 * bh, bh])
            scores.append(rng.uniform(0.1, 0.55))
        frames.append((np.array(boxes).reshape(-1, 4), np.array(scores)))
    return frames


def evaluate(crowd: SyntheticCrowd, detections, make_tracker, min_score: float):
    """A motmetrics accumulator of one tracker on one clip."""
    import motmetrics as mm

    tracker = make_tracker()
    acc = mm.MOTAccumulator(auto_id=True)
    for t, (boxes, scores) in enumerate(detections):
        keep = scores >= min_score
        boxes, scores = boxes[keep], scores[keep]
        ids = tracker.update(boxes, scores)
        tracked = [i for i, track in enumerate(ids) if track is not None]
        gt = [k for k in range(crowd.num_people) if float(crowd.visible[t, k]) >= 0.3]
        gt_boxes = crowd.boxes[t, gt].double()
        hyp_boxes = torch.as_tensor(boxes[tracked], dtype=torch.float64).reshape(-1, 4)
        # motmetrics 1.4's iou_matrix uses np.asfarray (gone in NumPy 2): the same distance here
        distance = (1 - box_iou(gt_boxes, hyp_boxes)).numpy()
        distance[distance > 0.5] = np.nan
        acc.update(gt, [ids[i] for i in tracked], distance)
    return acc


def synthetic(clips: int, first_seed: int) -> dict[str, dict[str, float]]:
    import motmetrics as mm

    crowds = [SyntheticCrowd(first_seed + c, num_people=2 + c % 3) for c in range(clips)]
    detections = [simulate_detections(crowd, seed=first_seed + c) for c, crowd in enumerate(crowds)]
    metrics = ["num_switches", "idf1", "mota", "num_fragmentations", "num_misses", "num_false_positives"]
    host = mm.metrics.create()
    out = {}
    for name, (factory, min_score) in TRACKERS.items():
        accs = [evaluate(crowd, dets, factory, min_score) for crowd, dets in zip(crowds, detections)]
        summary = host.compute_many(accs, metrics=metrics, generate_overall=True)
        row = summary.loc["OVERALL"]
        out[name] = {
            "id_switches": int(row["num_switches"]),
            "idf1": 100 * float(row["idf1"]),
            "mota": 100 * float(row["mota"]),
            "fragmentations": int(row["num_fragmentations"]),
            "misses": int(row["num_misses"]),
            "false_positives": int(row["num_false_positives"]),
            "people": int(sum(c.num_people for c in crowds)),
        }
    out["_setup"] = {
        "clips": clips, "frames": sum(c.num_frames for c in crowds),
        "partly_hidden": int(sum(c.occlusions() for c in crowds)),
    }
    return out


def vtest_ids(frames: int) -> dict[str, dict[str, int]]:
    records = json.loads(VTEST_BOXES.read_text())
    boxes: dict[int, list[list[float]]] = {}
    for r in records:
        boxes.setdefault(r["frame"], []).append(r["bbox"])
    out = {}
    for name, factory in (("IoU tracker (previous)", IoUTracker), ("ByteTracker (default)", ByteTracker)):
        tracker, lengths = factory(), Counter()
        for t in range(frames):
            for track in tracker.update(boxes.get(t, [])):
                if track is not None:
                    lengths[track] += 1
        out[name] = {"track_ids": len(lengths), "shorter_than_5": sum(n < 5 for n in lengths.values())}
    return out


def hog_detections(video: Path, frames: int, threshold: float, cache: Path | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """HOG's boxes and scores on the first ``frames`` frames of vtest.avi (read from / written to
    ``cache`` when given: HOG takes about a second a frame)."""
    path = None if cache is None else cache / f"vtest_hog_{threshold:g}_{frames}.json"
    if path is not None and path.exists():
        found = json.loads(path.read_text())
    else:
        from tarpose.io import VideoReader
        from tarpose.detection import make_detector

        detector, found = make_detector("hog", threshold=threshold), []
        with VideoReader(video) as reader:
            for t, frame in zip(range(frames), reader):
                d = detector(frame, t)
                found.append({"boxes": d.boxes.tolist(), "scores": d.scores.tolist()})
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(found))
    return [(np.asarray(f["boxes"], dtype=np.float64).reshape(-1, 4), np.asarray(f["scores"])) for f in found]


def vtest_hog(video: Path, frames: int, cache: Path | None) -> dict:
    """Each ByteTracker variant on HOG's boxes at OpenCV's threshold and at tarpose's."""
    from tarpose.detection import HOG_THRESHOLD

    door = torch.tensor([DOOR], dtype=torch.float64)
    out = {}
    for threshold in sorted({0.5, HOG_THRESHOLD}):
        detections = hog_detections(video, frames, threshold, cache)
        rows = {}
        for name, factory in HOG_TRACKERS.items():
            tracker, lengths, on_door, people = factory(), Counter(), 0, 0
            for boxes, scores in detections:
                ids = tracker.update(boxes, scores)
                shown = [i for i, track in enumerate(ids) if track is not None]
                people += len(shown)
                for i in shown:
                    lengths[ids[i]] += 1
                boxes_shown = torch.as_tensor(boxes[shown], dtype=torch.float64).reshape(-1, 4)
                on_door += bool(shown) and bool((box_iou(boxes_shown, door) >= 0.5).any())
            rows[name] = {"track_ids": len(lengths), "shorter_than_5": sum(n < 5 for n in lengths.values()),
                          "door_frames": on_door, "people_per_frame": people / len(detections)}
        out[f"{threshold:g}"] = {"boxes": int(sum(len(b) for b, _ in detections)), "trackers": rows}
    return {"frames": frames, "thresholds": out}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=60, help="synthetic crowd clips (default 60)")
    parser.add_argument("--seed", type=int, default=1000,
                        help="first clip seed (default 1000: the ByteTracker's settings were chosen on "
                        "clips 0-47, these are others)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--hog-frames", type=int, default=0,
                        help="also track HOG's boxes on the first N frames of vtest.avi (795: all; ~1 s a frame)")
    parser.add_argument("--hog-cache", type=Path, help="keep HOG's boxes here between runs")
    parser.add_argument("--video", type=Path, default=VTEST, help=f"vtest.avi (default {VTEST})")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)  # motmetrics on recent pandas
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = {"synthetic": synthetic(args.clips, args.seed)}
    setup = results["synthetic"]["_setup"]
    print(f"synthetic crowds: {setup['clips']} clips, {setup['frames']} frames, "
          f"{setup['partly_hidden']} partly hidden (frame, person) pairs")
    print("| tracker | ID switches | IDF1 | MOTA | misses | false positives |\n|---|---|---|---|---|---|")
    for name, row in results["synthetic"].items():
        if not name.startswith("_"):
            print(f"| {name} | {row['id_switches']} | {row['idf1']:.1f} | {row['mota']:.1f} | "
                  f"{row['misses']} | {row['false_positives']} |")
    if VTEST_BOXES.exists():
        results["vtest"] = {str(n): vtest_ids(n) for n in (60, 100)}
        print("\nvtest.avi with tests/data/vtest_boxes.json: track ids (of which shorter than 5 frames)")
        print("| tracker | 60 frames | 100 frames |\n|---|---|---|")
        for name in results["vtest"]["60"]:
            cells = [f"{results['vtest'][n][name]['track_ids']} ({results['vtest'][n][name]['shorter_than_5']})"
                     for n in ("60", "100")]
            print(f"| {name} | {cells[0]} | {cells[1]} |")
    if args.hog_frames and args.video.exists():
        results["vtest_hog"] = vtest_hog(args.video, args.hog_frames, args.hog_cache)
        print(f"\nvtest.avi, HOG's boxes on the first {args.hog_frames} frames:")
        print("| HOG score >= | tracker | track ids (shorter than 5 frames) | frames with the door | people per frame |")
        print("|---|---|---|---|---|")
        for threshold, block in results["vtest_hog"]["thresholds"].items():
            for name, row in block["trackers"].items():
                print(f"| {threshold} | {name} | {row['track_ids']} ({row['shorter_than_5']}) | {row['door_frames']} | "
                      f"{row['people_per_frame']:.2f} |")
    print(f"\n{time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()

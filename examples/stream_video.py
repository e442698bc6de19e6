"""Stream a video through a temporal model, person by person, with tracks.

    python examples/stream_video.py clip.mp4 boxes.json --model runs/tar-vitpose-b
    python examples/stream_video.py clip.mp4 boxes.json --model tar-vitpose-b --out results/ --render overlay.mp4

``boxes.json`` holds your detector's output, ``[{"frame": 0, "bbox": [x, y, w, h]}, ...]`` (frames
count from 0). The boxes carry no identities: a tracker (``tarpose.tracking.ByteTracker``) links
them into tracks, the predictor keeps a cache of each track's encoded crops, and every frame comes
out once its window (t-2 .. t+2) is complete, so each crop goes through the encoder once.
``--model`` is anything ``tarpose.load_model`` reads (a registered name with weights, a checkpoint
directory, a Hub id, ``tarpose train`` output). Needs ``pip install "tarpose[video]"``.
``tarpose.PoseInferencer`` does all of this in one call; this is the same, by hand.
Prints one line per track: its frames, mean keypoint score and jitter (mean keypoint
acceleration; lower is steadier); writes the keypoints per track as JSON, ``tracks.json`` in the
folder ``--out`` names (default: a new temporary folder, never the current directory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

import tarpose
from tarpose.eval import jitter
from tarpose.inference import StreamingPredictor
from tarpose.io import VideoReader, VideoWriter, draw_poses
from tarpose.tracking import ByteTracker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("boxes", type=Path, help='JSON list of {"frame": i, "bbox": [x, y, w, h]}')
    parser.add_argument("--model", default="tar-vitpose-demo", help="a temporal model (see above)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for tracks.json, the keypoints per track (default: a new temporary folder)")
    parser.add_argument("--render", type=Path, default=None, help="also write an overlay video")
    args = parser.parse_args(argv)

    boxes_of_frame: dict[int, list[list[float]]] = defaultdict(list)
    for record in json.loads(args.boxes.read_text()):
        boxes_of_frame[int(record["frame"])].append([float(v) for v in record["bbox"]])

    predictor = StreamingPredictor(tarpose.load_model(args.model))  # centred window
    tracker = ByteTracker()
    tracks: dict[int, list[dict]] = defaultdict(list)  # track id -> one record per frame it is in
    waiting = {}  # frame index -> frame, until its poses come out (two frames later) to be drawn
    with VideoReader(args.video) as reader, (
        VideoWriter(args.render, fps=reader.fps) if args.render else contextlib.nullcontext()
    ) as writer:  # a failed run leaves no partial video
        for index, frame in enumerate(reader):
            if args.max_frames is not None and index >= args.max_frames:
                break
            waiting[index] = frame
            boxes = torch.tensor(boxes_of_frame[index], dtype=torch.float64).reshape(-1, 4)
            ids = tracker.update(boxes)  # a track id per box (None: not tracked)
            kept = [i for i, track in enumerate(ids) if track is not None]
            for poses in predictor.push(frame, boxes[kept], [ids[i] for i in kept]):  # windows now complete
                collect(poses, tracks, waiting.pop(poses.index), writer)
        for poses in predictor.flush():  # the last frames: missing future frames are masked out
            collect(poses, tracks, waiting.pop(poses.index), writer)

    for track_id, records in sorted(tracks.items()):
        first, last = records[0]["frame"], records[-1]["frame"]
        keypoints = torch.zeros(last - first + 1, 17, 2)  # (F, J, 2), frames first..last
        present = torch.zeros(last - first + 1, dtype=torch.bool)  # (F,): gaps are not bridged
        for r in records:
            keypoints[r["frame"] - first] = torch.tensor([kp[:2] for kp in r["keypoints"]])
            present[r["frame"] - first] = True
        score = sum(r["score"] for r in records) / len(records)
        steadiness = f"jitter {jitter(keypoints, present):.2f} px/frame^2" if len(records) >= 3 else "too short"
        print(f"track {track_id}: frames {first}..{last} ({len(records)}), mean score {score:.3f}, {steadiness}")
    out = Path(tempfile.mkdtemp(prefix="tarpose-stream-")) if args.out is None else args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracks.json").write_text(json.dumps({str(k): v for k, v in sorted(tracks.items())}) + "\n")
    print(f"wrote {out / 'tracks.json'}" + (f" and {args.render}" if args.render else ""))


def collect(poses, tracks: dict[int, list[dict]], frame, writer) -> None:
    """File one frame's poses under their tracks; draw them on ``frame`` if rendering."""
    for record in poses.records():
        tracks[record["track_id"]].append(record)
    if writer is not None:
        writer.write(draw_poses(frame, poses))


if __name__ == "__main__":
    main()

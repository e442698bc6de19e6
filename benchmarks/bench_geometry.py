"""Keypoints as the checkpoint was trained: tarpose's heatmap decoding and geometry against
transformers', before and after (issue 16).

    python benchmarks/bench_geometry.py                     # this checkout
    python benchmarks/bench_geometry.py --before f7243a9    # and a git revision, side by side

1. DARK on Gaussian heatmaps (64x48, sigma 2) whose sub-pixel peaks are known, by the peak's
   distance to the nearest border (pixel centres; 400 peaks a band), without noise and with
   additive Gaussian noise of 0.02 (the peak is 1): mean error in heatmap pixels of the argmax,
   of tarpose's DARK and of transformers' (``post_dark_unbiased_data_processing``, kernel 11).
2. transformers' pipeline on real frames: the bundled ``vitpose-demo`` copied into a stock
   transformers ``VitPoseForPoseEstimation`` and written by its ``save_pretrained`` (a UDP
   checkpoint as far as both libraries know), 30 frames of ``../shared/data/vtest.avi`` with the
   boxes of ``tests/data/vtest_boxes.json`` (105 boxes, 1785 joints). tarpose loads the directory
   (``tarpose.load_model``) and runs ``StreamingPredictor``; transformers runs ``VitPoseImageProcessor``
   -> the model -> ``post_process_pose_estimation`` (DARK), or its own argmax + ``transform_preds``.
   Mean and max distance between the two libraries' keypoints (image pixels), on the uint8
   frames as decoded, and on float32 frames inside an 80-pixel black margin (transformers then
   neither rounds its crops to uint8 nor reaches the frame's edge, where its SciPy warp and
   OpenCV's differ). Keypoints of a revision from before the pixel convention (continuous
   coordinates) are moved by -0.5 px, their documented offset.

Runs on one thread; needs transformers, scipy, pillow and PyAV (part 2).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANDS = ((0, 1), (1, 3), (3, 6), (6, 99))
NOISES = (0.0, 0.02)
MARGIN = 80


def _new_convention(tarpose) -> bool:
    """Pixel-index coordinates (this issue) rather than the earlier continuous ones."""
    return hasattr(tarpose.geometry, "GEOMETRIES")


def measure_dark() -> dict:
    import torch
    from transformers.models.vitpose.image_processing_pil_vitpose import (
        get_keypoint_predictions,
        post_dark_unbiased_data_processing,
    )

    import tarpose
    import tarpose.geometry
    from tarpose.codec import decode_heatmaps

    offset = 0.0 if _new_convention(tarpose) else 0.5
    h, w, sigma = 64, 48, 2.0
    gen = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")

    def peaks(lo: float, hi: float, n: int = 400) -> torch.Tensor:
        out = []
        while sum(len(o) for o in out) < n:
            p = torch.rand(4 * n, 2, generator=gen, dtype=torch.float64) * torch.tensor([w - 1.0, h - 1.0])
            d = torch.minimum(torch.minimum(p[:, 0], w - 1 - p[:, 0]), torch.minimum(p[:, 1], h - 1 - p[:, 1]))
            out.append(p[(d >= lo) & (d < hi)])
        return torch.cat(out)[:n]

    rows = {}
    for noise in NOISES:
        for lo, hi in BANDS:
            p = peaks(lo, hi)
            heat = torch.exp(-((xs - p[:, 0, None, None]) ** 2 + (ys - p[:, 1, None, None]) ** 2) / (2 * sigma**2))
            heat = (heat + noise * torch.randn(heat.shape, generator=gen, dtype=heat.dtype))[None].float()
            def error(c, p=p) -> float:
                return float((torch.as_tensor(c).double().reshape(-1, 2) - p).norm(dim=-1).mean())

            start, _ = get_keypoint_predictions(heat.double().numpy())
            rows[f"{noise} {lo}-{hi}"] = {
                "argmax": error(decode_heatmaps(heat, refine="none")[0] - offset),
                "tarpose DARK": error(decode_heatmaps(heat, refine="dark")[0] - offset),
                "transformers DARK": error(post_dark_unbiased_data_processing(start.copy(), heat.double().numpy(), kernel=11)),
            }
    return rows


def measure_pipeline() -> dict:
    import numpy as np
    import torch
    import transformers
    from transformers.models.vitpose import image_processing_pil_vitpose as processing

    import tarpose
    import tarpose.geometry
    from tarpose.inference import StreamingPredictor
    from tarpose.inference.source import runnable_model
    from tarpose.io import read_video

    spec = importlib.util.spec_from_file_location("pipeline_test", ROOT / "tests" / "test_transformers_pipeline.py")
    sys.path.insert(0, str(ROOT / "tests"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    offset = 0.0 if _new_convention(tarpose) else 0.5
    records = json.loads((ROOT / "tests" / "data" / "vtest_boxes.json").read_text())
    frames = list(read_video(ROOT.parent / "shared" / "data" / "vtest.avi", max_frames=30)[0])
    boxes = [[r["bbox"] for r in records if r["frame"] == t] for t in range(len(frames))]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        module.demo_as_transformers(Path(tmp) / "vitpose")
        hf = transformers.VitPoseForPoseEstimation.from_pretrained(Path(tmp) / "vitpose").eval()
        model = runnable_model(Path(tmp) / "vitpose")
        processor = processing.VitPoseImageProcessorPil(size={"height": 128, "width": 96})
        settings = {
            "uint8 frames": (frames, boxes),
            "float32 frames, black margin": (
                [np.pad(f, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0))).astype(np.float32) for f in frames],
                [[[x + MARGIN, y + MARGIN, bw, bh] for x, y, bw, bh in b] for b in boxes],
            ),
        }
        for setting, (images, image_boxes) in settings.items():
            theirs = {"dark": [], "none": []}
            with torch.no_grad():
                for image, frame_boxes in zip(images, image_boxes):
                    inputs = processor(images=[image], boxes=[frame_boxes], return_tensors="pt")
                    output = hf(inputs.pixel_values)
                    result = processor.post_process_pose_estimation(output, boxes=[frame_boxes])
                    theirs["dark"] += [r["keypoints"].double() for r in result[0]]
                    coords, _ = processing.get_keypoint_predictions(output.heatmaps.numpy())
                    for box, c in zip(frame_boxes, coords):
                        center, scale = processing.box_to_center_and_scale(box, image_width=96, image_height=128)
                        theirs["none"].append(torch.from_numpy(processing.transform_preds(c, center, scale, [32, 24])))
            for refine in ("dark", "none"):
                if setting != "uint8 frames" and refine == "dark":
                    continue
                predictor = StreamingPredictor(model, refine=refine)
                poses = predictor.run(
                    (np.ascontiguousarray(f.round().astype(np.uint8)) if f.dtype != np.uint8 else f, b, list(range(len(b))))
                    for f, b in zip(images, image_boxes)
                )
                ours = torch.cat([p.keypoints for p in poses]) - offset
                distance = (ours - torch.stack(theirs[refine])).norm(dim=-1)
                name = f"{setting}, {'DARK' if refine == 'dark' else 'argmax'}"
                out[name] = {"mean": float(distance.mean()), "max": float(distance.max()), "joints": distance.numel()}
    return out


def measure(parts: list[str]) -> dict:
    import torch

    torch.set_num_threads(1)
    import tarpose

    result = {"tarpose": str(Path(tarpose.__file__).parent)}
    if "dark" in parts:
        result["dark"] = measure_dark()
    if "pipeline" in parts:
        result["pipeline"] = measure_pipeline()
    return result


def measure_revision(revision: str, parts: list[str]) -> dict:
    """The same measurement with the tarpose package of a git revision (in a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "tarpose"], capture_output=True, check=True)
        path = Path(tmp) / "code.tar"
        path.write_bytes(archive.stdout)
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp, "OMP_NUM_THREADS": "1"}
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, "--measure-only", "--parts", *parts, "--json", str(out)],
                       env=env, check=True)
        return json.loads(out.read_text())


def report(results: dict[str, dict]) -> str:
    lines = []
    names = list(results)
    if any("dark" in r for r in results.values()):
        lines.append("DARK on Gaussian peaks (64x48, sigma 2), mean error in heatmap px, by distance to the border:")
        header = f"{'noise':>6} {'band':>6}"
        keys = ["argmax", "transformers DARK"] + [f"tarpose, {n}" for n in names]
        lines.append(header + "".join(f"{k:>26}" for k in keys))
        first = results[names[-1]]["dark"]
        for row in first:
            noise, band = row.split()
            values = [first[row]["argmax"], first[row]["transformers DARK"]]
            values += [results[n]["dark"][row]["tarpose DARK"] for n in names]
            lines.append(f"{noise:>6} {band:>6}" + "".join(f"{v:>26.3f}" for v in values))
    if any("pipeline" in r for r in results.values()):
        lines.append("")
        lines.append("tarpose vs transformers' pipeline, vitpose-demo in a transformers checkpoint, 30 frames of "
                     "vtest.avi, 1785 joints: distance in image px, mean / max")
        rows = list(results[names[-1]]["pipeline"])
        lines.append(f"{'':<42}" + "".join(f"{n:>22}" for n in names))
        for row in rows:
            cells = []
            for n in names:
                r = results[n]["pipeline"].get(row)
                cells.append(f"{r['mean']:.3f} / {r['max']:.2f}" if r else "-")
            lines.append(f"{row:<42}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="also measure the tarpose of this git revision")
    parser.add_argument("--parts", nargs="+", default=["dark", "pipeline"], choices=["dark", "pipeline"])
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_only:  # one tarpose, the one on sys.path
        result = measure(args.parts)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        return result
    sys.path.insert(0, str(ROOT))
    results = {}
    if args.before:
        results[f"before {args.before}"] = measure_revision(args.before, args.parts)
    results["this checkout"] = measure(args.parts)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()

"""PoseTrack18/21 (and converted PoseTrack17) as windowed top-down samples.

One sample per annotated person (or per detected box): frames ``t-T .. t+T`` of the person's video
cropped with ONE affine map built from frame ``t``'s box, with one shared augmentation, plus the
Gaussian heatmap targets of frame ``t``, in the SAMPLE FORMAT of [tarpose.data][tarpose.data].

Layout (the official one): ``root/images/<split>/<video>/000000.jpg`` and one JSON per video in
``root/annotations/<split>/``; ``file_name`` entries are relative to ``root``. Frame numbers come
from the file names; neighbours that the JSON does not list are found by name (same folder, same
zero padding), numbered ``0 .. nframes-1`` (the PoseTrack18 convention). Reading images needs
Pillow (``pip install "tarpose[data]"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..codec import gaussian_targets, heatmap_matrices
from ..geometry import (
    apply_affine,
    box_to_center_scale,
    check_geometry,
    crop_matrices,
    invert_affine,
    normalize_images,
    warp_crops,
)
from ..keypoints import COCO_UPPER_BODY, flip_permutation
from ..window import Window
from . import register_dataset
from .posetrack_format import (
    POSETRACK_FLIP_PAIRS,
    POSETRACK_KEYPOINTS,
    convert_posetrack17,
    load_posetrack,
    posetrack_files,
)

__all__ = ["Augmentation", "PoseTrackDataset", "convert_posetrack17", "read_image_region"]


@dataclass(frozen=True)
class Augmentation:
    """Training augmentation, drawn once per sample and shared by all frames of its window
    (defaults: the reference TAR-ViTPose training). Probabilities in ``[0, 1]``."""

    flip: float = 0.5  #: horizontal flip (left/right joints swapped)
    half_body: float = 0.3  #: crop the upper or the lower body only
    half_body_min_joints: int = 8  #: ... when more joints than this are labelled
    scale: float = 0.35  #: region size x clip(1 + scale * N(0, 1), 1 - scale, 1 + scale)
    rotation: float = 45.0  #: degrees: clip(rotation * N(0, 1), -2 rotation, 2 rotation) ...
    rotation_prob: float = 0.6  #: ... with this probability, else 0


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            'reading PoseTrack images needs Pillow: pip install "tarpose[data]"'
        ) from error
    return Image


def read_image_region(
    path: str | Path, matrix: Tensor, output_size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """Decode only the part of an image that a crop needs.

    Args:
        path: an image file (JPEG, PNG, ...).
        matrix: ``(2, 3)`` image -> crop affine map.
        output_size: the crop ``(H, W)``.

    Returns:
        uint8 RGB ``(3, h', w')`` covering the crop's region plus a 2-pixel margin (zeros outside
        the image) and its ``(2, 3)`` region -> crop map: warping it gives exactly the crop of the
        whole image ([tarpose.geometry.warp_crops][tarpose.geometry.warp_crops]).
    """
    image_module = _pillow()
    out_h, out_w = output_size
    inverse = invert_affine(matrix[None].to(torch.float64))[0].numpy()  # crop -> image
    left, top, right, bottom = -0.5, -0.5, out_w - 0.5, out_h - 0.5  # the crop's outer pixel edges
    corners = np.array([[left, top, 1.0], [right, top, 1.0], [left, bottom, 1.0], [right, bottom, 1.0]])
    region = corners @ inverse.T  # (4, 2): the crop's outer corners in the image
    x0, y0 = (math.floor(v) - 2 for v in region.min(0))
    x1, y1 = (math.ceil(v) + 2 for v in region.max(0))
    with image_module.open(path) as image:
        pixels = np.asarray(image.convert("RGB").crop((x0, y0, x1, y1)))  # zeros outside the image
    shifted = matrix.to(torch.float64).clone()
    shifted[:, 2] += shifted[:, :2] @ torch.tensor([x0, y0], dtype=torch.float64)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1), shifted


@dataclass
class _Video:
    folder: str  # file_name's folder, relative to root
    files: dict[int, str]  # frame number -> file_name, as listed
    nframes: int = 0  # as the file says (0: unknown)
    first: int = 0
    last: int = 0

    def file(self, frame: int, like: str) -> str:
        if frame in self.files:
            return self.files[frame]
        stem, suffix = Path(like).stem, Path(like).suffix
        return str(Path(self.folder) / f"{frame:0{len(stem)}d}{suffix}")


@dataclass
class _Record:
    video: str
    frame: int
    file_name: str
    image_id: int
    box: tuple[float, float, float, float]  # x, y, w, h
    keypoints: np.ndarray  # (17, 2)
    visible: np.ndarray  # (17,) float 0/1
    annotation_id: int = -1
    track_id: int = -1
    score: float = 1.0


def _frame_number(file_name: str) -> int:
    stem = Path(file_name).stem.split("_")[0]
    if not stem.isdigit():
        raise ValueError(
            f"cannot read a frame number from {file_name!r} (PoseTrack names frames 000000.jpg, ...)"
        )
    return int(stem)


@register_dataset("posetrack")
class PoseTrackDataset(Dataset):
    """PoseTrack windows, one sample per annotated person (or per detection).

    Args:
        annotations: a directory of per-video JSON files, or one JSON file (PoseTrack18/21, or
            PoseTrack17 ``annolist`` files, converted on load).
        root: the folder the ``file_name`` entries are relative to; by default the nearest parent
            of ``annotations`` that holds the first listed frame.
        num_frames: window length (odd for ``target="centred"``).
        target: ``"centred"`` (frames t-T..t+T, T = num_frames // 2) or ``"last"``
            (t-num_frames+1..t), see [tarpose.Window][tarpose.Window].
        input_size: crop ``(H, W)``; heatmaps are ``input_size / heatmap_stride``.
        sigma: Gaussian target sigma in heatmap pixels ([tarpose.codec.gaussian_targets][tarpose.codec.gaussian_targets]).
        unbiased: Gaussians centred at the exact sub-pixel keypoint (see the codec).
        padding: box enlargement ([tarpose.geometry.box_to_center_scale][tarpose.geometry.box_to_center_scale]).
        geometry: how crops and heatmaps lie over the boxes ([tarpose.geometry][tarpose.geometry]): the
            geometry of the model to train (``"udp"`` for ViTPose weights).
        augment: an [Augmentation][tarpose.data.posetrack.Augmentation] (``True`` = the defaults), or None for none.
        detections: optional COCO-style detection results (``[{"image_id", "bbox", "score"}]``, a
            path or list): samples come from these boxes instead of the annotations (targets are
            then zero), as for the PoseTrack protocol with detected boxes.
        min_score: detections below this score are skipped.
        missing_frames: ``"error"`` (a neighbour frame file that does not exist raises
            FileNotFoundError) or ``"invalid"`` (it is replaced by frame t and marked invalid).

    Ground-truth boxes are clipped to the image, as in the reference training; people without
    labelled joints are skipped. ``frame_valid`` is False for frames clamped at the video's ends
    (duplicates of the first or last frame) and for missing ones.
    """

    def __init__(
        self,
        annotations: str | Path,
        root: str | Path | None = None,
        *,
        num_frames: int = 5,
        target: str = "centred",
        input_size: tuple[int, int] = (256, 192),
        heatmap_stride: int = 4,
        sigma: float = 2.0,
        unbiased: bool = True,
        padding: float = 1.25,
        geometry: str = "udp",
        augment: Augmentation | bool | None = None,
        detections: str | Path | Sequence[dict] | None = None,
        min_score: float = 0.0,
        missing_frames: str = "error",
    ) -> None:
        self.window = Window(num_frames, target)
        if missing_frames not in ("error", "invalid"):
            raise ValueError(f"missing_frames must be 'error' or 'invalid', got {missing_frames!r}")
        h, w = input_size
        if h % heatmap_stride or w % heatmap_stride:
            raise ValueError(
                f"input_size {input_size} must be divisible by heatmap_stride {heatmap_stride}"
            )
        self.num_frames, self.target, self.input_size = num_frames, self.window.target, (int(h), int(w))
        self.heatmap_size = (h // heatmap_stride, w // heatmap_stride)
        self.sigma, self.unbiased, self.padding = sigma, unbiased, padding
        self.geometry = check_geometry(geometry)
        self.augment = Augmentation() if augment is True else (augment or None)
        self.missing_frames = missing_frames
        self.flip_perm = flip_permutation(len(POSETRACK_KEYPOINTS), POSETRACK_FLIP_PAIRS)
        self.offsets = list(self.window.offsets)

        files = posetrack_files(annotations)
        self.videos: dict[str, _Video] = {}
        images: dict[int, tuple[dict, str]] = {}  # image id -> (image, video key)
        people: list[tuple[dict, dict]] = []
        for file in files:
            data = load_posetrack(file)
            for image in data["images"]:
                key = str(Path(image["file_name"]).parent)
                video = self.videos.setdefault(key, _Video(key, {}))
                video.files[_frame_number(image["file_name"])] = image["file_name"]
                video.nframes = max(video.nframes, int(image.get("nframes", 0)))
                images[image["id"]] = (image, key)
            people += [
                (a, images[a["image_id"]][0])
                for a in data["annotations"]
                if a.get("image_id") in images
            ]
        for video in self.videos.values():
            listed = sorted(video.files)
            nframes = video.nframes or len(listed)
            if len(listed) >= nframes:
                video.first, video.last = listed[0], listed[-1]
            else:  # only some frames listed: PoseTrack18 numbering 0 .. nframes-1
                video.first, video.last = 0, max(nframes - 1, listed[-1])
        self.root = Path(root) if root is not None else self._find_root(Path(annotations), images)

        self.records: list[_Record] = []
        if detections is None:
            for ann, image in people:
                self._add_person(ann, image)
        else:
            self._add_detections(detections, images, min_score)

    # --------------------------------------------------------------------------- loading

    @staticmethod
    def _find_root(annotations: Path, images: dict) -> Path:
        if not images:
            raise ValueError(f"{annotations} lists no images")
        first = next(iter(images.values()))[0]["file_name"]
        for parent in annotations.resolve().parents:
            if (parent / first).is_file():
                return parent
        raise ValueError(
            f"cannot find {first} above {annotations}: pass root= (the folder file_name is relative to)"
        )

    def _add_person(self, ann: dict, image: dict) -> None:
        kp = np.asarray(ann.get("keypoints", []), np.float64)
        if kp.size != 3 * len(POSETRACK_KEYPOINTS):
            raise ValueError(
                f"annotation {ann.get('id')} has {kp.size} keypoint numbers, expected {3 * len(POSETRACK_KEYPOINTS)}"
            )
        kp = kp.reshape(-1, 3)
        visible = (kp[:, 2] > 0).astype(np.float32)
        if not visible.any():
            return
        if "bbox" in ann:
            x, y, w, h = (float(v) for v in ann["bbox"])
        else:  # the labelled joints' extent, enlarged 1.3x (poseval's box for PoseTrack17 people)
            pts = kp[visible > 0, :2]
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            x, y, w, h = (
                (x0 + x1) / 2 - 0.65 * (x1 - x0),
                (y0 + y1) / 2 - 0.65 * (y1 - y0),
                1.3 * (x1 - x0),
                1.3 * (y1 - y0),
            )
        if "width" in image and "height" in image:  # clip to the image, as the reference training
            x1, y1 = (
                min(image["width"] - 1, max(0.0, x) + max(0.0, w - 1)),
                min(image["height"] - 1, max(0.0, y) + max(0.0, h - 1)),
            )
            x, y = max(0.0, x), max(0.0, y)
            w, h = x1 - x, y1 - y
        if w <= 0 or h <= 0:
            return
        key = str(Path(image["file_name"]).parent)
        self.records.append(
            _Record(
                key,
                _frame_number(image["file_name"]),
                image["file_name"],
                int(image["id"]),
                (x, y, w, h),
                kp[:, :2].copy(),
                visible,
                int(ann.get("id", -1)),
                int(ann.get("track_id", -1)),
            )
        )

    def _add_detections(self, detections, images: dict, min_score: float) -> None:
        if isinstance(detections, (str, Path)):
            import json

            with open(detections) as f:
                detections = json.load(f)
        if not isinstance(detections, list):
            raise TypeError(
                "detections must be a list of {'image_id', 'bbox', 'score'} (COCO results)"
            )
        self.skipped_detections = 0
        for det in detections:
            if det.get("image_id") not in images:
                self.skipped_detections += 1
                continue
            if float(det.get("score", 1.0)) < min_score or det.get("category_id", 1) != 1:
                continue
            image, key = images[det["image_id"]]
            x, y, w, h = (float(v) for v in det["bbox"])
            if w <= 0 or h <= 0:
                continue
            self.records.append(
                _Record(
                    key,
                    _frame_number(image["file_name"]),
                    image["file_name"],
                    int(image["id"]),
                    (x, y, w, h),
                    np.zeros((len(POSETRACK_KEYPOINTS), 2)),
                    np.zeros(len(POSETRACK_KEYPOINTS), np.float32),
                    score=float(det.get("score", 1.0)),
                )
            )
        if not self.records:
            raise ValueError("no detection matched an image of the annotations (check image_id)")

    # --------------------------------------------------------------------------- samples

    def __len__(self) -> int:
        return len(self.records)

    def _region(self, rec: _Record) -> tuple[Tensor, Tensor, float, bool]:
        """Region centre (2,), size (2,), rotation and flip of one sample."""
        h, w = self.input_size
        center, scale = box_to_center_scale(torch.tensor([rec.box]), w / h, self.padding)
        center, scale = center[0], scale[0]
        rotation, flip = 0.0, False
        aug = self.augment
        if aug is None:
            return center, scale, rotation, flip
        labelled = np.flatnonzero(rec.visible > 0)
        if len(labelled) > aug.half_body_min_joints and torch.rand(()) < aug.half_body:
            upper = [j for j in labelled if j in COCO_UPPER_BODY]
            lower = [j for j in labelled if j not in COCO_UPPER_BODY]
            chosen = (
                upper if (torch.rand(()) < 0.5 and len(upper) > 2) or len(lower) <= 2 else lower
            )
            if len(chosen) >= 2:
                pts = rec.keypoints[chosen]
                (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
                center, scale = box_to_center_scale(
                    torch.tensor([[x0, y0, x1 - x0, y1 - y0]]), w / h, 1.5
                )
                center, scale = center[0], scale[0]
        factor = float(torch.randn(())) * aug.scale + 1
        scale = scale * min(max(factor, 1 - aug.scale), 1 + aug.scale)
        if torch.rand(()) < aug.rotation_prob:
            rotation = min(
                max(float(torch.randn(())) * aug.rotation, -2 * aug.rotation), 2 * aug.rotation
            )
        flip = bool(torch.rand(()) < aug.flip)
        return center, scale, rotation, flip

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        h, w = self.input_size
        center, scale, rotation, flip = self._region(rec)
        # (2, 3) image -> crop
        matrix = crop_matrices(center[None], scale[None], (h, w), rotation, self.geometry)[0]
        perm = list(range(len(POSETRACK_KEYPOINTS)))
        if flip:  # mirror the crop: column x -> W - 1 - x, and swap left/right labels
            mirror = torch.tensor([[-1.0, 0.0, w - 1], [0.0, 1.0, 0.0]], dtype=torch.float64)
            matrix = mirror[:, :2] @ matrix + torch.cat(
                [torch.zeros(2, 2, dtype=torch.float64), mirror[:, 2:]], 1
            )
            perm = self.flip_perm
        keypoints = torch.from_numpy(rec.keypoints[perm])  # (J, 2) image coordinates, target order
        visible = torch.from_numpy(rec.visible[perm])  # (J,)
        size, heatmap_size = self.input_size, self.heatmap_size
        to_heatmap = heatmap_matrices(matrix[None], size, heatmap_size, self.geometry)
        in_heatmap = apply_affine(keypoints[None], to_heatmap)  # (1, J, 2)
        target, weight = gaussian_targets(
            in_heatmap.float(),
            visible[None],
            self.heatmap_size,
            self.sigma,
            self.unbiased,
        )

        clip, valid = self._clip(rec, matrix)
        return {
            "clip": clip,  # (T, 3, H, W)
            "frame_valid": valid,  # (T,)
            "target": target[0],  # (J, h, w)
            "target_weight": weight[0],  # (J,)
            "keypoints": keypoints.float(),
            "visible": visible.float(),
            "matrix": matrix,
            "meta": {
                "video": rec.video,
                "frame": rec.frame,
                "image_id": rec.image_id,
                "file_name": rec.file_name,
                "annotation_id": rec.annotation_id,
                "track_id": rec.track_id,
                "score": rec.score,
                "flipped": flip,
                "rotation": rotation,
            },
        }

    def _clip(self, rec: _Record, matrix: Tensor) -> tuple[Tensor, Tensor]:
        video = self.videos[rec.video]
        index, inside = self.window.indices(rec.frame - video.first, video.last - video.first + 1)
        frames = (index + video.first).tolist()  # clamped to the video's first .. last frame
        valid = inside.tolist()
        crops: dict[int, Tensor] = {}
        for frame in frames:
            if frame in crops:
                continue
            path = self.root / video.file(frame, rec.file_name)
            if not path.is_file():
                if frame == rec.frame or self.missing_frames == "error":
                    hint = (
                        ""
                        if frame == rec.frame
                        else "; missing_frames='invalid' marks such frames invalid"
                    )
                    raise FileNotFoundError(
                        f"frame {path} (frame {frame} of {rec.video}, in the window of {rec.file_name}) does not exist{hint}"
                    )
                continue
            pixels, region_matrix = read_image_region(path, matrix, self.input_size)
            crops[frame] = warp_crops(
                pixels[None].float() / 255, region_matrix[None], self.input_size
            )[0]
        valid = [v and f in crops for f, v in zip(frames, valid)]
        clip = torch.stack([crops.get(f, crops[rec.frame]) for f in frames])  # (T, 3, H, W)
        return normalize_images(clip), torch.tensor(valid)

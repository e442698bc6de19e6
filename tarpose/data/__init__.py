"""Datasets of windowed top-down samples, and a registry of them.

Every dataset yields the same sample, a dict (collated by ``torch.utils.data.default_collate``):

``"clip"``
    float32 ``(T, 3, H, W)``: normalised crops of frames ``t-T .. t+T`` (or ``t-T+1 .. t`` for a
    ``target="last"`` window), all cropped with the target frame's box and one shared augmentation.
``"frame_valid"``
    bool ``(T,)``: False where the window ran past the video (the frame is a clamped duplicate or
    missing) and should be excluded from aggregation.
``"target"``
    float32 ``(J, h, w)``: Gaussian heatmap targets of the target frame.
``"target_weight"``
    float32 ``(J,)``: 0 for unlabelled / out-of-crop joints.
``"keypoints"``
    float32 ``(J, 2)``: the target frame's ground-truth keypoints in image coordinates.
``"visible"``
    float32 ``(J,)``: 1 where labelled.
``"matrix"``
    float64 ``(2, 3)``: image -> crop affine map of the target frame (:mod:`tarpose.geometry`).
``"meta"``
    dict of scalars/strings identifying the sample (video, frame, track/person ids, ...).

A single-frame model trains on the same samples with ``num_frames=1`` (or on ``clip[:, T // 2]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

_DATASETS: dict[str, Callable[..., Dataset]] = {}


def register_dataset(name: str) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering a dataset factory ``fn(**kwargs) -> Dataset`` under ``name``."""

    def decorate(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        _DATASETS[name] = fn
        return fn

    return decorate


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    _import_builtin()
    return sorted(_DATASETS)


def build_dataset(name: str, **kwargs: Any) -> Dataset:
    """Build a registered dataset, e.g. ``build_dataset("posetrack", root=..., split="val")``."""
    _import_builtin()
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS)) or 'none'}")
    return _DATASETS[name](**kwargs)


#: modules that register the built-in datasets when imported
_BUILTIN: tuple[str, ...] = ("tarpose.data.posetrack", "tarpose.data.synthetic")


def _import_builtin() -> None:
    import importlib

    for module in _BUILTIN:
        importlib.import_module(module)

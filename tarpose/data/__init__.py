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
    float64 ``(2, 3)``: image -> crop affine map of the target frame ([tarpose.geometry][tarpose.geometry]).
``"meta"``
    dict of scalars/strings identifying the sample (video, frame, track/person ids, ...).

A single-frame model trains on the same samples with ``num_frames=1`` (or on ``clip[:, T // 2]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from ..registry import Registry

#: dataset name -> factory ``fn(**kwargs) -> Dataset``
DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset", "or give module:factory")


def register_dataset(name: str) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering a dataset factory ``fn(**kwargs) -> Dataset`` under ``name``."""
    return DATASETS.register(name)  # type: ignore[return-value]


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    _import_builtin()
    return sorted(DATASETS.names())


def build_dataset(name: str, **kwargs: Any) -> Dataset:
    """Build a registered dataset, or call a factory named ``"module:function"``.

    ``build_dataset("posetrack", annotations=..., num_frames=5)``,
    ``build_dataset("my_module:make_dataset", size=8)``.

    Args:
        name: a registered name ([list_datasets][tarpose.data.list_datasets]) or ``"module:function"``.
        **kwargs: the dataset's options.

    Raises:
        ValueError: an unknown name, a module that cannot be imported or has no such callable.
        TypeError: options the dataset does not take (the message names them).
    """
    if ":" in name:
        return _from_module(name, kwargs)
    _import_builtin()
    factory = DATASETS.get(name)
    try:
        return factory(**kwargs)
    except TypeError as error:
        raise TypeError(f"dataset {name!r} rejected the options {kwargs}: {error}") from None


def _from_module(spec: str, kwargs: dict[str, Any]) -> Dataset:
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import the dataset module {module_name!r}: {error}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"module {module_name!r} has no callable {attr!r}")
    try:
        return factory(**kwargs)
    except TypeError as error:
        raise TypeError(f"{spec} rejected the options {kwargs}: {error}") from None


#: modules that register the built-in datasets when imported
_BUILTIN: tuple[str, ...] = ("tarpose.data.posetrack", "tarpose.data.synthetic")


def _import_builtin() -> None:
    import importlib

    for module in _BUILTIN:
        importlib.import_module(module)

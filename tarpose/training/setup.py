"""Setting up a run from names: the model to train (new, continued or wrapped) and checks that
the data fits it. ``tarpose train`` is this, [train][tarpose.training.train] and its argument
parsing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from ..factory import create_model, probe_model, wrap
from ..models.options import ModelOptions
from ..models.temporal import TemporalWrapper
from ..weights.load import build_model, read_remapped


def check_sample(dataset: Any, what: str = "dataset") -> tuple[int, int]:
    """``(T, J)`` of the first sample: the window length and the number of joints.

    Args:
        dataset: yields samples in the sample format of ``tarpose.data``.
        what: how to name the dataset in messages.

    Raises:
        ValueError: an empty dataset, or samples without ``clip`` / ``target`` /
            ``target_weight`` of the right ranks.
    """
    if len(dataset) == 0:
        raise ValueError(f"the {what} is empty")
    sample = dataset[0]
    missing = [
        k for k in ("clip", "target", "target_weight") if not isinstance(sample, dict) or k not in sample
    ]
    if missing:
        raise ValueError(f"the {what}'s samples lack {missing} (see tarpose.data for the sample format)")
    clip, target = sample["clip"], sample["target"]
    if clip.ndim != 4 or target.ndim != 3:
        raise ValueError(
            f"the {what}'s clip must be (T, 3, H, W) and target (J, h, w), got {tuple(clip.shape)} "
            f"and {tuple(target.shape)}"
        )
    return int(clip.shape[0]), int(target.shape[0])


def dataset_in_geometry(
    dataset: Any, name: str, options: dict[str, Any], geometry: str, what: str = "dataset"
) -> Any:
    """The dataset, cropping and encoding targets in the model's geometry ([tarpose.geometry][tarpose.geometry]).

    Returned as it is when it already does (or has no ``geometry``), rebuilt with ``geometry=``
    when its options left it at its default.

    Args:
        dataset: built from ``name`` and ``options`` (``tarpose.data.build_dataset``).
        name: the registered dataset name or ``"module:function"``.
        options: the options it was built with.
        geometry: the model's (``model.data_config.geometry``).
        what: how to name the dataset in messages.

    Raises:
        ValueError: its options chose another geometry than the model's.
    """
    from ..data import build_dataset

    have = getattr(dataset, "geometry", None)
    if have is None or have == geometry:
        return dataset
    if "geometry" in options:
        raise ValueError(
            f"the {what} crops in the {have!r} geometry but the model was trained in {geometry!r}: "
            f"drop geometry= from its options, or build the model with --model-opt geometry={have}"
        )
    return build_dataset(name, **{**options, "geometry": geometry})


def training_model(
    name: str | None,
    options: dict[str, Any],
    *,
    num_frames: int,
    init_from: str | os.PathLike[str] | None = None,
    window: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The model to train and the spec recorded with the run (``{"name", "options"}``).

    - no ``init_from``: ``create_model(name, **options)``;
    - ``init_from`` a run (or any saved model) of ``name``: that model, to train further
      (``options`` may change what does not change the weights' shapes, e.g. ``num_frames``);
    - ``init_from`` a run of ``X`` and ``name = "tar-X"``: the trained ``X`` wrapped in fresh
      JTA/GRA modules (``tarpose.wrap``); ``options`` may only hold TARConfig fields.

    A temporal model's window is ``window`` if given, else the one in ``options``, else the
    dataset's, and must equal the dataset's.

    Args:
        name: a registered name; with ``init_from``, default: the saved model's.
        options: config overrides.
        num_frames: the window length T of the dataset's samples.
        init_from: a directory ``save_pretrained`` / ``tarpose train`` wrote.
        window: the window length asked for (``tarpose train --num-frames``).

    Raises:
        ValueError: the model and the data disagree, or names and options that do not fit.
        FileNotFoundError: ``init_from`` does not exist.
    """
    options = dict(options)
    if init_from is None:
        if name is None:
            raise ValueError("give --model NAME (see `tarpose models`) or --init-from DIR")
        temporal = isinstance(_probe(name, options), TemporalWrapper)
        options = _with_window(options, temporal, name, num_frames, window)
        return _create(name, options), {"name": name, "options": options}
    if not Path(init_from).exists():
        raise FileNotFoundError(f"no trained model at {init_from}")
    remapped, source = read_remapped(init_from)
    saved = remapped.name
    name = name or saved
    if name is None:
        raise ValueError(f"{init_from} does not say which registered model it is: give --model NAME")
    saved_temporal = remapped.temporal is not None
    temporal = isinstance(_probe(name, options), TemporalWrapper)
    if temporal and not saved_temporal and (saved is None or name == f"tar-{saved}"):
        base = _route(name, options).vitpose
        if base:
            raise ValueError(f"--model-opt {sorted(base)} would change the architecture given by --init-from")
        options = _with_window(options, True, name, num_frames, window)
        model = wrap(name, build_model(remapped, ModelOptions(), source=source), **options)
        return model.train(), {"name": name, "options": options}
    if saved is not None and name != saved or temporal != saved_temporal:
        held = repr(saved) if saved else "single-frame" if not saved_temporal else "temporal"
        raise ValueError(
            f"--init-from holds a {held} model: train it as --model {saved or 'NAME'}"
            + (f" or wrap it as --model tar-{saved}" if saved and not saved_temporal else "")
        )
    options = _with_window(options, temporal, name, num_frames, window)
    try:
        model = build_model(remapped, _route(name, options), source=source)
    except (TypeError, ValueError) as error:
        raise ValueError(f"--init-from {init_from} does not fit {name!r} with {options}: {error}") from None
    return model.train(), {"name": name, "options": options}


def _route(name: str, options: dict[str, Any]) -> ModelOptions:
    try:
        return ModelOptions.route(options)
    except TypeError as error:
        raise ValueError(f"cannot build {name!r} with {options}: {error}") from None


def _probe(name: str, options: dict[str, Any]) -> nn.Module:
    try:
        return probe_model(name, **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build {name!r} with {options}: {error}") from None


def _create(name: str, options: dict[str, Any]) -> nn.Module:
    try:
        return create_model(name, **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build {name!r} with {options}: {error}") from None


def _with_window(
    options: dict[str, Any], temporal: bool, name: str, num_frames: int, window: int | None
) -> dict[str, Any]:
    if not temporal:
        if window is not None:
            raise ValueError(f"--num-frames applies to temporal models; {name!r} is single-frame")
        return options
    wanted = window or options.get("num_frames") or num_frames
    if wanted != num_frames:
        raise ValueError(
            f"the model would take windows of {wanted} frames but the dataset's clips have "
            f"T={num_frames} frames (set the dataset's window, or --num-frames {num_frames})"
        )
    return {**options, "num_frames": wanted}

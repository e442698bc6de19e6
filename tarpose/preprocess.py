"""Preprocessing read from the model's config, as timm's ``resolve_data_config`` does.

Every tarpose model carries a [DataConfig][tarpose.preprocess.DataConfig] (``model.data_config``): the crop size it was
built for, the pixel normalisation its weights expect and the geometry they were trained in (how
crops and heatmaps lie over a person's box, [tarpose.geometry][tarpose.geometry]). ``save_pretrained`` writes it into
``config.json`` (``"data"``), [tarpose.load_model][tarpose.load_model] and ``create_model(...,
pretrained=True)`` put it back, and everything that makes crops (the streaming predictor,
``tarpose predict``, ONNX export, the demo, ``tarpose train``'s datasets) asks
[resolve_data_config][tarpose.preprocess.resolve_data_config] instead of guessing.

Adding a preprocessing option is one field of [DataConfig][tarpose.preprocess.DataConfig] with a default: it is then
saved, loaded, overridable and resolved everywhere. Files written before a field existed load
with its default, except ``geometry``: tarpose files that record none load as ``"biased"``, the
geometry tarpose 0.1 trained and predicted in (`tarpose.weights.formats.tarpose`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from ._checks import Field, check_fields
from .geometry import GEOMETRIES, IMAGENET_MEAN, IMAGENET_STD, Geometry

#: what each [DataConfig][tarpose.preprocess.DataConfig] field may hold
DATA_SPECS: dict[str, Field] = {
    "input_size": Field(int, 1, 1 << 16, length=2, optional=True),
    "mean": Field(float, length=3),
    "std": Field(float, length=3),
    "geometry": Field(str, choices=GEOMETRIES),
}


@dataclass(frozen=True)
class DataConfig:
    """How the crops a model takes are made.

    Args:
        input_size: crop ``(H, W)`` in pixels; ``None`` when the model does not fix one.
        mean: RGB mean subtracted from pixels scaled to ``0..1``.
        std: RGB standard deviation the pixels are divided by.
        geometry: how crops and heatmaps lie over a person's box, as the weights were trained
            ([tarpose.geometry][tarpose.geometry]): ``"udp"`` (public ViTPose weights, new models),
            ``"biased"`` (tarpose 0.1's, the bundled demo models) or ``"hrnet"`` (the official
            TAR-ViTPose code). The loaders set it from the checkpoint's source.
    """

    input_size: tuple[int, int] | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    geometry: Geometry = "udp"

    def __post_init__(self) -> None:
        checked = check_fields(DATA_SPECS, self.__dict__, what="data config")
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values (tuples as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataConfig:
        """A config from [to_dict][tarpose.preprocess.DataConfig.to_dict]'s output; missing fields take their defaults.

        Args:
            values: field names and values.

        Raises:
            ValueError: a name that is not a field (a file written by a newer tarpose?).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown data config fields {unknown} (known: {sorted(known)}); was it written by "
                "a newer tarpose?"
            )
        return cls(**values)

    def replace(self, **changes: Any) -> DataConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: the fields a caller may set when building or loading a model (``input_size`` is the model's
#: ``input_size``)
DATA_OPTIONS: frozenset[str] = frozenset(f.name for f in fields(DataConfig)) - {"input_size"}


def split_data_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into [DataConfig][tarpose.DataConfig] fields (`DATA_OPTIONS`) and
    the rest (model config fields).

    Args:
        options: keyword options of ``create_model`` / ``load_model``.
    """
    data = {k: v for k, v in options.items() if k in DATA_OPTIONS}
    return data, {k: v for k, v in options.items() if k not in DATA_OPTIONS}


def resolve_data_config(model: Any = None, **overrides: Any) -> DataConfig:
    """The preprocessing to use for ``model``: its ``data_config``, with ``overrides`` applied.

    Args:
        model: a tarpose model (anything with a ``data_config``), or ``None`` for the defaults.
        **overrides: [DataConfig][tarpose.preprocess.DataConfig] fields; ``None`` values are ignored, so optional
            command-line or keyword arguments pass straight through.

    Returns:
        a [DataConfig][tarpose.preprocess.DataConfig] whose ``input_size`` is known.

    Raises:
        ValueError: the crop size is neither on the model nor given, or an unknown field.
    """
    base = getattr(model, "data_config", None) if model is not None else None
    if base is not None and not isinstance(base, DataConfig):
        raise TypeError(f"{type(model).__name__}.data_config must be a DataConfig, got {type(base).__name__}")
    config = base or DataConfig()
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in fields(DataConfig)})
    if unknown:
        raise TypeError(f"unknown data config fields {unknown}; known: {[f.name for f in fields(DataConfig)]}")
    config = config.replace(**given)
    if config.input_size is None:
        what = "no model" if model is None else f"{type(model).__name__} does not fix its crop size"
        raise ValueError(f"cannot tell the crop size ({what}): pass input_size=(H, W)")
    return config

"""Keyword options of a model, routed once to the config they belong to.

``create_model``, ``load_model``, ``wrap`` and ``tarpose train`` take one flat set of keyword
options; [ModelOptions.route][tarpose.models.options.ModelOptions.route] splits it at the entry
point into [ViTPoseConfig][tarpose.ViTPoseConfig] fields, [TARConfig][tarpose.TARConfig] fields and
[DataConfig][tarpose.DataConfig] fields, and the three travel down as one object. The names of the
three configs never collide (the temporal ones carry their module's prefix, ``jta_``, ``gra_``),
so each option has one meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..preprocess import DATA_OPTIONS
from .temporal import TAR_FIELDS
from .vitpose import ViTPoseConfig

#: the names of [ViTPoseConfig][tarpose.ViTPoseConfig]'s fields
VITPOSE_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ViTPoseConfig))


@dataclass(frozen=True)
class ModelOptions:
    """Options for the three parts of a model: changes to its configs, by field name.

    Attributes:
        vitpose: [ViTPoseConfig][tarpose.ViTPoseConfig] fields of the (base) ViTPose.
        temporal: [TARConfig][tarpose.TARConfig] fields of the temporal part.
        data: [DataConfig][tarpose.DataConfig] fields (``mean``, ``std``, ``geometry``; the crop
            size is the model's ``input_size``).
    """

    vitpose: dict[str, Any] = field(default_factory=dict)
    temporal: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def route(cls, options: dict[str, Any]) -> ModelOptions:
        """Split flat keyword ``options`` by the config that has each field.

        Args:
            options: keyword options (``jta_depth=4, input_size=(384, 288), geometry="udp"``).

        Raises:
            TypeError: a name no config has (the message lists what each takes).
        """
        unknown = sorted(set(options) - TAR_FIELDS - VITPOSE_FIELDS - DATA_OPTIONS)
        if unknown:
            raise TypeError(
                f"unknown options {unknown}; a model takes ViTPoseConfig fields {sorted(VITPOSE_FIELDS)}, "
                f"TARConfig fields {sorted(TAR_FIELDS)} (temporal models), DataConfig fields "
                f"{sorted(DATA_OPTIONS)}"
            )
        return cls(
            vitpose={k: v for k, v in options.items() if k in VITPOSE_FIELDS},
            temporal={k: v for k, v in options.items() if k in TAR_FIELDS},
            data={k: v for k, v in options.items() if k in DATA_OPTIONS},
        )

    def architecture(self) -> dict[str, Any]:
        """The ViTPoseConfig and TARConfig fields as one flat dict (what a registered model's
        factory takes)."""
        return {**self.vitpose, **self.temporal}

    def replace(self, **parts: dict[str, Any]) -> ModelOptions:
        """A copy with some parts replaced (``temporal={...}``)."""
        return ModelOptions(**{"vitpose": self.vitpose, "temporal": self.temporal, "data": self.data, **parts})

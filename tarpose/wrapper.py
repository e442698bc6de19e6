"""Deprecated location: the wrapper is in ``tarpose.models.temporal`` (``tarpose.TemporalWrapper``)."""

import warnings

from .models.temporal import TARConfig, TemporalOutput, TemporalWrapper, count_parameters

warnings.warn(
    "tarpose.wrapper is deprecated: import TemporalWrapper, TARConfig and TemporalOutput from "
    "tarpose, count_parameters from tarpose.models",
    DeprecationWarning, stacklevel=2,
)

__all__ = ["TARConfig", "TemporalOutput", "TemporalWrapper", "count_parameters"]

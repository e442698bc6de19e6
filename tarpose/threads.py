"""How many CPU threads PyTorch uses for a model: the caller's number, or a default by model size.

Small models (the demo models) are made of small operations that lose more to thread
synchronisation than they gain, and on a machine where another process is busy two OpenMP threads
fighting it for two cores run several times slower than one; larger models use PyTorch's own
default, one thread per core (docs/performance.md has the measurements).
"""

from __future__ import annotations

from typing import Any

import torch

#: models with fewer parameters than this run on one thread by default
SMALL_MODEL = 10_000_000
#: PyTorch's own default, read before anything here changes it
_TORCH_DEFAULT = torch.get_num_threads()


def default_threads(model: Any) -> int:
    """The default thread count for ``model``: 1 under ``SMALL_MODEL`` parameters, PyTorch's
    default otherwise (and for a model without ``parameters()``, e.g. an ONNX one)."""
    params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None
    return 1 if params is not None and params < SMALL_MODEL else _TORCH_DEFAULT


def apply_threads(threads: int | None, model: Any) -> int:
    """Set PyTorch's CPU threads for ``model``: ``threads``, or `default_threads`; returns them.

    Raises:
        ValueError: ``threads`` below 1.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    threads = default_threads(model) if threads is None else threads
    torch.set_num_threads(threads)
    return threads

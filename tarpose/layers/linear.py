"""Linear layers through weights laid out once for oneDNN, for CPU inference.

A linear layer is a matrix product with the weight; a BLAS call first lays the weight out in the
blocks its kernel reads, on every call. For the encoder's products (hundreds of rows per weight)
that copy is cheap beside the arithmetic; for JTA's (4 persons x 17 joints = 68 rows) it is not.
oneDNN can lay a weight out once and reuse it (``torch.ops.mkldnn._reorder_linear_weight``, what
``torch.compile``'s freezing does). ``linear`` does that for the calls
that allow it: float32 on a CPU that oneDNN serves (x86 with AVX2 or AVX-512), no gradient to
compute, not under autocast, ``torch.compile`` or ``torch.export``. Each laid-out weight is kept in
a cache keyed by the weight tensor (a slice of a parameter by the parameter and the slice) and
laid out again when the weight changes (its version counter or storage); it is freed with the
weight. Anything else goes to ``F.linear``. The results equal ``F.linear``'s to float rounding
(another summation order).

The cost: one more copy of each weight used this way (JTA's and GRA's, a few tens of MB at ViT-B
dims). ``set_packed_weights(False)`` turns it off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from .._checks import is_tracing

_enabled = True
_available: bool | None = None  # None: not yet checked
#: parameter -> {(storage offset, shape): (version, data pointer, laid-out weight)}
_cache: WeakIdKeyDictionary = WeakIdKeyDictionary()


def set_packed_weights(enabled: bool) -> bool:
    """Turn the laid-out weights on or off for the whole process; returns the previous setting.

    Args:
        enabled: use them where they apply (the default) or always call ``F.linear``.
    """
    global _enabled
    previous, _enabled = _enabled, bool(enabled)
    if not _enabled:
        _cache.clear()
    return previous


def packed_weights_apply(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> bool:
    """Whether ``linear`` uses a laid-out weight for these tensors."""
    if not _enabled or not _oneDNN_available():
        return False
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if any(t.device.type != "cpu" or t.dtype != torch.float32 or t.is_mkldnn for t in tensors):
        return False
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False
    return weight.ndim == 2 and not torch.is_autocast_enabled("cpu") and not is_tracing()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``: ``(..., in) -> (..., out)``, through a weight laid out once
    for oneDNN where that applies (see the module's docstring).

    Args:
        x: ``(..., in)``.
        weight: ``(out, in)``, a parameter or a slice of one.
        bias: ``(out,)`` or ``None``.
    """
    if not packed_weights_apply(x, weight, bias):
        return F.linear(x, weight, bias)
    return torch.ops.mkldnn._linear_pointwise(x, _packed(weight), bias, "none", [], "")


def linear_module(module: nn.Module, x: Tensor) -> Tensor:
    """``module(x)`` for a linear layer: a plain ``nn.Linear`` without hooks goes through
    ``linear``; anything else (a subclass, an adapter put in its place,
    hooks) is called as it is."""
    if type(module) is nn.Linear and not (module._forward_hooks or module._forward_pre_hooks):
        return linear(x, module.weight, module.bias)
    return module(x)


def _packed(weight: Tensor) -> Tensor:
    owner = weight if weight._base is None else weight._base
    key = (weight.storage_offset(), tuple(weight.shape), weight.stride())
    entries = _cache.setdefault(owner, {})
    state = (owner._version, owner.data_ptr())
    entry = entries.get(key)
    if entry is None or entry[0] != state:
        with torch.inference_mode(False), torch.no_grad():  # an ordinary tensor, usable outside
            packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous())
        entry = entries[key] = (state, packed)
    return entry[1]


def _oneDNN_available() -> bool:
    """oneDNN's linear with laid-out weights exists and serves this CPU well (x86 with AVX2 or
    AVX-512, where it was measured), checked once against ``F.linear``."""
    global _available
    if _available is None:
        _available = False
        capable = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
        if capable and torch.backends.mkldnn.is_available():
            try:
                g = torch.Generator().manual_seed(0)
                x, w, b = (torch.randn(shape, generator=g) for shape in ((3, 8), (5, 8), (5,)))
                packed = torch.ops.mkldnn._reorder_linear_weight(w)
                out = torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "")
                _available = bool(torch.allclose(out, F.linear(x, w, b), atol=1e-5, rtol=1e-5))
            except (AttributeError, RuntimeError, NotImplementedError):
                _available = False
    return _available and torch.backends.mkldnn.enabled

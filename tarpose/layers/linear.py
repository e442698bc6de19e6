"""Linear layers through weights laid out once for oneDNN, for CPU inference.

A BLAS call lays the weight matrix out in the blocks its kernel reads on every call. With the
encoder's hundreds of rows per weight that copy is small beside the arithmetic; with JTA's 68 rows
(4 persons x 17 joints) it is not. oneDNN can lay a weight out once and reuse the copy
(``torch.ops.mkldnn._reorder_linear_weight``, what ``torch.compile``'s freezing does): in our
timings 68-row products at ViT-S/B dims ran 1.1-1.3x faster, 768-row ones 1.1x. ``linear`` does
that where it applies: float32 on a CPU oneDNN serves (x86 with AVX2 or AVX-512), weights of at
least ``MIN_WEIGHT`` elements (ViT-S dims and up), no gradient to compute, not under autocast,
``torch.compile`` or ``torch.export``; anything else goes to ``F.linear``. Each laid-out copy is
kept in a cache keyed by the weight tensor (a slice of a parameter by the parameter and the slice),
made again when the weight changes (its version counter or storage) and freed with it. The results
equal ``F.linear``'s to float rounding (another summation order).

The cost: a second copy of each weight used this way (JTA's, GRA's and the heatmap embedding's:
about 40 MB at ViT-S dims, 150 MB at ViT-B). ``set_packed_weights(False)`` turns it off.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import is_tracing

_enabled = True
#: weights smaller than this (elements) go to ``F.linear``: oneDNN's call costs about 10 us more
#: than a BLAS call, more than laying out a small weight saves (a 384 x 384 weight saves about 20 us
#: a call at 68 rows; measured on an AMD EPYC, AVX-512)
MIN_WEIGHT = 1 << 17
_available: bool | None = None  # None: not yet checked
#: id(parameter) -> (a weak reference to it, {(storage offset, shape, strides): ((version, data
#: pointer), laid-out weight)}); an entry leaves with its parameter
_cache: dict[int, tuple[weakref.ref, dict]] = {}


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
    if not _enabled or is_tracing():  # first: the one-time check below runs oneDNN ops, which a trace cannot
        return False
    if not (_available or (_available is None and _oneDNN_available())):
        return False
    if not (x.is_cpu and x.dtype == weight.dtype == torch.float32 and weight.ndim == 2):
        return False
    if weight.numel() < MIN_WEIGHT:
        return False
    if bias is not None and bias.dtype != torch.float32:
        return False
    if torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return False
    return (
        not (x.is_mkldnn or weight.is_mkldnn)
        and weight.is_cpu
        and torch.backends.mkldnn.enabled
        and not torch.is_autocast_enabled("cpu")
    )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, *, gelu: bool = False) -> Tensor:
    """``F.linear(x, weight, bias)``: ``(..., in) -> (..., out)``, through a weight laid out once
    for oneDNN where that applies (see the module's docstring).

    Args:
        x: ``(..., in)``.
        weight: ``(out, in)``, a parameter or a slice of one.
        bias: ``(out,)`` or ``None``.
        gelu: apply ``F.gelu`` (exact, erf) to the result; on the laid-out path in the same call.
    """
    if not packed_weights_apply(x, weight, bias):
        out = F.linear(x, weight, bias)
        return F.gelu(out) if gelu else out
    attr = "gelu" if gelu else "none"
    return torch.ops.mkldnn._linear_pointwise(x, _packed(weight), bias, attr, [], "none" if gelu else "")


def linear_module(module: nn.Module, x: Tensor, *, gelu: bool = False) -> Tensor:
    """``module(x)`` for a linear layer (then ``F.gelu`` if ``gelu``): a plain ``nn.Linear``
    without hooks goes through ``linear``; anything else (a subclass, an adapter put in its place,
    hooks) is called as it is."""
    if type(module) is nn.Linear and not (module._forward_hooks or module._forward_pre_hooks):
        return linear(x, module.weight, module.bias, gelu=gelu)
    out = module(x)
    return F.gelu(out) if gelu else out


def _packed(weight: Tensor) -> Tensor:
    owner = weight if weight._base is None else weight._base
    entry = _cache.get(id(owner))
    if entry is None or entry[0]() is not owner:
        entry = _cache[id(owner)] = (weakref.ref(owner, _forget(id(owner))), {})
    layouts = entry[1]
    key = (weight.storage_offset(), weight.shape, weight.stride())
    state = (owner._version, owner.data_ptr())
    known = layouts.get(key)
    if known is None or known[0] != state:
        with torch.inference_mode(False), torch.no_grad():  # an ordinary tensor, usable outside
            known = layouts[key] = (state, torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous()))
    return known[1]


def _forget(key: int):
    """A weak reference's callback: drop the entry of the parameter that died."""

    def callback(ref: weakref.ref) -> None:
        entry = _cache.get(key)
        if entry is not None and entry[0] is ref:
            del _cache[key]

    return callback


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
    return _available

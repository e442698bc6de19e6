"""Strict state-dict loading: every key must exist on both sides with the same shape."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .errors import CheckpointError, key_list


def load_state_strict(module: nn.Module, state: dict[str, Tensor], *, source: str) -> nn.Module:
    """Load ``state`` into ``module`` or raise [CheckpointError][tarpose.weights.strict.CheckpointError] naming the mismatches.

    Everything is checked before anything is copied, so a failure leaves ``module`` untouched.
    Tensors are assigned (``load_state_dict(assign=True)``): the module's own tensors, even
    uninitialised or on the meta device, are replaced; floating tensors take the module's dtype
    and views are copied into contiguous memory of their own.
    """
    expected = check_fits(module, state, source=source)
    check_finite(state, source=source)
    settled = {k: _settle(v, expected[k]) for k, v in state.items()}
    module.load_state_dict(settled, strict=True, assign=True)
    return module


def check_fits(module: nn.Module, state: dict[str, Tensor], *, source: str) -> dict[str, Tensor]:
    """``module.state_dict()`` if ``state`` has exactly its keys and shapes (``module`` may be on
    the ``meta`` device), else a [CheckpointError][tarpose.weights.CheckpointError] naming the
    missing and unexpected keys and the shape mismatches.

    Args:
        module: the model to load into.
        state: the tensors to load.
        source: how to name the checkpoint in messages.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    kinds = [
        f"{k}: checkpoint {state[k].dtype} vs model {v.dtype}"
        for k, v in expected.items()
        if k in state and v.is_floating_point() and not state[k].is_floating_point()
    ]
    if missing or unexpected or shapes or kinds:
        problems = []
        if missing:
            problems.append(f"missing keys ({len(missing)}): {key_list(missing)}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {key_list(unexpected)}")
        if shapes:
            problems.append(f"shape mismatches ({len(shapes)}): {key_list(shapes, 4)}")
        if kinds:
            problems.append(f"integer or bool tensors where the model has floating point ones "
                            f"({len(kinds)}): {key_list(kinds, 4)}")
        raise CheckpointError(
            f"{source} does not fit {type(module).__name__}: " + "; ".join(problems)
        )
    return expected


def check_finite(state: dict[str, Tensor], *, source: str) -> None:
    """Refuse weights holding NaN or infinity (a diverged run's, a damaged file's): a model loaded
    from them would give NaN for every input.

    Args:
        state: the tensors to load.
        source: how to name the checkpoint in messages.

    Raises:
        CheckpointError: naming the first tensors that are not finite.
    """
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"{source}: {len(bad)} tensor{'s' if len(bad) > 1 else ''} hold NaN or infinity "
            f"({key_list(bad, 4)}): these weights cannot give poses (a diverged training run?)"
        )


def _settle(tensor: Tensor, like: Tensor) -> Tensor:
    """The module's dtype, contiguous, in memory of its own: a view into a file buffer (safetensors)
    or a transposed result is copied, so kernels see what a freshly built model holds and the same
    weights give bit-identical outputs however they were loaded."""
    if tensor.is_floating_point() and like.is_floating_point():
        tensor = tensor.to(like.dtype)
    owned = tensor.untyped_storage().nbytes() == tensor.nbytes and tensor.data_ptr() % 64 == 0
    return tensor if tensor.is_contiguous() and owned else tensor.clone(memory_format=torch.contiguous_format)

"""Two-layer perceptron with GELU."""

from __future__ import annotations

from torch import Tensor, nn

from .linear import linear_module


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))``: ``(..., C) -> (..., C)`` through a hidden size.

    Args:
        dim: input channels C.
        hidden: hidden size.
        out_dim: output channels (default ``dim``).
        packed_weights: run ``fc1`` and ``fc2`` through
            ``linear_module`` (weights laid out once for CPU
            inference); the temporal modules do, the ViT's blocks do not.
    """

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None, *, packed_weights: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out_dim or dim)
        self.packed_weights = packed_weights

    def forward(self, x: Tensor) -> Tensor:
        if not getattr(self, "packed_weights", False):  # (an Mlp pickled before the option)
            return self.fc2(self.act(self.fc1(x)))
        if type(self.act) is nn.GELU and self.act.approximate == "none":  # in fc1's call
            return linear_module(self.fc2, linear_module(self.fc1, x, gelu=True))
        return linear_module(self.fc2, self.act(linear_module(self.fc1, x)))

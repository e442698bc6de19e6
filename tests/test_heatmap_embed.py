"""HeatmapEmbedding: the window's heatmaps as tokens, equal to an explicit per-token loop."""

from __future__ import annotations

import pytest
import torch

from reference_tar import randomise_
from tarpose.layers.heatmap_embed import HeatmapEmbedding


def loop_reference(emb: HeatmapEmbedding, heat: torch.Tensor, target: int, valid: torch.Tensor) -> torch.Tensor:
    """Per sample and token: mean of valid non-target frames' patches, then the target's, flattened
    joint-major (joint, row, column) and projected."""
    b, t, j, hh, wh = heat.shape
    s = emb.stride
    out = torch.zeros(b, emb.dim, hh // s, wh // s, dtype=heat.dtype)
    for n in range(b):
        frames = [f for f in range(t) if f != target and bool(valid[n, f])]
        neighbours = torch.stack([heat[n, f] for f in frames]).mean(0) if frames else torch.zeros_like(heat[n, 0])
        stack = torch.cat([neighbours, heat[n, target]])  # (2j, hh, wh)
        for y in range(hh // s):
            for x in range(wh // s):
                patch = stack[:, y * s:(y + 1) * s, x * s:(x + 1) * s].reshape(-1)
                out[n, :, y, x] = emb.proj(patch)
    return out


def test_equals_the_loop_and_ignores_invalid_frames():
    torch.manual_seed(0)
    emb = randomise_(HeatmapEmbedding(3, 8, stride=2)).double()
    heat = torch.rand(3, 5, 3, 6, 4, dtype=torch.float64)
    valid = torch.tensor([[1, 1, 1, 1, 1], [0, 1, 1, 0, 1], [0, 0, 1, 0, 0]], dtype=torch.bool)
    got = emb(heat, 2, valid)
    torch.testing.assert_close(got, loop_reference(emb, heat, 2, valid))
    # what an invalid frame holds does not matter
    noisy = heat.clone()
    noisy[~valid] = torch.rand_like(noisy[~valid]) * 100
    torch.testing.assert_close(emb(noisy, 2, valid), got)
    # no frame_valid: every frame counts
    torch.testing.assert_close(emb(heat, 2), loop_reference(emb, heat, 2, torch.ones(3, 5, dtype=torch.bool)))
    # the target index is honoured (causal window: last frame)
    torch.testing.assert_close(emb(heat, 4, valid), loop_reference(emb, heat, 4, valid))


def test_zero_at_initialisation_and_learns():
    emb = HeatmapEmbedding(17, 16)
    heat = torch.rand(2, 5, 17, 8, 12)
    out = emb(heat, 2)
    assert out.shape == (2, 16, 2, 3) and torch.equal(out, torch.zeros_like(out))
    out.sum().backward()
    assert emb.proj.weight.grad.abs().sum() > 0


def test_bad_input():
    emb = HeatmapEmbedding(17, 16)
    with pytest.raises(ValueError, match=r"heatmaps.*\(B, T, J, Hh, Wh\)"):
        emb(torch.rand(2, 5, 16, 8, 12), 2)
    with pytest.raises(ValueError, match="stride=4"):
        emb(torch.rand(2, 5, 17, 10, 12), 2)
    with pytest.raises(ValueError, match="frame_valid"):
        emb(torch.rand(2, 5, 17, 8, 12), 2, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="stride"):
        HeatmapEmbedding(17, 16, stride=0)


def test_float64_gradients_equal_the_loop():
    torch.manual_seed(1)
    emb = randomise_(HeatmapEmbedding(3, 8, stride=2)).double()
    heat = torch.rand(3, 5, 3, 6, 4, dtype=torch.float64)
    valid = torch.tensor([[1, 1, 1, 1, 1], [0, 1, 1, 0, 1], [0, 0, 1, 0, 0]], dtype=torch.bool)
    ours_in, theirs_in = heat.clone().requires_grad_(), heat.clone().requires_grad_()
    ours, theirs = emb(ours_in, 2, valid), loop_reference(emb, theirs_in, 2, valid)
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=1e-10)
    g = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * g).sum(), [ours_in, *emb.parameters()])
    expected = torch.autograd.grad((theirs * g).sum(), [theirs_in, *emb.parameters()])
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    assert grads[0][~valid].abs().sum() == 0 and grads[0][valid].abs().sum() > 0  # invalid frames: no gradient

"""GlobalRestoringAttention: identity at initialisation, postnorm = LN(F + MHA(F, Q))."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange
from torch import nn

from reference_tar import randomise_
from tarpose import GlobalRestoringAttention


def test_residual_is_identity_at_init():
    gra = GlobalRestoringAttention(16, 4)
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    assert torch.equal(gra(fmap, joints), fmap)


def test_postnorm_equals_layernorm_of_torch_attention():
    torch.manual_seed(0)
    gra = randomise_(GlobalRestoringAttention(16, 4, restore="postnorm"))
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    mha.load_state_dict(gra.attn.state_dict())
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    tokens = rearrange(fmap, "b c h w -> b (h w) c")
    expected = gra.norm(tokens + mha(tokens, joints, joints)[0])
    torch.testing.assert_close(gra(fmap, joints), rearrange(expected, "b (h w) c -> b c h w", h=5), atol=1e-5, rtol=1e-5)


def test_residual_equals_gated_torch_attention():
    torch.manual_seed(0)
    gra = randomise_(GlobalRestoringAttention(16, 4))
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    mha.load_state_dict(gra.attn.state_dict())
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    tokens = rearrange(fmap, "b c h w -> b (h w) c")
    expected = tokens + gra.gate * mha(tokens, joints, joints)[0]
    torch.testing.assert_close(gra(fmap, joints), rearrange(expected, "b (h w) c -> b c h w", h=5), atol=1e-5, rtol=1e-5)


def test_gradients_start_at_the_gate_then_reach_everything():
    gra = GlobalRestoringAttention(16, 4)
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16, requires_grad=True)
    gra(fmap, joints).square().sum().backward()
    assert gra.gate.grad.abs().sum() > 0
    assert gra.attn.in_proj_weight.grad.abs().sum() == 0  # gated off at init
    torch.optim.SGD(gra.parameters(), lr=0.1).step()
    gra.zero_grad()
    joints.grad = None
    gra(fmap, joints).square().sum().backward()
    for name, p in gra.named_parameters():
        assert p.grad.abs().sum() > 0, name
    assert joints.grad.abs().sum() > 0


def test_bad_input():
    gra = GlobalRestoringAttention(16, 4)
    with pytest.raises(ValueError, match=r"feature_map.*\(B, C, h, w\).*\(2, 8, 5, 3\)"):
        gra(torch.randn(2, 8, 5, 3), torch.randn(2, 7, 16))
    with pytest.raises(ValueError, match=r"joint_tokens.*\(3, 7, 16\)"):
        gra(torch.randn(2, 16, 5, 3), torch.randn(3, 7, 16))
    with pytest.raises(ValueError, match="restore"):
        GlobalRestoringAttention(16, restore="gated")

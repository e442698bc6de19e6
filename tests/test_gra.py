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


def test_zero_out_is_identity_at_init_and_learns_in_one_step():
    gra = GlobalRestoringAttention(16, 4, restore="zero_out")
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    assert torch.equal(gra(fmap, joints), fmap)
    gra(fmap, joints).square().sum().backward()
    assert gra.attn.out_proj.weight.grad.abs().sum() > 0  # the projection moves first
    torch.optim.SGD(gra.parameters(), lr=0.1).step()
    assert not torch.equal(gra(fmap, joints), fmap)


def test_gate_init_scales_the_update():
    torch.manual_seed(0)
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    gra = GlobalRestoringAttention(16, 4, gate_init=0.1)
    assert torch.equal(gra.gate, torch.full((16,), 0.1))
    tokens = rearrange(fmap, "b c h w -> b (h w) c")
    expected = tokens + 0.1 * gra.attn(tokens, joints)
    torch.testing.assert_close(gra(fmap, joints), rearrange(expected, "b (h w) c -> b c h w", h=5))


def test_position_codes_reach_only_the_queries():
    """With position codes the attention reads ``F + P`` as queries, the residual keeps ``F``."""
    from tarpose.layers.position import sincos_position_2d

    torch.manual_seed(0)
    gra = randomise_(GlobalRestoringAttention(16, 4, position=True))
    fmap, joints = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16)
    tokens = rearrange(fmap, "b c h w -> b (h w) c")
    update = gra.attn(tokens + sincos_position_2d(5, 3, 16), joints)
    expected = rearrange(tokens + gra.gate * update, "b (h w) c -> b c h w", h=5)
    torch.testing.assert_close(gra(fmap, joints), expected)
    # the same map content at two places now restores differently: position is seen
    plain = randomise_(GlobalRestoringAttention(16, 4))
    plain.load_state_dict(gra.state_dict())
    same = torch.randn(1, 16, 1, 1).expand(1, 16, 5, 3)
    out_pos, out_plain = gra(same, joints[:1]), plain(same, joints[:1])
    assert torch.allclose(out_plain[..., 0, 0], out_plain[..., 4, 2])
    assert not torch.allclose(out_pos[..., 0, 0], out_pos[..., 4, 2])
    with pytest.raises(ValueError, match="token_layout='spatial'"):
        GlobalRestoringAttention(16, 4, position=True, token_layout="official")


def test_sincos_codes():
    from tarpose.layers.position import sincos_position_2d

    codes = sincos_position_2d(4, 3, 8)  # (h*w, c)
    assert codes.shape == (12, 8)
    # row n = y * w + x: the first half depends on y only, the second on x only
    grid = rearrange(codes, "(h w) c -> h w c", h=4)
    assert torch.equal(grid[:, 0, :4], grid[:, 2, :4]) and torch.equal(grid[0, :, 4:], grid[3, :, 4:])
    # frequency 1 channels: sin(y), cos(y)
    torch.testing.assert_close(grid[:, 0, 0], torch.sin(torch.arange(4.0)))
    torch.testing.assert_close(grid[:, 0, 2], torch.cos(torch.arange(4.0)))
    assert len(set(map(tuple, codes.tolist()))) == 12  # every position has its own code
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_position_2d(2, 2, 6)


def test_ffn_and_evidence_equal_an_explicit_computation():
    """``x = F + MHA(F, Q) + E``, then ``x + fc2(GELU(fc1(LN(x))))``; identity at initialisation."""
    torch.manual_seed(0)
    gra = GlobalRestoringAttention(16, 4, restore="zero_out", ffn_ratio=2.0)
    fmap, joints, evidence = torch.randn(2, 16, 5, 3), torch.randn(2, 7, 16), torch.randn(2, 16, 5, 3)
    assert torch.equal(gra(fmap, joints), fmap)  # zero-initialised projection and FFN output
    randomise_(gra)
    tokens = rearrange(fmap, "b c h w -> b (h w) c")
    x = tokens + gra.attn(tokens, joints) + rearrange(evidence, "b c h w -> b (h w) c")
    ln = nn.functional.layer_norm(x, (16,), gra.ffn_norm.weight, gra.ffn_norm.bias)
    x = x + gra.ffn.fc2(nn.functional.gelu(gra.ffn.fc1(ln)))
    torch.testing.assert_close(gra(fmap, joints, evidence), rearrange(x, "b (h w) c -> b c h w", h=5))
    assert gra.ffn.fc1.out_features == 32
    with pytest.raises(ValueError, match=r"evidence.*\(B, C, h, w\)"):
        gra(fmap, joints, evidence[..., :2])
    with pytest.raises(ValueError, match="ffn_ratio"):
        GlobalRestoringAttention(16, ffn_ratio=-1.0)


def test_the_ffn_lets_a_token_replace_its_own_content():
    """Without the FFN, GRA's update is a convex combination of the projected joint values,
    whatever the token holds (with one joint token it is the same for every token), so a corrupted
    token cannot be erased. The FFN's output is a function of the token itself."""
    torch.manual_seed(0)
    plain = randomise_(GlobalRestoringAttention(16, 4, restore="zero_out"))
    with_ffn = randomise_(GlobalRestoringAttention(16, 4, restore="zero_out", ffn_ratio=2.0))
    one_joint = torch.randn(1, 1, 16)
    fmap = torch.randn(1, 16, 5, 3)
    for gra, constant in ((plain, True), (with_ffn, False)):
        update = rearrange(gra(fmap, one_joint) - fmap, "b c h w -> b (h w) c")
        assert torch.allclose(update, update[:, :1].expand_as(update), atol=1e-5) == constant


@pytest.mark.parametrize("restore", ["zero_out", "residual", "postnorm"])
@pytest.mark.parametrize("position", [False, True])
@pytest.mark.parametrize("attention", ["auto", "project", "fold_context", "fold_query"])
def test_float64_values_and_gradients_equal_torch_attention(restore, position, attention):
    """GRA (every restoring step, with its FFN and the evidence) against the same computation
    written with torch's nn.MultiheadAttention, in float64: the restored map and the gradients of
    the map, the joint tokens, the evidence and every parameter."""
    from tarpose.layers.position import sincos_position_2d

    torch.manual_seed(1)
    gra = GlobalRestoringAttention(16, 4, restore, ffn_ratio=2.0, position=position, attention=attention)
    gra = randomise_(gra).double()
    mha = nn.MultiheadAttention(16, 4, batch_first=True).double()
    mha.load_state_dict(gra.attn.state_dict())
    fmap, joints, evidence = (torch.randn(*shape, dtype=torch.float64) for shape in ((2, 16, 5, 3), (2, 7, 16), (2, 16, 5, 3)))

    def explicit(fmap, joints, evidence):
        tokens = rearrange(fmap, "b c h w -> b (h w) c")
        queries = tokens + sincos_position_2d(5, 3, 16, dtype=torch.float64) if position else tokens
        update = mha(queries, joints, joints)[0]
        x = {"zero_out": lambda: tokens + update, "residual": lambda: tokens + gra.gate * update,
             "postnorm": lambda: gra.norm(tokens + update)}[restore]()
        x = x + rearrange(evidence, "b c h w -> b (h w) c")
        x = x + gra.ffn.fc2(nn.functional.gelu(gra.ffn.fc1(gra.ffn_norm(x))))
        return rearrange(x, "b (h w) c -> b c h w", h=5)

    ours_in = [t.clone().requires_grad_() for t in (fmap, joints, evidence)]
    theirs_in = [t.clone().requires_grad_() for t in (fmap, joints, evidence)]
    ours, theirs = gra(*ours_in), explicit(*theirs_in)
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=1e-9)
    shared = [p for name, p in gra.named_parameters() if not name.startswith("attn.")]
    g = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * g).sum(), [*ours_in, *gra.attn.parameters(), *shared])
    expected = torch.autograd.grad((theirs * g).sum(), [*theirs_in, *mha.parameters(), *shared])
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)

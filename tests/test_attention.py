"""MultiHeadAttention: every strategy equals torch's nn.MultiheadAttention on the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference_tar import randomise_
from tarpose.layers.attention import MultiHeadAttention, attention_costs

STRATEGIES = ["project", "fold_context", "fold_query"]


def torch_mha(attn: MultiHeadAttention) -> nn.MultiheadAttention:
    mha = nn.MultiheadAttention(attn.dim, attn.num_heads, batch_first=True)
    mha.load_state_dict(attn.state_dict())  # same parameter names and shapes
    return mha


def blocked(mask: torch.Tensor, heads: int) -> torch.Tensor:
    """tarpose's (B, L, S) True=attend -> torch's per-head (B*H, L, S) True=blocked."""
    return (~mask).repeat_interleave(heads, dim=0)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("lengths", [(3, 40), (40, 3), (7, 7)])
def test_equals_torch_multihead_attention(strategy, lengths):
    torch.manual_seed(1)
    lq, ls = lengths
    attn = randomise_(MultiHeadAttention(24, 4, strategy=strategy))
    q, ctx = torch.randn(2, lq, 24), torch.randn(2, ls, 24)
    mask = torch.rand(2, lq, ls) > 0.4
    mask[..., 0] = True  # no empty rows (torch gives NaN there)
    ref, _ = torch_mha(attn)(q, ctx, ctx, attn_mask=blocked(mask, 4))
    torch.testing.assert_close(attn(q, ctx, mask), ref, atol=1e-5, rtol=1e-5)
    ref_nomask, _ = torch_mha(attn)(q, ctx, ctx)
    torch.testing.assert_close(attn(q, ctx), ref_nomask, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_gradients_equal_torch_in_float64(strategy):
    attn = randomise_(MultiHeadAttention(12, 3, strategy=strategy)).double()
    mha = torch_mha(attn).double()
    q = torch.randn(2, 4, 12, dtype=torch.float64, requires_grad=True)
    ctx = torch.randn(2, 9, 12, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(2, 4, 9) > 0.3
    mask[..., -1] = True
    ours = attn(q, ctx, mask)
    theirs, _ = mha(q, ctx, ctx, attn_mask=blocked(mask, 3))
    g = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * g).sum(), [q, ctx, *attn.parameters()])
    grads_ref = torch.autograd.grad((theirs * g).sum(), [q, ctx, *mha.parameters()])
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_state_dict_interchangeable_with_torch():
    mha = nn.MultiheadAttention(16, 2, batch_first=True)
    attn = MultiHeadAttention(16, 2)
    attn.load_state_dict(mha.state_dict())  # strict
    assert set(attn.state_dict()) == set(mha.state_dict())


def test_auto_picks_the_cheapest():
    attn = MultiHeadAttention(768, 4)
    assert attn.choose_strategy(40, 3, masked=True) != "fold_query"  # masked: never fold_query
    assert attn.choose_strategy(17, 2160) == "fold_context"  # JTA: 17 joints over 5 frames
    assert attn.choose_strategy(432, 17) == "fold_query"  # GRA: 24x18 map over 17 joints
    costs = attention_costs(17, 2160, 768, 4)
    assert costs["project"] > 9 * costs["fold_context"]


@pytest.mark.parametrize("strategy", ["project", "fold_context", "auto"])
def test_mask_is_broadcast_over_heads_not_copied(monkeypatch, strategy):
    seen = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kw):
        seen.append((q.shape, attn_mask))
        return real(q, k, v, attn_mask=attn_mask, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    attn = MultiHeadAttention(16, 4, strategy=strategy)
    mask = torch.rand(2, 3, 10) > 0.5
    mask[..., 0] = True
    attn(torch.randn(2, 3, 16), torch.randn(2, 10, 16), mask)
    assert attn.choose_strategy(40, 3, masked=True) != "fold_query"
    (q_shape, passed), = seen
    assert 4 in q_shape[1:3]  # the 4 heads are a batch dim of the call
    assert passed.numel() == mask.numel()  # one mask for all heads, broadcast, not repeated


def test_bad_arguments():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="strategy"):
        MultiHeadAttention(8, 2, strategy="fast")


def test_gathered_context_equals_torch_in_float64():
    """A gathered context (each query's own tokens, padded and masked) against torch's attention
    over all tokens with the same mask: values and gradients, float64."""
    from tarpose.layers.gather import gather_allowed
    from tarpose.layers.tokens import map_to_tokens

    torch.manual_seed(2)
    attn = randomise_(MultiHeadAttention(12, 3)).double()
    mha = torch_mha(attn).double()
    query = torch.randn(2, 5, 12, dtype=torch.float64, requires_grad=True)
    feats = torch.randn(2, 3, 12, 2, 4, dtype=torch.float64, requires_grad=True)  # 24 tokens
    allowed = torch.rand(2, 5, 24) < 0.3
    allowed[0, 1] = False
    allowed[0, 1, 7] = True  # a single token
    allowed[1, 2] = True  # every token
    gathered, valid = gather_allowed(feats, allowed)
    ours = attn(query, gathered, valid)
    # the same mask as scores to add (0 / -inf), as JTA builds it once for its layers
    additive = torch.zeros(valid.shape, dtype=torch.float64).masked_fill(~valid, float("-inf"))
    torch.testing.assert_close(attn(query, gathered, additive), ours, atol=1e-12, rtol=1e-12)
    tokens = map_to_tokens(feats).flatten(1, 2)
    theirs, _ = mha(query, tokens, tokens, attn_mask=blocked(allowed, 3))
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=1e-10)
    g = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * g).sum(), [query, feats, *attn.parameters()])
    expected = torch.autograd.grad((theirs * g).sum(), [query, feats, *mha.parameters()])
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9)

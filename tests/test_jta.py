"""JointTemporalAggregator: spatial meaning, masks, missing frames, NaN-safety, reference equality."""

from __future__ import annotations

import pytest
import torch

from conftest import peaked_heatmaps
from reference_tar import ReferenceTemporalHead, copy_reference_into, randomise_
from tarpose import GlobalRestoringAttention, JointTemporalAggregator, heatmap_mask

B, T, C, H, W, J = 2, 5, 16, 4, 3, 4


def make_jta(layout: str = "spatial", **kw) -> JointTemporalAggregator:
    torch.manual_seed(0)
    return randomise_(JointTemporalAggregator(C, J, depth=2, num_heads=2, token_layout=layout, **kw)).eval()


def inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, T, C, H, W, generator=g)
    heat = peaked_heatmaps(B, T, J, size=(4 * H, 4 * W), sigma=1.5, generator=g)
    return feats, heat


def positions_outside_every_mask(mask: torch.Tensor, frame: int):
    """(b, y, x) positions of a frame that no joint may attend."""
    return (~mask[:, frame].any(dim=1)).nonzero().tolist()


def test_tokens_are_spatial_positions():
    """Changing a neighbour frame where no joint's mask looks changes nothing; inside it does."""
    jta = make_jta()
    feats, heat = inputs()
    mask = heatmap_mask(heat, (H, W), jta.mask_threshold)
    outside = positions_outside_every_mask(mask, frame=0)
    inside = mask[:, 0].any(dim=1).nonzero().tolist()
    assert outside and inside
    base = jta(feats, heat)

    changed = feats.clone()
    for b, y, x in outside:
        changed[b, 0, :, y, x] += 10 * torch.randn(C)
    torch.testing.assert_close(jta(changed, heat), base, atol=1e-6, rtol=0)

    changed = feats.clone()
    b, y, x = inside[0]
    changed[b, 0, :, y, x] += 10 * torch.randn(C)
    assert (jta(changed, heat)[b] - base[b]).abs().max() > 1e-3


def test_official_layout_has_no_spatial_meaning():
    """The reference layout mixes positions into tokens: the same edit outside the masks leaks in."""
    jta = make_jta("official")
    feats, heat = inputs()
    mask = heatmap_mask(heat, (H, W), jta.mask_threshold)
    changed = feats.clone()
    for b, y, x in positions_outside_every_mask(mask, frame=0):
        changed[b, 0, :, y, x] += 10 * torch.randn(C)
    assert (jta(changed, heat) - jta(feats, heat)).abs().max() > 1e-3


def test_explicit_mask_equals_heatmap_mask():
    jta = make_jta()
    feats, heat = inputs()
    mask = heatmap_mask(heat, (H, W), jta.mask_threshold)
    torch.testing.assert_close(jta(feats, mask=mask), jta(feats, heat), atol=0, rtol=0)


def test_missing_frames_are_excluded_not_duplicated():
    """A window with frame 0 marked invalid equals the same window without frame 0."""
    jta = make_jta()
    feats, heat = inputs()
    valid = torch.ones(B, T, dtype=torch.bool)
    valid[:, 0] = False
    out = jta(feats, heat, frame_valid=valid)
    torch.testing.assert_close(out, jta(feats[:, 1:], heat[:, 1:]), atol=1e-6, rtol=1e-5)
    garbage_feats, garbage_heat = feats.clone(), heat.clone()
    garbage_feats[:, 0] = 1e3 * torch.randn(B, C, H, W)
    garbage_heat[:, 0] = torch.rand(B, J, 4 * H, 4 * W)
    torch.testing.assert_close(jta(garbage_feats, garbage_heat, frame_valid=valid), out, atol=1e-6, rtol=0)


def test_empty_rows_attend_everywhere_without_nan():
    jta = make_jta()
    feats, _ = inputs()
    everywhere = jta(feats, mask=torch.ones(B, T, J, H, W, dtype=torch.bool))
    for heat in (torch.zeros(B, T, J, 16, 12), torch.full((B, T, J, 16, 12), 2.5)):
        out = jta(feats, heat)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, everywhere, atol=1e-6, rtol=0)
    nothing = jta(feats, mask=torch.zeros(B, T, J, H, W, dtype=torch.bool))
    torch.testing.assert_close(nothing, everywhere, atol=1e-6, rtol=0)


def test_only_the_centre_frame_valid():
    jta = make_jta()
    feats, heat = inputs()
    valid = torch.zeros(B, T, dtype=torch.bool)
    valid[:, T // 2] = True
    for h in (heat, torch.zeros_like(heat)):
        out = jta(feats, h, frame_valid=valid)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, jta(feats[:, 2:3], h[:, 2:3]), atol=1e-6, rtol=1e-5)


def test_batch_elements_are_independent():
    jta = make_jta()
    feats, heat = inputs()
    out = jta(feats, heat)
    feats2, heat2 = feats.clone(), heat.clone()
    feats2[1] = torch.randn(T, C, H, W)
    heat2[1] = torch.rand(T, J, 4 * H, 4 * W)
    # (to rounding: the gathered path pads every row to the batch's largest count)
    torch.testing.assert_close(jta(feats2, heat2)[0], out[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(jta(feats[:1], heat[:1])[0], out[0], atol=1e-6, rtol=1e-6)
    jta.gather = "never"  # the dense path: bit for bit
    torch.testing.assert_close(jta(feats2, heat2)[0], jta(feats, heat)[0], atol=0, rtol=0)


@pytest.mark.parametrize("t", [1, 3, 5, 7])
def test_any_window_length(t):
    jta = make_jta()
    feats = torch.randn(B, t, C, H, W)
    out = jta(feats, peaked_heatmaps(B, t, J, size=(8, 6)))
    assert out.shape == (B, J, C) and torch.isfinite(out).all()


@pytest.mark.parametrize("layout", ["spatial", "official"])
@pytest.mark.parametrize("attention", ["auto", "project"])
def test_equals_the_reference_computation(layout, attention):
    torch.manual_seed(3)
    ref = randomise_(ReferenceTemporalHead(C, J, T, depth=2, heads=2, layout=layout))
    jta = JointTemporalAggregator(C, J, depth=2, num_heads=2, token_layout=layout, attention=attention)
    gra = GlobalRestoringAttention(C, 2, "postnorm", token_layout=layout, attention=attention)
    copy_reference_into(ref, jta, gra)
    feats, heat = inputs(1)
    with torch.no_grad():
        expected = ref(feats, heat)
        got = gra(feats[:, T // 2], jta(feats, heat))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_gradcheck_float64():
    torch.manual_seed(0)
    jta = randomise_(JointTemporalAggregator(6, 2, depth=1, num_heads=2)).double()
    feats = torch.randn(1, 3, 6, 2, 2, dtype=torch.float64, requires_grad=True)
    heat = peaked_heatmaps(1, 3, 2, size=(8, 8)).double()
    assert torch.autograd.gradcheck(lambda f: jta(f, heat), (feats,))


def test_every_parameter_gets_gradient():
    jta = make_jta().train()
    feats, heat = inputs()
    jta(feats.requires_grad_(), heat).square().sum().backward()
    for name, p in jta.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert feats.grad.abs().sum() > 0


def test_bad_input_names_the_shapes():
    jta = make_jta()
    feats, heat = inputs()
    with pytest.raises(ValueError, match=r"features.*\(B, T, C, h, w\).*\(2, 5, 8, 4, 3\)"):
        jta(feats[:, :, :8], heat)
    with pytest.raises(ValueError, match="5 dims"):
        jta(feats[0], heat)
    with pytest.raises(ValueError, match=r"heatmaps.*\(2, 5, 3, 16, 12\)"):
        jta(feats, heat[:, :, :3])
    with pytest.raises(ValueError, match="exactly one"):
        jta(feats)
    with pytest.raises(ValueError, match="bool"):
        jta(feats, mask=torch.ones(B, T, J, H, W))
    with pytest.raises(ValueError, match=r"frame_valid.*\(B, T\)"):
        jta(feats, heat, frame_valid=torch.ones(B, T + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="every frame"):
        jta(feats, heat, frame_valid=torch.zeros(B, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="token_layout"):
        JointTemporalAggregator(C, token_layout="chunks")


def test_position_codes_equal_adding_them_to_the_frame_tokens():
    """``position=True`` is the plain JTA over ``F + P`` (P: each token's grid code), so the joint
    tokens carry where the joint was; the masks and the empty-row rule are unchanged."""
    from einops import rearrange

    from tarpose.layers.position import sincos_position_2d

    with_pos = make_jta(position=True)
    plain = make_jta()
    plain.load_state_dict(with_pos.state_dict())
    feats, heat = inputs()
    codes = rearrange(sincos_position_2d(H, W, C), "(h w) c -> c h w", h=H)
    torch.testing.assert_close(with_pos(feats, heat), plain(feats + codes, heat))
    assert not torch.allclose(with_pos(feats, heat), plain(feats, heat))
    with pytest.raises(ValueError, match="token_layout='spatial'"):
        JointTemporalAggregator(C, J, position=True, token_layout="official")


def reference_name(name: str) -> str:
    """The reference head's parameter that a JointTemporalAggregator parameter copies."""
    if name in ("query_embed", "query_pos"):
        return {"query_embed": "query_feat.weight", "query_pos": "query_pe.weight"}[name]
    _, i, module, rest = name.split(".", 3)
    where = {
        "cross_attn": f"masked_attention_layers.{i}.mha", "norm1": f"masked_attention_layers.{i}.norm",
        "self_attn": f"self_attention_layers.{i}.mha", "norm2": f"self_attention_layers.{i}.norm",
        "mlp": f"ffn_layers.{i}", "norm3": f"ffn_layers.{i}.norm",
    }[module]
    return f"{where}.{rest}"


@pytest.mark.parametrize("gather", ["always", "never"])
@pytest.mark.parametrize("with_valid", [False, True])
def test_equals_the_reference_in_float64_gradients_too(gather, with_valid):
    """JTA, gathered or dense, against the reference computation (nn.MultiheadAttention, masks
    repeated per head, every token projected), in float64: the joint tokens and the gradients of
    the features and of every parameter. Invalid frames: the reference runs each clip over its
    valid frames only."""
    torch.manual_seed(5)
    ref = randomise_(ReferenceTemporalHead(C, J, T, depth=2, heads=2, layout="spatial")).double()
    jta = JointTemporalAggregator(C, J, depth=2, num_heads=2, gather=gather)
    copy_reference_into(ref, jta, GlobalRestoringAttention(C, 2, "postnorm"))
    jta = jta.double()
    feats, heat = (x.double() for x in inputs(6))
    valid = torch.tensor([[True, True, False, True, True], [False, True, True, True, False]])
    if not with_valid:
        valid = torch.ones_like(valid)
    mask = heatmap_mask(heat, (H, W), jta.mask_threshold) & valid[:, :, None, None, None]
    assert mask.flatten(3).any(-1).any(1).all()  # no empty row: the reference would give NaN
    ours_in, theirs_in = feats.clone().requires_grad_(), feats.clone().requires_grad_()
    ours = jta(ours_in, heat, frame_valid=valid if with_valid else None)
    theirs = ref.joints_of_valid_frames(theirs_in, heat, valid)
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=1e-9)
    names = [name for name, _ in jta.named_parameters()]
    reference = dict(ref.named_parameters())
    g = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * g).sum(), [ours_in, *jta.parameters()])
    expected = torch.autograd.grad((theirs * g).sum(), [theirs_in, *(reference[reference_name(n)] for n in names)])
    for name, a, b in zip(["features", *names], grads, expected):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8, msg=name)

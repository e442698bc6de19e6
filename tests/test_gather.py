"""The gathered (sparse) masked attention: equal to the dense path and to the reference computation,
in values and gradients, eager, compiled and exported; excluded frames read by neither path."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange

from conftest import peaked_heatmaps
from reference_tar import ReferenceTemporalHead, copy_reference_into, randomise_
from tarpose import GlobalRestoringAttention, JointTemporalAggregator
from tarpose.layers import gather as gather_module
from tarpose.layers.attention import MultiHeadAttention
from tarpose.layers.gather import allowed_index, gather_allowed, gather_tokens, gathered_is_cheaper
from tarpose.layers.tokens import map_to_tokens

B, T, C, H, W, J = 2, 5, 16, 4, 3, 4


def make_jta(
    layout: str = "spatial", gather: str = "always", dtype=torch.float32, position: bool = False
) -> JointTemporalAggregator:
    torch.manual_seed(0)
    jta = JointTemporalAggregator(C, J, depth=2, num_heads=2, token_layout=layout, gather=gather, position=position)
    return randomise_(jta).to(dtype).eval()


def inputs(seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, T, C, H, W, generator=g, dtype=dtype)
    heat = peaked_heatmaps(B, T, J, size=(4 * H, 4 * W), sigma=1.5, generator=g).to(dtype)
    return feats, heat


def some_frames_invalid() -> torch.Tensor:
    valid = torch.ones(B, T, dtype=torch.bool)
    valid[0, 0] = valid[0, 4] = valid[1, 1] = False
    return valid


def run(jta: JointTemporalAggregator, mode: str, *args, **kwargs) -> torch.Tensor:
    jta.gather = mode
    return jta(*args, **kwargs)


def test_allowed_index_lists_each_rows_tokens_in_order():
    g = torch.Generator().manual_seed(0)
    allowed = torch.rand(3, 4, 30, generator=g) < 0.3
    allowed[0, 0] = False
    allowed[0, 0, 17] = True  # a row with one token
    allowed[1, 2] = True  # a full row
    index, valid = allowed_index(allowed)
    assert index.shape == valid.shape == (3, 4, 30)  # the full row sets K
    for b in range(3):
        for row in range(4):
            positions = allowed[b, row].nonzero().flatten()
            n = len(positions)
            assert valid[b, row].tolist() == [True] * n + [False] * (30 - n)
            assert index[b, row, :n].tolist() == positions.tolist()
            assert (index[b, row, n:] == positions[0]).all()  # padding repeats an allowed token


@pytest.mark.parametrize("layout", ["spatial", "official"])
@pytest.mark.parametrize("memory", ["channels first", "channels innermost"])
def test_gather_tokens_reads_the_attended_tokens(layout, memory):
    """The same tokens whether the maps are stored channel-first (read in place) or with their
    channels innermost, as an encoder's tokens viewed as maps (one row per token, a view)."""
    feats, _ = inputs()
    if memory == "channels innermost":
        feats = rearrange(rearrange(feats, "b t c h w -> b t h w c").contiguous(), "b t h w c -> b t c h w")
        assert feats.stride(2) == 1
    tokens = map_to_tokens(feats, layout).flatten(1, 2)  # (b, t*h*w, c)
    for k in (7, T * H * W):  # fewer picks than tokens, and more (every row its whole window)
        index = torch.randint(0, T * H * W, (B, J, k))
        expected = torch.stack([tokens[b, index[b]] for b in range(B)])
        torch.testing.assert_close(gather_tokens(feats, index, layout), expected, atol=0, rtol=0)


def test_gathered_attention_equals_dense_masked_attention():
    torch.manual_seed(1)
    attn = randomise_(MultiHeadAttention(24, 4, strategy="fold_context")).double()
    query = torch.randn(2, 5, 24, dtype=torch.float64, requires_grad=True)
    feats = torch.randn(2, 3, 24, 2, 4, dtype=torch.float64, requires_grad=True)  # 24 tokens
    allowed = torch.rand(2, 5, 24) < 0.25
    allowed[:, :, 0] = False
    allowed[0, 1] = False
    allowed[0, 1, 9] = True  # a single token
    allowed[1, 3] = True  # everything
    tokens = map_to_tokens(feats).flatten(1, 2)
    dense = attn(query, tokens, allowed)
    gathered = attn(query, *gather_allowed(feats, allowed))
    torch.testing.assert_close(gathered, dense, atol=1e-12, rtol=1e-12)
    g = torch.randn_like(dense)
    grads_dense = torch.autograd.grad((dense * g).sum(), [query, feats, *attn.parameters()])
    grads = torch.autograd.grad((gathered * g).sum(), [query, feats, *attn.parameters()])
    for a, b in zip(grads, grads_dense):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    # every strategy of the dense path agrees too
    for strategy in ("project", "fold_query"):
        attn.strategy = strategy
        torch.testing.assert_close(attn(query, tokens, allowed), dense, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("layout", ["spatial", "official"])
@pytest.mark.parametrize("with_valid", [False, True])
def test_jta_gathered_equals_dense_values_and_float64_gradients(layout, with_valid):
    jta = make_jta(layout, dtype=torch.float64)
    feats, heat = inputs(2, torch.float64)
    valid = some_frames_invalid() if with_valid else None
    feats.requires_grad_(True)
    out_dense = run(jta, "never", feats, heat, frame_valid=valid)
    out = run(jta, "always", feats, heat, frame_valid=valid)
    torch.testing.assert_close(out, out_dense, atol=1e-12, rtol=1e-10)
    g = torch.randn_like(out)
    params = list(jta.parameters())
    grads = torch.autograd.grad((out * g).sum(), [feats, *params])
    grads_dense = torch.autograd.grad((out_dense * g).sum(), [feats, *params])
    for a, b in zip(grads, grads_dense):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9)


@pytest.mark.parametrize("with_valid", [False, True])
def test_gathered_position_codes_equal_dense(with_valid):
    """position=True: the gathered tokens carry their own grid position's code, as the dense ones."""
    jta = make_jta(dtype=torch.float64, position=True)
    feats, heat = inputs(4, torch.float64)
    valid = some_frames_invalid() if with_valid else None
    feats.requires_grad_(True)
    out_dense = run(jta, "never", feats, heat, frame_valid=valid)
    out = run(jta, "always", feats, heat, frame_valid=valid)
    torch.testing.assert_close(out, out_dense, atol=1e-12, rtol=1e-10)
    plain = make_jta(dtype=torch.float64)
    assert not torch.allclose(out, run(plain, "always", feats, heat, frame_valid=valid))  # the codes count
    g = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * g).sum(), feats)
    (grad_dense,) = torch.autograd.grad((out_dense * g).sum(), feats)
    torch.testing.assert_close(grad, grad_dense, atol=1e-11, rtol=1e-9)


@pytest.mark.parametrize("layout", ["spatial", "official"])
def test_jta_gathered_gradcheck_float64(layout):
    torch.manual_seed(0)
    jta = randomise_(JointTemporalAggregator(6, 2, depth=1, num_heads=2, token_layout=layout, gather="always"))
    jta = jta.double()
    feats = torch.randn(2, 3, 6, 2, 2, dtype=torch.float64, requires_grad=True)
    heat = peaked_heatmaps(2, 3, 2, size=(8, 8)).double()
    valid = torch.tensor([[True, True, False], [False, True, True]])
    assert torch.autograd.gradcheck(lambda f: jta(f, heat, frame_valid=valid), (feats,))


@pytest.mark.parametrize("layout", ["spatial", "official"])
def test_gathered_equals_the_reference_computation(layout):
    torch.manual_seed(3)
    ref = randomise_(ReferenceTemporalHead(C, J, T, depth=2, heads=2, layout=layout))
    jta = JointTemporalAggregator(C, J, depth=2, num_heads=2, token_layout=layout, gather="always")
    gra = GlobalRestoringAttention(C, 2, "postnorm", token_layout=layout)
    copy_reference_into(ref, jta, gra)
    feats, heat = inputs(1)
    with torch.no_grad():
        torch.testing.assert_close(gra(feats[:, T // 2], jta(feats, heat)), ref(feats, heat), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["always", "never", "auto"])
def test_nan_in_an_excluded_frame_changes_nothing(mode):
    """Excluded frames contribute nothing: not their values, not a NaN (neither path reads them)."""
    jta = make_jta(gather=mode)
    feats, heat = inputs()
    valid = some_frames_invalid()
    expected = jta(feats, heat, frame_valid=valid)
    poisoned, poisoned_heat = feats.clone(), heat.clone()
    poisoned[~valid] = float("nan")
    poisoned_heat[~valid] = float("nan")
    out = jta(poisoned, poisoned_heat, frame_valid=valid)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    garbage = feats.clone()
    garbage[~valid] = 1e4 * torch.randn(int((~valid).sum()), C, H, W)
    torch.testing.assert_close(jta(garbage, heat, frame_valid=valid), expected, atol=0, rtol=0)
    # and the gradient reaching an excluded frame is exactly zero
    poisoned.requires_grad_(True)
    jta(poisoned, poisoned_heat, frame_valid=valid).sum().backward()
    assert torch.isfinite(poisoned.grad).all() and (poisoned.grad[~valid] == 0).all()


def test_empty_rows_and_broad_masks_on_the_gathered_path():
    jta = make_jta(gather="always")
    feats, heat = inputs()
    flat = torch.zeros_like(heat)  # every row empty: attends every valid token
    valid = some_frames_invalid()
    for h, v in ((flat, None), (flat, valid), (heat, valid)):
        torch.testing.assert_close(run(jta, "always", feats, h, frame_valid=v),
                                   run(jta, "never", feats, h, frame_valid=v), atol=1e-6, rtol=1e-5)
    everything = torch.ones(B, T, J, H, W, dtype=torch.bool)
    torch.testing.assert_close(run(jta, "always", feats, mask=everything),
                               run(jta, "never", feats, mask=everything), atol=1e-6, rtol=1e-5)


def test_auto_gathers_only_where_that_is_cheaper(monkeypatch):
    calls = []
    real = gather_module.gather_tokens

    def spy(*args, **kwargs):
        calls.append(args[1].shape[-1])  # K
        return real(*args, **kwargs)

    monkeypatch.setattr("tarpose.layers.jta.gather_tokens", spy)
    jta = make_jta(gather="auto")
    feats, _ = inputs()
    mask = torch.zeros(B, T, J, H, W, dtype=torch.bool)  # one token per joint and frame
    mask.view(B, T, J, H * W)[..., 0] = True
    largest = T
    assert gathered_is_cheaper(largest, T * H * W)
    jta(feats, mask=mask)
    assert calls == [largest]
    jta(feats, mask=torch.ones_like(mask))  # K = all tokens: dense is cheaper
    assert calls == [largest]
    assert not gathered_is_cheaper(T * H * W, T * H * W)
    jta.gather = "never"
    jta(feats, mask=mask)
    assert calls == [largest]
    with pytest.raises(ValueError, match="gather"):
        JointTemporalAggregator(C, J, gather="sometimes")


@pytest.mark.parametrize("layout", ["spatial", "official"])
def test_torch_export_of_the_gathered_path_equals_dense(layout):
    """gather="always" exports with a data-dependent count; other masks (another K) still agree."""
    jta = make_jta(layout, gather="always")
    feats, heat = inputs()
    valid = some_frames_invalid()

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.jta = jta

        def forward(self, f, h, v):
            return self.jta(f, h, frame_valid=v)

    program = torch.export.export(Module(), (feats, heat, valid))
    targets = {str(node.target) for node in program.graph.nodes}
    assert any("topk" in t for t in targets)  # the gathered path, not the dense one
    broad = peaked_heatmaps(B, T, J, size=(4 * H, 4 * W), sigma=4.0)
    with torch.no_grad():
        for h, v in ((heat, valid), (broad, valid), (heat, torch.ones_like(valid))):
            torch.testing.assert_close(program.module()(feats, h, v), run(jta, "never", feats, h, frame_valid=v),
                                       atol=1e-5, rtol=1e-5)
            jta.gather = "always"
    jta.gather = "auto"  # traced, "auto" keeps the dense path: static shapes
    program = torch.export.export(Module(), (feats, heat, valid))
    assert not any("topk" in str(node.target) for node in program.graph.nodes)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["spatial", "official"])
def test_torch_compile_of_the_gathered_path_equals_dense(layout):
    jta = make_jta(layout, gather="always")
    feats, heat = inputs()
    valid = some_frames_invalid()
    compiled = torch.compile(jta)
    with torch.no_grad():
        expected = run(jta, "never", feats, heat, frame_valid=valid)
        jta.gather = "always"
        torch.testing.assert_close(compiled(feats, heat, frame_valid=valid), expected, atol=1e-5, rtol=1e-5)

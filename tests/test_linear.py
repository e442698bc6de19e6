"""Linear layers through weights laid out once for oneDNN: equal to F.linear, used only where they
apply (CPU float32 inference, not traced), laid out again when a weight changes, freed with it."""

from __future__ import annotations

import gc

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tarpose.layers import linear as packed
from tarpose.layers.linear import linear, linear_module, packed_weights_apply, set_packed_weights

pytestmark = pytest.mark.skipif(not packed._oneDNN_available(), reason="oneDNN's laid-out weights serve this CPU")


@pytest.fixture(autouse=True)
def _small_weights_too(monkeypatch):
    """The tests' small weights take the laid-out path too (below MIN_WEIGHT it is slower)."""
    monkeypatch.setattr(packed, "MIN_WEIGHT", 0)


def test_small_weights_go_to_f_linear(monkeypatch):
    monkeypatch.setattr(packed, "MIN_WEIGHT", 1 << 17)
    x = torch.randn(68, 256)
    with torch.no_grad():
        assert not packed_weights_apply(x, torch.randn(256, 256))  # 65536 elements
        assert packed_weights_apply(x, torch.randn(512, 256))


def test_equals_f_linear_for_slices_batches_and_strides():
    torch.manual_seed(0)
    weight, bias = nn.Parameter(torch.randn(96, 32)), nn.Parameter(torch.randn(96))
    for x in (torch.randn(68, 32), torch.randn(4, 17, 32), torch.randn(17, 4, 32).transpose(0, 1)):
        with torch.no_grad():
            for w, b in ((weight, bias), (weight[32:], bias[32:]), (weight[:32], None)):
                assert packed_weights_apply(x, w, b)
                torch.testing.assert_close(linear(x, w, b), F.linear(x, w, b), atol=1e-5, rtol=1e-5)
    assert len(packed._cache[id(weight)][1]) == 3  # one laid-out copy per slice


def test_only_where_it_applies_else_f_linear_bit_for_bit():
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    x = torch.randn(5, 16)
    assert not packed_weights_apply(x, layer.weight, layer.bias)  # a gradient to compute
    assert torch.equal(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))
    with torch.no_grad():
        assert packed_weights_apply(x, layer.weight, layer.bias)
        assert not packed_weights_apply(x.double(), layer.weight.double(), layer.bias.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not packed_weights_apply(x, layer.weight, layer.bias)
    frozen = nn.Linear(16, 8).requires_grad_(False)
    assert packed_weights_apply(x, frozen.weight, frozen.bias)  # nothing needs a gradient
    assert not packed_weights_apply(x.requires_grad_(), frozen.weight, frozen.bias)
    previous = set_packed_weights(False)
    try:
        with torch.no_grad():
            assert not packed_weights_apply(x, layer.weight, layer.bias)
    finally:
        set_packed_weights(previous)


def test_gradients_go_through_f_linear():
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    x = torch.randn(5, 16, requires_grad=True)
    linear(x, layer.weight, layer.bias).square().sum().backward()
    expected = torch.autograd.grad(F.linear(x, layer.weight, layer.bias).square().sum(), [x, layer.weight, layer.bias])
    for got, want in zip((x.grad, layer.weight.grad, layer.bias.grad), expected):
        assert torch.equal(got, want)


def test_a_changed_weight_is_laid_out_again():
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    x = torch.randn(5, 16)
    with torch.inference_mode():
        before = linear(x, layer.weight, layer.bias)
    torch.optim.SGD(layer.parameters(), lr=0.5).zero_grad()
    with torch.no_grad():
        layer.weight.add_(1.0)  # in place: the version counter moves
    with torch.no_grad():
        torch.testing.assert_close(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))
        layer.load_state_dict({"weight": torch.randn(8, 16), "bias": torch.randn(8)})
        torch.testing.assert_close(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))
        layer.weight.data = torch.randn(8, 16)  # new storage
        torch.testing.assert_close(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))
    assert not torch.allclose(before, linear(x, layer.weight, layer.bias).detach())
    # laid out under inference_mode, used outside it: an ordinary tensor
    with torch.no_grad():
        linear(x, layer.weight, layer.bias)


def test_freed_with_the_weight():
    layer = nn.Linear(16, 8)
    with torch.no_grad():
        linear(torch.randn(2, 16), layer.weight, layer.bias)
    assert id(layer.weight) in packed._cache
    count = len(packed._cache)
    del layer
    gc.collect()
    assert len(packed._cache) == count - 1


def test_linear_module_calls_anything_but_a_plain_linear_as_it_is():
    class Scaled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    torch.manual_seed(0)
    x = torch.randn(3, 16)
    plain, scaled = nn.Linear(16, 8), Scaled(16, 8)
    hooked = nn.Linear(16, 8)
    hooked.register_forward_hook(lambda module, args, out: out + 100)
    with torch.no_grad():
        torch.testing.assert_close(linear_module(plain, x), plain(x))
        assert torch.equal(linear_module(scaled, x), scaled(x))
        assert torch.equal(linear_module(hooked, x), hooked(x))
        assert torch.equal(linear_module(nn.Identity(), x), x)


def test_the_temporal_modules_use_them_and_agree_with_f_linear(vitpose):
    """A temporal model's JTA, GRA and heatmap embedding run their linear layers through the
    laid-out weights in inference (the ViT's blocks do not) and give F.linear's results to float
    rounding, with invalid frames and on both of JTA's paths."""
    from conftest import peaked_heatmaps
    from reference_tar import activate_temporal_
    from tarpose import TemporalWrapper

    torch.manual_seed(0)
    tar = activate_temporal_(TemporalWrapper(vitpose, num_frames=3)).eval()
    features = torch.randn(2, 3, 32, 4, 3)
    heatmaps = peaked_heatmaps(2, 3, 5, size=(16, 12), sigma=1.0)
    valid = torch.tensor([[True, True, False], [True, True, True]])
    for gather in ("always", "never"):
        tar.jta.gather = gather
        previous = set_packed_weights(False)
        try:
            with torch.inference_mode():
                plain = tar.aggregate_restore(features, heatmaps, valid)
        finally:
            set_packed_weights(previous)
        with torch.inference_mode():
            ours = tar.aggregate_restore(features, heatmaps, valid)
        torch.testing.assert_close(ours, plain, atol=1e-5, rtol=1e-5)
    for module in (tar.jta.layers[0].cross_attn, tar.jta.layers[0].mlp.fc1, tar.gra.attn, tar.gra.ffn.fc2,
                   tar.heatmap_embed.proj):
        assert any(id(p) in packed._cache for p in module.parameters(recurse=False)), module
    assert not any(id(p) in packed._cache for p in tar.encoder.parameters())


def test_gelu_in_the_same_call():
    torch.manual_seed(0)
    layer = nn.Linear(32, 64)
    x = torch.randn(7, 32)
    with torch.no_grad():
        assert packed_weights_apply(x, layer.weight, layer.bias)
        torch.testing.assert_close(linear_module(layer, x, gelu=True), F.gelu(layer(x)), atol=1e-5, rtol=1e-5)
    # off the laid-out path: F.gelu after F.linear, bit for bit
    assert torch.equal(linear_module(layer, x, gelu=True), F.gelu(layer(x)))
    from tarpose.layers.mlp import Mlp

    mlp = Mlp(32, 64, packed_weights=True)
    with torch.no_grad():
        torch.testing.assert_close(mlp(x), mlp.fc2(mlp.act(mlp.fc1(x))), atol=1e-5, rtol=1e-5)

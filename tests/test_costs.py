"""The multiply-add formulas of tarpose.layers.costs against torch's FlopCounterMode on the same
modules and inputs (every matrix product the modules run, counted as they run)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from conftest import peaked_heatmaps
from tarpose import GlobalRestoringAttention, HeatmapEmbedding, JointTemporalAggregator, TemporalWrapper
from tarpose.layers.costs import gra_macs, heatmap_embed_macs, jta_macs, temporal_macs
from tarpose.layers.linear import set_packed_weights
from tarpose.layers.mask import heatmap_mask


def counted(fn) -> int:
    """Multiply-adds of fn's matrix products (the laid-out weights' products through F.linear,
    and scaled_dot_product_attention through its math backend, which FlopCounterMode sees as its
    batched products: the same products)."""
    previous = set_packed_weights(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            fn()
    finally:
        set_packed_weights(previous)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("gather", ["always", "never", "auto"])
@pytest.mark.parametrize("dims", [(32, 4, 2, 2.0), (48, 3, 1, 1.5), (24, 2, 3, 4.0)])
@pytest.mark.parametrize("attention", ["auto", "project", "fold_context", "fold_query"])
def test_jta(gather, dims, attention):
    c, heads, depth, mlp = dims
    b, t, j, h, w = 3, 5, 7, 8, 6
    jta = JointTemporalAggregator(c, j, depth=depth, num_heads=heads, mlp_ratio=mlp, gather=gather, attention=attention)
    feats = torch.randn(b, t, c, h, w)
    g = torch.Generator().manual_seed(0)
    mask = heatmap_mask(peaked_heatmaps(b, t, j, size=(4 * h, 4 * w), sigma=1.5, generator=g), (h, w))
    largest = int(jta.allowed_tokens(mask).sum(-1).max())
    assert 4 * largest < t * h * w  # "auto" gathers
    assert b * jta_macs(jta, t, (h, w), largest) == counted(lambda: jta(feats, mask=mask))
    # invalid frames do not change what is computed, only what it reads
    valid = torch.ones(b, t, dtype=torch.bool)
    valid[0, 0] = False
    largest = int(jta.allowed_tokens(mask, valid).sum(-1).max())
    assert b * jta_macs(jta, t, (h, w), largest) == counted(lambda: jta(feats, mask=mask, frame_valid=valid))


@pytest.mark.parametrize("restore", ["zero_out", "residual", "postnorm"])
@pytest.mark.parametrize("ffn_ratio", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("attention", ["auto", "project", "fold_context", "fold_query"])
def test_gra(restore, ffn_ratio, attention):
    c, b, j, h, w = 32, 2, 5, 6, 4
    gra = GlobalRestoringAttention(c, 4, restore, ffn_ratio=ffn_ratio, attention=attention, position=True)
    fmap, joints, evidence = torch.randn(b, c, h, w), torch.randn(b, j, c), torch.randn(b, c, h, w)
    assert b * gra_macs(gra, (h, w), j) == counted(lambda: gra(fmap, joints, evidence))


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_heatmap_embedding(stride):
    b, t, j, c = 3, 5, 6, 16
    embed = HeatmapEmbedding(j, c, stride)
    heat = torch.rand(b, t, j, 8 * stride, 6 * stride)
    valid = torch.tensor([[True] * 5, [False, True, True, True, False], [False, False, True, False, False]])
    assert b * heatmap_embed_macs(embed, t, heat.shape[-2:]) == counted(lambda: embed(heat, 2, valid))


@pytest.mark.parametrize("options", [{}, {"jta_depth": 2, "gra_ffn_ratio": 1.0}, {"heatmap_embed": False},
                                     {"num_frames": 3, "target": "last", "jta_heads": 2}])
def test_a_temporal_model_is_its_decoder_and_the_three_modules(vitpose, options):
    """The whole temporal part of a TemporalWrapper, counted as one: the decoder pass plus the
    formulas' JTA, GRA and heatmap embedding."""
    tar = TemporalWrapper(vitpose, **options).eval()
    t = tar.num_frames
    with torch.no_grad():
        features, heatmaps = tar.encode(torch.randn(2 * t, 3, 64, 48))
    features, heatmaps = features.unflatten(0, (2, t)), heatmaps.unflatten(0, (2, t))
    masks = torch.stack([tar.frame_masks(heatmaps[:, i], features.shape[-2:]) for i in range(t)], dim=1)
    largest = int(tar.jta.allowed_tokens(masks).sum(-1).max())
    macs = temporal_macs(tar.jta, tar.gra, tar.heatmap_embed, frames=t, grid=tuple(features.shape[-2:]),
                         heatmap_size=tuple(heatmaps.shape[-2:]), batch=2, tokens=largest)
    assert (macs["embed"] == 0) == (tar.heatmap_embed is None)
    decoder = counted(lambda: tar.decoder(features[:, 0]))
    whole = counted(lambda: tar.aggregate_restore(features, heatmaps, mask=masks))
    assert whole == decoder + sum(macs.values())

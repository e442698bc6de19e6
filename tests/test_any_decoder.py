"""TemporalWrapper retrofits any encoder/decoder pair with the default TARConfig: decoders that
upsample the feature map 1x, 2x, 4x or 8x, non-square grids; at initialisation it is the base
model, and every new parameter trains. Pairs that cannot work fail at construction."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

import tarpose
from reference_tar import activate_temporal_

J, C = 5, 24


def pair(patch: int, upsample: int) -> tuple[nn.Module, nn.Module]:
    """A strided-conv encoder (``patch`` pixels a token) and a decoder that upsamples its map
    ``upsample`` times (1: a 1x1 conv), with random weights."""
    torch.manual_seed(patch * 10 + upsample)
    encoder = nn.Sequential(nn.Conv2d(3, C, patch, stride=patch), nn.GELU(), nn.Conv2d(C, C, 1))
    if upsample == 1:
        decoder: nn.Module = nn.Conv2d(C, J, 1)
    else:
        decoder = nn.Sequential(
            nn.ConvTranspose2d(C, 16, upsample, stride=upsample), nn.ReLU(), nn.Conv2d(16, J, 3, padding=1)
        )
    return encoder, decoder


CASES = [  # (patch, upsample, crop (H, W))
    (8, 1, (48, 40)),
    (8, 2, (48, 40)),  # the example: a 6x5 map, 12x10 heatmaps
    (16, 4, (64, 48)),
    (16, 8, (64, 48)),
    (8, 4, (24, 56)),  # a wide, non-square grid (3x7)
]


@pytest.mark.parametrize("patch, upsample, size", CASES)
def test_default_config_is_the_base_at_init_and_trains(patch, upsample, size):
    encoder, decoder = pair(patch, upsample)
    model = tarpose.TemporalWrapper(encoder=encoder, decoder=decoder, dim=C, num_joints=J).eval()
    assert model.config == tarpose.TARConfig()  # the default, nothing set for this decoder
    clip = torch.randn(2, 5, 3, *size)
    with torch.no_grad():
        base = decoder(encoder(clip[:, 2]))
        torch.testing.assert_close(model(clip), base, atol=1e-5, rtol=0)
    assert base.shape[-2:] == (size[0] // patch * upsample, size[1] // patch * upsample)

    # trainable: once the zero-initialised parts move, every new parameter gets a gradient and the
    # output depends on the neighbouring frames
    activate_temporal_(model, torch.Generator().manual_seed(0))
    model.train()
    out = model(clip)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        if name.startswith(("jta.", "gra.", "heatmap_embed.")):
            assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
    with torch.no_grad():
        model.eval()
        other = clip.clone()
        other[:, 0] = torch.randn_like(other[:, 0])
        assert not torch.allclose(model(other), model(clip), atol=1e-6)


@pytest.mark.parametrize("upsample", [1, 2, 8])
def test_the_embedding_reads_other_resolutions_resampled(upsample):
    """Heatmaps at another resolution than ``stride`` pixels a token are resampled to it, then
    read exactly as 4x heatmaps are: equal to an explicit computation."""
    torch.manual_seed(0)
    embed = tarpose.HeatmapEmbedding(J, C, stride=4)
    with torch.no_grad():
        embed.proj.weight.normal_()
        embed.proj.bias.normal_()
    grid = (3, 7)
    heatmaps = torch.rand(2, 5, J, grid[0] * upsample, grid[1] * upsample)
    out = embed(heatmaps, 2, grid=grid)
    frames = rearrange(heatmaps, "b t j y x -> (b t) j y x")
    size = (grid[0] * 4, grid[1] * 4)
    resized = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=upsample > 4)
    resized = rearrange(resized, "(b t) j y x -> b t j y x", t=5)
    evidence = torch.cat([resized[:, [0, 1, 3, 4]].mean(1), resized[:, 2]], dim=1)  # (b, 2j, y, x)
    expected = torch.zeros(2, C, *grid)
    for y in range(grid[0]):
        for x in range(grid[1]):
            patch = evidence[:, :, 4 * y: 4 * y + 4, 4 * x: 4 * x + 4].reshape(2, -1)
            expected[:, :, y, x] = embed.proj(patch)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # 4x heatmaps are read as they are
    exact = torch.rand(2, 5, J, grid[0] * 4, grid[1] * 4)
    torch.testing.assert_close(embed(exact, 2, grid=grid), embed(exact, 2))


def test_a_pair_that_cannot_work_fails_at_construction():
    encoder, decoder = pair(8, 2)
    with pytest.raises(ValueError, match=r"gives 24-channel maps .* built for dim=32"):
        tarpose.TemporalWrapper(encoder=encoder, decoder=decoder, dim=32, num_joints=J)
    with pytest.raises(ValueError, match=r"into \(1, 5, 64, 48\), not heatmaps \(N, J=17"):
        tarpose.TemporalWrapper(encoder=encoder, decoder=decoder, dim=C, num_joints=17)
    # a pair that cannot run on the meta device (a function holding real tensors) is checked at
    # the first forward instead
    weight = torch.randn(J, C, 1, 1)
    model = tarpose.TemporalWrapper(
        encoder=encoder, decoder=lambda maps: F.conv2d(maps.cpu(), weight).to(maps.device) * 0,
        dim=C, num_joints=J,
    )
    assert model(torch.randn(1, 5, 3, 48, 40)).shape == (1, J, 6, 5)

"""The built-in ViTPose: equal to transformers' VitPoseForPoseEstimation on the same weights."""

from __future__ import annotations

import pytest
import torch

import tarpose
from conftest import hf_vitpose, tiny_vitpose
from tarpose.models.vitpose import resize_pos_embed


def hf_to_tarpose(hf_state: dict[str, torch.Tensor], decoder: str) -> dict[str, torch.Tensor]:
    """Written out here independently of tarpose's own loaders, key by key."""
    out: dict[str, torch.Tensor] = {}
    pos = hf_state["backbone.embeddings.position_embeddings"]
    out["backbone.pos_embed"] = pos[:, 1:] + pos[:, :1]
    for k in ("weight", "bias"):
        out[f"backbone.patch_embed.proj.{k}"] = hf_state[f"backbone.embeddings.patch_embeddings.projection.{k}"]
        out[f"backbone.last_norm.{k}"] = hf_state[f"backbone.layernorm.{k}"]
    i = 0
    while f"backbone.encoder.layer.{i}.mlp.fc1.weight" in hf_state:
        src, dst = f"backbone.encoder.layer.{i}.", f"backbone.blocks.{i}."
        for k in ("weight", "bias"):
            out[dst + f"attn.qkv.{k}"] = torch.cat(
                [hf_state[src + f"attention.attention.{n}.{k}"] for n in ("query", "key", "value")]
            )
            out[dst + f"attn.proj.{k}"] = hf_state[src + f"attention.output.dense.{k}"]
            out[dst + f"norm1.{k}"] = hf_state[src + f"layernorm_before.{k}"]
            out[dst + f"norm2.{k}"] = hf_state[src + f"layernorm_after.{k}"]
            out[dst + f"mlp.fc1.{k}"] = hf_state[src + f"mlp.fc1.{k}"]
            out[dst + f"mlp.fc2.{k}"] = hf_state[src + f"mlp.fc2.{k}"]
        i += 1
    head = {k[len("head."):]: v for k, v in hf_state.items() if k.startswith("head.")}
    names = {"conv": "final_layer"} if decoder == "simple" else {
        "deconv1": "deconv_layers.0", "batchnorm1": "deconv_layers.1",
        "deconv2": "deconv_layers.3", "batchnorm2": "deconv_layers.4", "conv": "final_layer"}
    for k, v in head.items():
        module, rest = k.split(".", 1)
        out[f"keypoint_head.{names[module]}.{rest}"] = v
    return out


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_equals_transformers_vitpose(decoder):
    hf = hf_vitpose(decoder)
    ours = tarpose.ViTPose(input_size=(64, 48), embed_dim=32, depth=2, num_heads=4, num_joints=5,
                           decoder=decoder, layer_norm_eps=1e-6).eval()
    ours.load_state_dict(hf_to_tarpose(hf.state_dict(), decoder), strict=True)
    images = torch.randn(3, 3, 64, 48)
    with torch.no_grad():
        expected = hf(images).heatmaps
        got = ours(images)
    assert got.shape == (3, 5, 16, 12)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size,grid", [((256, 192), (16, 12)), ((384, 288), (24, 18)), ((64, 48), (4, 3))])
def test_token_grid_with_padding_2(size, grid):
    model = tarpose.ViTPose(input_size=(64, 48), embed_dim=32, depth=1, num_heads=4)
    assert model.backbone.feature_size(size) == grid


def test_other_input_sizes_resize_position_embeddings_bicubically():
    model = tiny_vitpose()
    big = tiny_vitpose(input_size=(96, 64))
    big.load_state_dict({**model.state_dict(), "backbone.pos_embed": resize_pos_embed(
        model.backbone.pos_embed.data, (4, 3), (6, 4))})
    images = torch.randn(2, 3, 96, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(images), big(images), atol=1e-5, rtol=1e-5)
        assert model(images).shape == (2, 5, 24, 16)


def test_resize_pos_embed_matches_interpolate():
    pos = torch.randn(1, 12, 8)
    grid = torch.nn.functional.interpolate(pos.reshape(1, 4, 3, 8).permute(0, 3, 1, 2), size=(6, 5),
                                           mode="bicubic", align_corners=False)
    torch.testing.assert_close(resize_pos_embed(pos, (4, 3), (6, 5)), grid.permute(0, 2, 3, 1).reshape(1, 30, 8))


def test_sizes_and_registry():
    names = tarpose.list_models()
    for size in "sblh":
        assert f"vitpose-{size}" in names and f"tar-vitpose-{size}-simple" in names
    assert tarpose.list_models("tar-*") == [n for n in names if n.startswith("tar-")]
    # the parameter counts of the ViTPose paper's backbones (S 22M, B 86M, L 304M, H 632M)
    expected = {"s": 21.7e6, "b": 85.8e6, "l": 303.3e6, "h": 630.8e6}
    for size, count in expected.items():
        with torch.device("meta"):
            backbone = tarpose.create_model(f"vitpose-{size}").backbone
        n = sum(p.numel() for p in backbone.parameters())
        assert abs(n - count) / count < 0.01, (size, n)
    # the TAR-ViTPose paper's runtime table: TAR ViT-S has 35.6M parameters (the paper's modules);
    # tarpose's default has two JTA layers instead of six (12 C^2 + 17 C each), adds a feed-forward
    # block of width C after GRA (2 C^2 + 2 C, and its LayerNorm 2 C) and the heatmap embedding
    # (2 * 17 * 4 * 4 * C + C), and has no post-norm (2 C); C = 384
    from tarpose.models import count_parameters

    with torch.device("meta"):
        paper = count_parameters(tarpose.create_model("tar-vitpose-s", **tarpose.TARConfig.paper().to_dict()))
        default = count_parameters(tarpose.create_model("tar-vitpose-s"))
    assert round(paper / 1e6, 1) == 35.6
    c = 384
    layer, ffn, embed = 12 * c * c + 17 * c, 2 * c * c + 2 * c + 2 * c, 2 * 17 * 4 * 4 * c + c
    assert default - paper == -4 * layer + ffn + embed - 2 * c


def test_create_model_overrides_and_errors():
    model = tarpose.create_model("vitpose-s", input_size=(384, 288), num_joints=14)
    assert model.config.input_size == (384, 288) and model.num_joints == 14
    temporal = tarpose.create_model("tar-vitpose-s-simple", num_frames=3, jta_depth=2)
    assert isinstance(temporal, tarpose.TemporalWrapper) and temporal.num_frames == 3
    assert temporal.decoder.kind == "simple"
    with pytest.raises(ValueError, match="unknown model 'vitpose-x'"):
        tarpose.create_model("vitpose-x")
    with pytest.raises(ValueError, match="multiples of patch_size"):
        tarpose.ViTPose(input_size=(250, 192))


def test_bad_images():
    model = tiny_vitpose()
    with pytest.raises(ValueError, match=r"images.*\(N, 3, H, W\)"):
        model(torch.randn(2, 1, 64, 48))
    with pytest.raises(ValueError, match="multiples of patch size"):
        model(torch.randn(2, 3, 60, 48))

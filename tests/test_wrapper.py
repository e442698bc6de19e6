"""TemporalWrapper: equals the base model at initialisation, trains, retrofits many model kinds."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tarpose
from conftest import hf_vitpose, tiny_vitpose
from reference_tar import activate_temporal_

T = 5


def clip_for(model_img=(64, 48), b: int = 2, t: int = T) -> torch.Tensor:
    return torch.randn(b, t, 3, *model_img)


def move_gate(wrapper: tarpose.TemporalWrapper) -> tarpose.TemporalWrapper:
    return activate_temporal_(wrapper, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_equals_builtin_vitpose_at_init(decoder):
    model = tiny_vitpose(decoder)
    wrapper = tarpose.TemporalWrapper(model, num_frames=T).eval()
    clip = clip_for()
    with torch.no_grad():
        torch.testing.assert_close(wrapper(clip), model(clip[:, T // 2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_equals_transformers_vitpose_at_init(decoder):
    model = hf_vitpose(decoder)
    wrapper = tarpose.TemporalWrapper(model, num_frames=T).eval()
    assert wrapper.dim == 32 and wrapper.num_joints == 5
    clip = clip_for()
    with torch.no_grad():
        expected = model(clip[:, T // 2]).heatmaps
        torch.testing.assert_close(wrapper(clip), expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"64x48 crops.*\(10, 3, 96, 64\)"):
        wrapper(torch.randn(2, T, 3, 96, 64))


def test_transformers_vitpose_plus_expert_choice():
    model = hf_vitpose(num_experts=3, part_features=8)
    clip = clip_for()
    for index in (0, 2):
        wrapper = tarpose.TemporalWrapper(model, num_frames=T, dataset_index=index).eval()
        with torch.no_grad():
            expected = model(clip[:, T // 2], dataset_index=torch.full((2,), index)).heatmaps
            torch.testing.assert_close(wrapper(clip), expected, atol=1e-5, rtol=0)


class MMPoseLike(nn.Module):
    """mmpose 1.x layout: backbone returns a tuple of maps, head has deconv/final layers, a neck."""

    def __init__(self, vitpose: tarpose.ViTPose, with_neck: bool) -> None:
        super().__init__()
        self.backbone = _TupleBackbone(vitpose.backbone)
        self.neck = _Neck() if with_neck else None
        self.head = vitpose.keypoint_head

    def forward(self, images):
        feats = self.backbone(images)
        if self.neck is not None:
            feats = self.neck(feats)
        x = self.head.deconv_layers(feats[-1])
        return self.head.final_layer(x)


class _TupleBackbone(nn.Module):
    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        return (self.vit(x),)


class _Neck(nn.Module):  # like mmpose's FeatureMapProcessor(scale_factor=1, apply_relu=True)
    def forward(self, feats):
        return tuple(F.relu(f) for f in feats)


class OfficialLike(nn.Module):
    """Official ViTPose / easy_ViTPose layout: .backbone -> map, .keypoint_head(map)."""

    def __init__(self, vitpose: tarpose.ViTPose) -> None:
        super().__init__()
        self.backbone = vitpose.backbone
        self.keypoint_head = vitpose.keypoint_head

    def forward(self, images):
        return self.keypoint_head(self.backbone(images))


@pytest.mark.parametrize(
    "make", [lambda m: MMPoseLike(m, False), lambda m: MMPoseLike(m, True), OfficialLike],
    ids=["mmpose", "mmpose-neck", "official"],
)
def test_equals_other_layouts_at_init(make):
    model = make(tiny_vitpose())
    wrapper = tarpose.TemporalWrapper(model, num_frames=T).eval()
    assert wrapper.num_joints == 5 and wrapper.dim == 32
    clip = clip_for()
    with torch.no_grad():
        torch.testing.assert_close(wrapper(clip), model(clip[:, T // 2]), atol=1e-5, rtol=0)


def test_encoder_decoder_callables():
    model = tiny_vitpose()
    with pytest.raises(ValueError, match="dim=C and num_joints=J"):
        tarpose.TemporalWrapper(encoder=lambda x: model.backbone(x), decoder=model.keypoint_head)
    wrapper = tarpose.TemporalWrapper(
        encoder=lambda x: model.backbone(x), decoder=model.keypoint_head, dim=32, num_joints=5
    ).eval()
    clip = clip_for()
    with torch.no_grad():
        torch.testing.assert_close(wrapper(clip), model(clip[:, T // 2]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="either model or"):
        tarpose.TemporalWrapper(model, encoder=model.backbone)
    with pytest.raises(TypeError, match="cannot split Linear"):
        tarpose.TemporalWrapper(nn.Linear(2, 2))


def test_target_last_and_initial_heatmaps():
    model = tiny_vitpose()
    wrapper = tarpose.TemporalWrapper(model, num_frames=4, target="last").eval()
    clip = clip_for(t=4)
    with torch.no_grad():
        out = wrapper(clip, return_initial=True)
        torch.testing.assert_close(out.heatmaps, model(clip[:, -1]), atol=1e-5, rtol=0)
        for t in range(4):
            torch.testing.assert_close(out.initial_heatmaps[:, t], model(clip[:, t]), atol=1e-5, rtol=0)


def test_temporal_context_is_used_once_the_gate_moves():
    model = tiny_vitpose()
    wrapper = move_gate(tarpose.TemporalWrapper(model, num_frames=T)).eval()
    clip = clip_for()
    with torch.no_grad():
        out = wrapper(clip)
        assert (out - model(clip[:, T // 2])).abs().max() > 1e-3
        other = clip.clone()
        other[:, 0] = torch.randn_like(other[:, 0])
        assert (wrapper(other) - out).abs().max() > 1e-4
        valid = torch.ones(2, T, dtype=torch.bool)
        valid[:, 0] = False
        torch.testing.assert_close(wrapper(other, frame_valid=valid), wrapper(clip, frame_valid=valid), atol=1e-6, rtol=0)


def test_every_new_parameter_trains():
    model = tiny_vitpose()
    wrapper = tarpose.TemporalWrapper(model, num_frames=T)
    wrapper.train()
    clip, target = clip_for(), torch.rand(2, 5, 16, 12)
    opt = torch.optim.AdamW(wrapper.new_parameters(), lr=1e-2)
    for _ in range(2):  # the first step moves the zero gate, the second sees every gradient
        opt.zero_grad()
        F.mse_loss(wrapper(clip), target).backward()
        opt.step()
    assert wrapper.gra.attn.out_proj.weight.abs().sum() > 0  # zero at initialisation
    for name, p in wrapper.named_parameters():
        if name.startswith(("encoder.", "decoder.")):
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_freeze_base():
    from tarpose.training import freeze_base

    model = tiny_vitpose()
    wrapper = tarpose.TemporalWrapper(model, num_frames=T)
    freeze_base(wrapper)
    wrapper.train()
    assert not model.training and wrapper.jta.training
    trainable = {id(p) for p in wrapper.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in wrapper.new_parameters()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    move_gate(wrapper)
    opt = torch.optim.SGD([p for p in wrapper.parameters() if p.requires_grad], lr=0.1)
    wrapper(clip_for()).square().mean().backward()
    opt.step()
    for k, v in model.state_dict().items():  # weights and BatchNorm statistics unchanged
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("t", [1, 3, 5, 7])
def test_window_lengths(t):
    wrapper = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=t).eval()
    with torch.no_grad():
        out = wrapper(clip_for(t=t))
    assert out.shape == (2, 5, 16, 12) and torch.isfinite(out).all()


def test_bad_input_names_the_shapes():
    model = tiny_vitpose()
    with pytest.raises(ValueError, match="num_frames=4 is even"):
        tarpose.TemporalWrapper(model, num_frames=4)
    wrapper = tarpose.TemporalWrapper(model, num_frames=T)
    with pytest.raises(ValueError, match=r"T=3 frames \(shape \(2, 3, 3, 64, 48\)\).*num_frames=5"):
        wrapper(clip_for(t=3))
    with pytest.raises(ValueError, match=r"clip.*\(B, T, 3, H, W\).*\(2, 5, 1, 64, 48\)"):
        wrapper(torch.randn(2, T, 1, 64, 48))
    with pytest.raises(ValueError, match=r"clip must have 5 dims.*\(2, 3, 64, 48\)"):
        wrapper(torch.randn(2, 3, 64, 48))
    with pytest.raises(ValueError, match="target frame 2 valid"):
        valid = torch.ones(2, T, dtype=torch.bool)
        valid[:, 2] = False
        wrapper(clip_for(), frame_valid=valid)
    with pytest.raises(ValueError, match=r"gives 32-channel maps .* built for dim=64"):  # at construction
        tarpose.TemporalWrapper(encoder=model.backbone, decoder=model.keypoint_head, dim=64, num_joints=5)


def test_all_attention_goes_through_sdpa(monkeypatch):
    calls = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kw):
        calls.append(None if attn_mask is None else (tuple(attn_mask.shape), attn_mask.numel()))
        return real(q, k, v, attn_mask=attn_mask, **kw)

    wrapper = move_gate(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=T, jta_depth=2)).eval()
    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)  # after the construction's meta probe
    assert not any(isinstance(m, nn.MultiheadAttention) for m in wrapper.modules())
    with torch.no_grad():
        wrapper(clip_for())
    masked = [c for c in calls if c is not None and c[0][-1] == T * 4 * 3]
    # JTA's (B, J, T*h*w) masks are broadcast over the heads, never repeated per head
    assert len(masked) == 2 and all(numel == 2 * 5 * T * 4 * 3 for _, numel in masked)
    assert len(calls) == 2 * 2 + 2 + 1  # ViT blocks, JTA (cross + self) x depth, GRA


def test_deepcopy_is_independent():
    wrapper = tarpose.TemporalWrapper(hf_vitpose(), num_frames=T).eval()
    twin = copy.deepcopy(wrapper)
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(1.0)
    clip = clip_for()
    with torch.no_grad():
        assert (twin(clip) - wrapper(clip)).abs().max() > 1e-3
        assert wrapper.encoder.backbone is not twin.encoder.backbone


def test_float64():
    wrapper = move_gate(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1)).double().eval()
    out = wrapper(clip_for(t=3).double())
    assert out.dtype == torch.float64 and torch.isfinite(out).all()


@pytest.mark.slow
def test_torch_compile_matches_eager():
    wrapper = move_gate(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=2)).eval()
    clip = clip_for(t=3)
    compiled = torch.compile(wrapper)
    with torch.no_grad():
        torch.testing.assert_close(compiled(clip), wrapper(clip), atol=1e-4, rtol=1e-4)


def test_torch_export_matches_eager():
    wrapper = move_gate(tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=2)).eval()
    clip = clip_for(t=3)
    valid = torch.tensor([[False, True, True], [True, True, True]])
    program = torch.export.export(wrapper, (clip,), kwargs={"frame_valid": valid})
    with torch.no_grad():
        torch.testing.assert_close(
            program.module()(clip, frame_valid=valid), wrapper(clip, frame_valid=valid), atol=1e-5, rtol=1e-5
        )


# -- the temporal part's config --------------------------------------------------------------


def test_every_tar_config_field_reaches_its_module():
    import inspect

    config = tarpose.TARConfig(num_frames=3, target="last", jta_depth=2, jta_heads=2, jta_mlp_ratio=3.0,
                               mask_threshold=0.3, gra_heads=8, restore="postnorm", token_layout="official",
                               attention="project")
    for module, cls in (("jta", tarpose.JointTemporalAggregator), ("gra", tarpose.GlobalRestoringAttention)):
        assert set(config.module_options(module)) <= set(inspect.signature(cls.__init__).parameters)
    wrapper = tarpose.TemporalWrapper(tiny_vitpose(), config)
    assert wrapper.config == config and (wrapper.num_frames, wrapper.target_index) == (3, 2)
    layer = wrapper.jta.layers[0]
    assert len(wrapper.jta.layers) == 2 and layer.cross_attn.num_heads == layer.self_attn.num_heads == 2
    assert layer.mlp.fc1.out_features == 3 * 32 and wrapper.jta.mask_threshold == 0.3
    assert wrapper.gra.attn.num_heads == 8 and wrapper.gra.restore == "postnorm"
    assert wrapper.jta.token_layout == wrapper.gra.token_layout == "official"
    assert layer.cross_attn.strategy == wrapper.gra.attn.strategy == "project"
    positioned = tarpose.TemporalWrapper(
        tiny_vitpose(), num_frames=3, restore="residual", gra_gate_init=0.5, position=True, gra_ffn_ratio=3.0,
        heatmap_stride=2,
    )
    assert positioned.jta.position and positioned.gra.position and bool((positioned.gra.gate == 0.5).all())
    assert positioned.gra.ffn.fc1.out_features == 3 * 32 and positioned.heatmap_embed.stride == 2
    assert tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, heatmap_embed=False).heatmap_embed is None
    # keyword overrides change a given config
    assert tarpose.TemporalWrapper(tiny_vitpose(), config, jta_depth=1).config == config.replace(jta_depth=1)


def test_unknown_options_are_named():
    with pytest.raises(TypeError, match=r"unknown TemporalWrapper options \['jta_dept'\]"):
        tarpose.TemporalWrapper(tiny_vitpose(), jta_dept=2)
    with pytest.raises(TypeError, match="config must be a TARConfig"):
        tarpose.TemporalWrapper(tiny_vitpose(), {"num_frames": 3})
    with pytest.raises(TypeError, match=r"exactly its fields: unknown \['depth'\]"):
        tarpose.TARConfig.from_dict({**tarpose.TARConfig().to_dict(), "depth": 2})


def test_create_model_routes_options_by_name():
    """TARConfig and ViTPoseConfig names cannot collide, so each option has one meaning."""
    model = tarpose.create_model("tar-vitpose-s", input_size=(64, 48), embed_dim=64, jta_depth=2, jta_heads=2,
                                 gra_heads=4, num_frames=3, depth=1, num_heads=4)
    assert (model.config.jta_depth, model.config.jta_heads, model.config.gra_heads, model.num_frames) == (2, 2, 4, 3)
    assert (model.base_config.depth, model.base_config.num_heads, model.base_config.embed_dim) == (1, 4, 64)
    assert model.base_config.input_size == (64, 48) == model.data_config.input_size
    with pytest.raises(TypeError, match=r"unknown options \['jta_layers'\]"):
        tarpose.create_model("tar-vitpose-s", jta_layers=2)


def test_wrap_puts_a_trained_model_in_a_registered_temporal_part():
    base = tiny_vitpose()
    wrapped = tarpose.wrap("tar-vitpose-demo", base, num_frames=3)
    assert wrapped.encoder is base.backbone and wrapped.config == tarpose.TARConfig(num_frames=3)
    with pytest.raises(ValueError, match=r"\['embed_dim'\] would change the architecture"):
        tarpose.wrap("tar-vitpose-s", base, embed_dim=64)
    with pytest.raises(ValueError, match="'vitpose-s' is not a temporal model"):
        tarpose.wrap("vitpose-s", base)


def test_default_paper_and_saved_configs():
    """Today's default: two JTA layers, zero_out + an FFN of width C + heatmap embedding;
    ``paper()`` is the paper's modules (six JTA layers); a saved config must have every field (none
    is guessed)."""
    default = tarpose.TARConfig()
    assert (default.jta_depth, default.restore, default.gra_ffn_ratio, default.heatmap_embed) == (
        2, "zero_out", 1.0, True)
    assert tarpose.TARConfig.from_dict(default.to_dict()) == default
    wrapper = tarpose.TemporalWrapper(tiny_vitpose(), default)
    assert len(wrapper.jta.layers) == 2 and wrapper.gra.ffn.fc1.out_features == 32
    assert wrapper.heatmap_embed.stride == 4
    assert {id(p) for p in wrapper.heatmap_embed.parameters()} <= {id(p) for p in wrapper.new_parameters()}
    paper = tarpose.TemporalWrapper(tiny_vitpose(), tarpose.TARConfig.paper(num_frames=3))
    assert paper.gra.restore == "postnorm" and paper.heatmap_embed is None and not hasattr(paper.gra, "ffn")
    assert len(paper.jta.layers) == 6
    with pytest.raises(TypeError, match=r"missing \['attention', 'gra_ffn_ratio'"):
        tarpose.TARConfig.from_dict({"num_frames": 5, "target": "centred", "jta_depth": 6})
    with pytest.raises(ValueError, match="heatmap_stride must be >= 1"):
        tarpose.TARConfig(heatmap_stride=0)


def test_the_heatmap_embedding_reads_the_neighbours_heatmaps():
    """With only the heatmap embedding active, the output moves when a neighbour's heatmaps move
    and not when an invalid neighbour's do."""
    torch.manual_seed(0)
    wrapper = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=1).eval()
    with torch.no_grad():
        wrapper.heatmap_embed.proj.weight.normal_(0, 0.5)
    b, (h, w) = 2, (64, 48)  # the tiny model's crop
    features, heatmaps = wrapper.encode(torch.randn(b * 3, 3, h, w))
    features = features.reshape(b, 3, *features.shape[1:])
    heatmaps = heatmaps.reshape(b, 3, *heatmaps.shape[1:])
    moved = heatmaps.clone()
    moved[:, 0] = torch.rand_like(moved[:, 0])
    valid = torch.tensor([[False, True, True]] * b)
    with torch.no_grad():
        out = wrapper.aggregate_restore(features, heatmaps)
        assert (wrapper.aggregate_restore(features, moved) - out).abs().max() > 1e-4
        torch.testing.assert_close(
            wrapper.aggregate_restore(features, moved, valid), wrapper.aggregate_restore(features, heatmaps, valid)
        )

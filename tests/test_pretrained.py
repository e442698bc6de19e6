"""The registry's pretrained table resolves through the Hugging Face Hub (tested offline, from a
prepopulated cache), and the public usyd-community layout at its real ViT-B size loads with
transformers' own heatmaps."""

from __future__ import annotations

import pytest
import torch

import tarpose
from conftest import hf_vitpose
from hub_cache import offline_cache, populate  # noqa: F401  (offline_cache is a fixture)
from tarpose.models import PretrainedCfg, pretrained_cfg, registry
from tarpose.models.pretrained import PRETRAINED
from tarpose.weights import CheckpointError

X = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(4))


def test_the_table_lists_the_public_checkpoints():
    names = tarpose.list_models(pretrained=True)
    assert {"vitpose-b-simple", "vitpose-b", "vitpose-plus-b", "tar-vitpose-b-simple"} <= set(names)
    assert set(names) <= set(tarpose.list_models())
    cfg = pretrained_cfg("vitpose-b-simple")
    assert cfg.source == "usyd-community/vitpose-base-simple" and cfg.license == "apache-2.0"
    assert (cfg.input_size, cfg.num_joints, cfg.mean, cfg.std) == (
        (256, 192), 17, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert pretrained_cfg("vitpose-plus-h").dataset_index == 0
    with pytest.raises(ValueError, match="no pretrained weights registered for 'vitpose-s'.*vitpose-b-simple"):
        tarpose.create_model("vitpose-s", pretrained=True)


@pytest.fixture
def tiny_entry(monkeypatch, offline_cache, tmp_path):
    """A registered 'test-tiny' (+ 'tar-test-tiny') whose weights are a cached transformers repo."""
    hf = hf_vitpose("simple")
    hf.save_pretrained(tmp_path / "hf")
    populate(offline_cache, "tarpose-test/tiny-hf", tmp_path / "hf")
    tiny = dict(input_size=(64, 48), embed_dim=32, depth=2, num_heads=4, num_joints=5, decoder="simple")
    monkeypatch.setitem(registry.MODELS._entries, "test-tiny", lambda **kw: tarpose.ViTPose(**{**tiny, **kw}))
    monkeypatch.setitem(registry.MODELS._entries, "tar-test-tiny",
                        lambda **kw: tarpose.TemporalWrapper(tarpose.ViTPose(**tiny), **kw))
    cfg = PretrainedCfg("tarpose-test/tiny-hf", input_size=(64, 48), num_joints=5)
    monkeypatch.setitem(PRETRAINED._entries, "test-tiny", cfg)
    monkeypatch.setitem(PRETRAINED._entries, "tar-test-tiny", cfg)
    return hf


def test_pretrained_true_resolves_through_the_hub_cache(tiny_entry):
    with torch.no_grad():
        expected = tiny_entry(X).heatmaps
        model = tarpose.create_model("test-tiny", pretrained=True)
        assert isinstance(model, tarpose.ViTPose) and model.pretrained_cfg.input_size == (64, 48)
        torch.testing.assert_close(model(X), expected, atol=1e-4, rtol=0)
        temporal = tarpose.create_model("tar-test-tiny", pretrained=True, num_frames=3)
        assert isinstance(temporal, tarpose.TemporalWrapper) and temporal.num_frames == 3
        clip = torch.stack([X, X, X], dim=1)  # at initialisation: the single-frame heatmaps
        torch.testing.assert_close(temporal(clip), expected, atol=1e-4, rtol=0)


def test_pretrained_weights_must_fit_the_registered_architecture(tiny_entry, monkeypatch):
    deeper = dict(input_size=(64, 48), embed_dim=32, depth=3, num_heads=4, num_joints=5, decoder="simple")
    monkeypatch.setitem(registry.MODELS._entries, "test-tiny", lambda **kw: tarpose.ViTPose(**{**deeper, **kw}))
    with pytest.raises(CheckpointError, match=r"pretrained weights of 'test-tiny' \(tarpose-test/tiny-hf\) do not match.*backbone.blocks.2"):
        tarpose.create_model("test-tiny", pretrained=True)


def test_cli_models_lists_the_weights(capsys):
    from tarpose.cli import main

    assert main(["models", "vitpose-b*"]) == 0
    out = capsys.readouterr().out
    assert "vitpose-b-simple" in out and "usyd-community/vitpose-base-simple" in out


def test_an_uncached_pretrained_model_says_so_offline(offline_cache):
    with pytest.raises(FileNotFoundError, match="usyd-community/vitpose-base-simple is not a local path.*not in the local Hugging Face cache"):
        tarpose.create_model("vitpose-b-simple", pretrained=True)


# -- the real ViT-B structure ------------------------------------------------------------------

def hf_vit_b(decoder: str):
    """transformers' VitPoseForPoseEstimation with the Hub's ViT-B config (12 layers, 768 wide,
    12 heads, 256x192, eps 1e-12, out_indices [12], 17 joints), every tensor random."""
    transformers = pytest.importorskip("transformers")
    from tarpose.weights.load import skip_init

    config = transformers.VitPoseConfig(
        backbone_config=transformers.VitPoseBackboneConfig(out_indices=[12]),
        num_labels=17, use_simple_decoder=decoder == "simple",
    )
    with skip_init():  # its random init would be overwritten below anyway
        model = transformers.VitPoseForPoseEstimation(config).eval()
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.1 if p.ndim == 1 else 0.02
            p.copy_((1.0 if "layernorm" in name and name.endswith("weight") else 0.0)
                    + scale * torch.randn(p.shape, generator=generator))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
    return model


@pytest.fixture(scope="module")
def vit_b_hub(tmp_path_factory):
    """The two public ViT-B repos' layouts, saved by transformers into a Hub cache."""
    root = tmp_path_factory.mktemp("vit-b")
    cache = root / "hf-cache"
    crops = torch.randn(1, 3, 256, 192, generator=torch.Generator().manual_seed(8))
    expected = {}
    for decoder, repo in (("simple", "vitpose-base-simple"), ("classic", "vitpose-base")):
        model = hf_vit_b(decoder)
        model.save_pretrained(root / repo)  # transformers' own writer
        populate(cache, f"usyd-community/{repo}", root / repo)
        with torch.no_grad():
            expected[decoder] = model(crops).heatmaps
        if decoder == "simple":
            from test_weights_formats import hf_to_official

            torch.save({"state_dict": hf_to_official(model.state_dict())}, root / "vitpose-b-simple.pth")
        del model
    return cache, crops, expected, root


@pytest.fixture
def vit_b(vit_b_hub, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(vit_b_hub[0]))
    return vit_b_hub


@pytest.mark.slow
def test_vit_b_hub_checkpoints_give_transformers_heatmaps(vit_b):
    _, crops, expected, root = vit_b
    with torch.no_grad():
        simple = tarpose.load_model("usyd-community/vitpose-base-simple")
        assert simple.config == tarpose.ViTPoseConfig(decoder="simple", layer_norm_eps=1e-12)
        torch.testing.assert_close(simple(crops), expected["simple"], atol=1e-4, rtol=0)
        classic = tarpose.create_model("vitpose-b", pretrained=True)
        torch.testing.assert_close(classic(crops), expected["classic"], atol=1e-4, rtol=0)
        # the README's two-line path (one frame here, to spare four ViT-B passes): equal to the
        # single-frame model at initialisation
        model = tarpose.TemporalWrapper(tarpose.load_model("usyd-community/vitpose-base-simple"), num_frames=1)
        torch.testing.assert_close(model(crops.unsqueeze(1)), expected["simple"], atol=1e-4, rtol=0)
        # the official layout of the same weights: 12 heads follow from the 768 width
        official = tarpose.load_model(root / "vitpose-b-simple.pth", layer_norm_eps=1e-12)
        torch.testing.assert_close(official(crops), expected["simple"], atol=1e-4, rtol=0)

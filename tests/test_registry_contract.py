"""The contract of every registered model name (timm's habit): it builds at full size, runs, saves
and loads back bit-exactly through tarpose.load_model, and TemporalWrapper around it returns
exactly its heatmaps at initialisation.

Full-size builds happen on the meta device (no memory); the forward and round trip use a one-layer
backbone of the name's own width, heads, head and decoder at 64x48, so the contract holds for
every name at CPU cost."""

from __future__ import annotations

import contextlib

import pytest
import torch

import tarpose
from tarpose.factory import probe_model
from tarpose.models import count_parameters, skip_init

NAMES = tarpose.list_models()
SIZE = (64, 48)


def small(name: str, init: bool = True) -> torch.nn.Module:
    """``name`` with a one-layer backbone (one JTA layer, 3 frames) at 64x48."""
    torch.manual_seed(0)
    with contextlib.nullcontext() if init else skip_init():
        if name.startswith("tar-"):
            options = {"depth": 1, "jta_depth": 1, "num_frames": 3}
            return tarpose.create_model(name, input_size=SIZE, **options).eval()
        return tarpose.create_model(name, input_size=SIZE, depth=1).eval()


def randomise(model: torch.nn.Module) -> torch.nn.Module:
    """Every float tensor random (a zero gate or a zero bias would hide a bad load)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            low = 0.9 if tensor.ndim == 1 else -0.1  # norms, biases, BN variances near 1
            tensor.uniform_(low, low + 0.2, generator=g)
    return model


def inputs(model: torch.nn.Module) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    if isinstance(model, tarpose.TemporalWrapper):
        return torch.randn(2, model.num_frames, 3, *SIZE, generator=g)
    return torch.randn(2, 3, *SIZE, generator=g)


def test_every_name_is_covered():
    assert len(NAMES) >= 28 and {"vitpose-s", "tar-vitpose-h-simple", "tar-vitpose-demo"} <= set(NAMES)
    # each single-frame name has its temporal twin; a causal variant, tar-X-causal, has a base X too
    twins = {n.removesuffix("-causal") for n in NAMES if n.startswith("tar-")}
    assert {f"tar-{n}" for n in NAMES if not n.startswith("tar-")} == twins


@pytest.mark.parametrize("name", NAMES)
def test_builds_at_full_size(name):
    model = probe_model(name)
    kind = tarpose.TemporalWrapper if name.startswith("tar-") else tarpose.ViTPose
    assert isinstance(model, kind) and count_parameters(model) > 1e6
    assert model.data_config.input_size == ((128, 96) if "demo" in name else (256, 192))


@pytest.mark.parametrize("name", NAMES)
def test_runs_and_round_trips_bit_exactly(name, tmp_path):
    model = randomise(small(name, init=False))
    x = inputs(model)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 17, SIZE[0] // 4, SIZE[1] // 4) and torch.isfinite(out).all()
    tarpose.save_pretrained(model, tmp_path, name=name)
    loaded = tarpose.load_model(tmp_path)
    assert type(loaded) is type(model) and not loaded.training
    expected, got = model.state_dict(), loaded.state_dict()
    assert list(expected) == list(got)
    for key in expected:
        assert expected[key].dtype == got[key].dtype and torch.equal(expected[key], got[key]), key
    assert loaded.data_config == model.data_config
    with torch.no_grad():
        assert torch.equal(loaded(x), out)


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("tar-")])
def test_wrapper_equals_the_model_at_initialisation(name):
    model = randomise(small(name, init=False))
    wrapper = tarpose.TemporalWrapper(model, num_frames=3, jta_depth=1).eval()
    clip = torch.randn(2, 3, 3, *SIZE, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(wrapper(clip), model(clip[:, 1]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("tar-")])
def test_temporal_names_start_from_their_base(name):
    model = small(name)
    assert model.base_config == probe_model(name.removeprefix("tar-").removesuffix("-causal"), input_size=SIZE, depth=1).config
    if model.config.restore == "postnorm":  # the reference's restoring step is no identity
        assert name == "tar-vitpose-demo"
        return
    with torch.no_grad():
        randomise(model.encoder), randomise(model.decoder)
        clip = inputs(model)
        single = model.decoder(model.encoder(clip[:, model.target_index]))
        torch.testing.assert_close(model(clip), single, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_load_model_takes_every_name(name, tmp_path, monkeypatch):
    """The one loader takes every registered name: the bundled weights load (equal to
    ``create_model(name, pretrained=True)``); a name whose weights are on the Hub is looked up
    there (an empty cache, offline: the error names the repo); a name without weights says to
    build it with create_model."""
    from huggingface_hub import constants

    from tarpose.models.pretrained import pretrained_cfg

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    cfg = pretrained_cfg(name)
    if cfg is None:
        with pytest.raises(ValueError, match=rf"'{name}' is an architecture without pretrained weights: "
                                              rf"tarpose.create_model\('{name}'\)"):
            tarpose.load_model(name)
    elif "/" in cfg.source and not cfg.source.startswith("/"):  # a Hub repo id
        with pytest.raises(FileNotFoundError, match=f"HF_HUB_OFFLINE is set and {cfg.source}|{cfg.source}.*local Hugging Face cache"):
            tarpose.load_model(name)
    else:
        model = tarpose.load_model(name)
        again = tarpose.create_model(name, pretrained=True)
        assert model.pretrained_cfg == cfg and not model.training
        state, other = model.state_dict(), again.state_dict()
        assert list(state) == list(other) and all(torch.equal(state[k], other[k]) for k in state)

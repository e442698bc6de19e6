"""save_pretrained / load_model / push_to_hub in tarpose's one format: bit-exact round trips,
strict loading, Hub ids resolved from the cache offline, and the files tarpose 0.1 wrote."""

from __future__ import annotations

import json

import pytest
import torch

import tarpose
from conftest import hf_vitpose, tiny_vitpose
from hub_cache import offline_cache, populate  # noqa: F401  (offline_cache is a fixture)
from tarpose.weights import CheckpointError, read_safetensors, write_safetensors

CLIP = torch.randn(2, 3, 3, 64, 48, generator=torch.Generator().manual_seed(2))


def trained_wrapper(**kw) -> tarpose.TemporalWrapper:
    """A 3-frame wrapper whose every parameter is random, as after training."""
    wrapper = tarpose.TemporalWrapper(tiny_vitpose(kw.pop("decoder", "classic")), num_frames=3, jta_depth=2, **kw)
    with torch.no_grad():
        for p in wrapper.new_parameters():
            p.normal_(0, 0.3)
    return wrapper.eval()


def assert_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize(
    "kw",
    [{}, {"restore": "postnorm", "token_layout": "official"}, {"decoder": "simple", "target": "last", "mask_threshold": 0.3}],
    ids=["default", "official", "simple-last"],
)
def test_temporal_round_trip_is_bit_exact(tmp_path, kw):
    wrapper = trained_wrapper(**kw)
    tarpose.save_pretrained(wrapper, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((tmp_path / "config.json").read_text())  # JSON, no pickle anywhere
    assert config["vitpose"]["embed_dim"] == 32 and config["temporal"]["num_frames"] == 3
    read_safetensors(tmp_path / "model.safetensors")
    loaded = tarpose.load_model(tmp_path)
    assert_identical(wrapper, loaded)
    assert not loaded.training and loaded.base_config == wrapper.base_config
    assert (loaded.target, loaded.gra.restore, loaded.jta.token_layout) == (
        wrapper.target, wrapper.gra.restore, wrapper.jta.token_layout)
    with torch.no_grad():
        assert torch.equal(loaded(CLIP), wrapper(CLIP))
    assert isinstance(tarpose.load_model(tmp_path), tarpose.TemporalWrapper)


def test_vitpose_round_trip_and_model_card(tmp_path):
    model = tiny_vitpose("simple", drop_path_rate=0.1)
    tarpose.save_pretrained(model, tmp_path)
    loaded = tarpose.load_model(tmp_path)
    assert_identical(model, loaded)
    assert loaded.config == model.config
    assert isinstance(tarpose.load_model(tmp_path), tarpose.ViTPose)
    card = (tmp_path / "README.md").read_text()
    for text in ("library_name: tarpose", "license: apache-2.0", "arXiv:2603.05929",
                 "https://arxiv.org/abs/2603.05929", "Beyond Static Frames", "# ViTPose (tarpose)"):
        assert text in card, text


def test_from_pretrained_is_strict_and_names_the_keys(tmp_path):
    tarpose.save_pretrained(trained_wrapper(), tmp_path)
    state = read_safetensors(tmp_path / "model.safetensors")
    extra = {**state, "jta.layers.0.cross_attn.bias_k": torch.zeros(32)}
    del extra["gra.attn.out_proj.weight"]
    write_safetensors(extra, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): gra.attn.out_proj.weight; unexpected keys \(1\): jta.layers.0.cross_attn.bias_k"):
        tarpose.load_model(tmp_path)
    write_safetensors(state, tmp_path / "model.safetensors")
    config = json.loads((tmp_path / "config.json").read_text())
    config["temporal"]["jta_depth"] = 3  # a config that does not match the weights
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"missing keys \(\d+\): jta.layers.2"):
        tarpose.load_model(tmp_path)


def test_from_pretrained_overrides(tmp_path):
    wrapper = trained_wrapper()
    tarpose.save_pretrained(wrapper, tmp_path)
    short = tarpose.load_model(tmp_path, num_frames=5, attention="project")
    assert short.num_frames == 5 and short.jta.layers[0].cross_attn.strategy == "project"
    big = tarpose.load_model(tmp_path, input_size=(96, 64))
    assert big.base_config.input_size == (96, 64) and big.encoder.pos_embed.shape == (1, 24, 32)
    clip = torch.randn(1, 3, 3, 96, 64)
    with torch.no_grad():  # load-time resize == the run-time resize of the original
        torch.testing.assert_close(big(clip), wrapper(clip), atol=1e-6, rtol=0)
    with pytest.raises(TypeError, match=r"unknown options \['num_frame'\]"):
        tarpose.load_model(tmp_path, num_frame=3)
    tarpose.save_pretrained(tiny_vitpose(), tmp_path / "single")
    with pytest.raises(TypeError, match=r"single-frame ViTPose; \['num_frames'\] apply to temporal models"):
        tarpose.load_model(tmp_path / "single", num_frames=3)
    assert isinstance(tarpose.load_model(tmp_path / "single"), tarpose.ViTPose)  # as saved


def test_save_pretrained_refuses_models_it_could_not_rebuild(tmp_path):
    hf = tarpose.TemporalWrapper(hf_vitpose(), num_frames=3)
    with pytest.raises(ValueError, match="need a TemporalWrapper over a built-in tarpose.ViTPose.*load_model"):
        tarpose.save_pretrained(hf, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()  # nothing written
    vit = tiny_vitpose()
    parts = tarpose.TemporalWrapper(encoder=vit.backbone, decoder=vit.keypoint_head, dim=32, num_joints=5)
    with pytest.raises(ValueError, match="built-in tarpose.ViTPose"):
        tarpose.save_pretrained(parts, tmp_path / "parts")


def test_push_to_hub_uploads_what_save_pretrained_writes(tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    uploaded = {}

    class Repo:
        repo_id = "me/tar-tiny"

    def upload_folder(self, *, repo_id, folder_path, **kw):
        uploaded.update({p.name: p.read_bytes() for p in __import__("pathlib").Path(folder_path).iterdir()})
        return f"https://huggingface.co/{repo_id}/commit/1"

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: Repo())
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    wrapper = trained_wrapper()
    assert tarpose.push_to_hub(wrapper, "me/tar-tiny").endswith("/commit/1")
    assert sorted(uploaded) == ["README.md", "config.json", "model.safetensors"]
    assert 'tarpose.load_model("me/tar-tiny")' in uploaded["README.md"].decode()
    created = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: created.append(repo_id))
    with pytest.raises(ValueError, match="built-in tarpose.ViTPose"):
        tarpose.push_to_hub(tarpose.TemporalWrapper(hf_vitpose(), num_frames=3), "me/hf")
    assert created == []  # refused before touching the Hub


def test_hub_ids_resolve_from_the_cache_offline(tmp_path, offline_cache):
    wrapper = trained_wrapper()
    tarpose.save_pretrained(wrapper, tmp_path / "v1")
    first = populate(offline_cache, "tarpose-test/tar-tiny", tmp_path / "v1")
    with torch.no_grad():
        for p in wrapper.new_parameters():
            p.add_(1.0)
    tarpose.save_pretrained(wrapper, tmp_path / "v2")
    populate(offline_cache, "tarpose-test/tar-tiny", tmp_path / "v2", branch="main")  # main moves on

    latest = tarpose.load_model("tarpose-test/tar-tiny")
    assert_identical(latest, wrapper)
    pinned = tarpose.load_model("tarpose-test/tar-tiny", revision=first)
    assert not torch.equal(pinned.gra.attn.out_proj.weight, latest.gra.attn.out_proj.weight)
    with pytest.raises(FileNotFoundError, match=r"tarpose-test/absent is not a local path.*not in the local Hugging Face cache.*HF_HUB_OFFLINE=1"):
        tarpose.load_model("tarpose-test/absent")
    with pytest.raises(FileNotFoundError, match=r"revision v2.*not in the local Hugging Face cache"):
        tarpose.load_model("tarpose-test/tar-tiny", revision="v2")


def test_a_deep_copy_saves_like_the_original(tmp_path):
    # torch.compile / torch.export / deepcopy of the wrapper: tests/test_wrapper.py
    import copy

    wrapper = trained_wrapper(restore="postnorm")
    twin = copy.deepcopy(wrapper)
    assert twin.config == wrapper.config and twin.base_config == wrapper.base_config
    assert twin.base_config is not wrapper.base_config
    tarpose.save_pretrained(twin, tmp_path)
    assert_identical(tarpose.load_model(tmp_path), wrapper)


def test_files_and_directories_resolve(tmp_path):
    from tarpose.weights import resolve_source

    model = tiny_vitpose()
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
               tmp_path / "only.pth")  # a DataParallel-prefixed state dict, alone in a directory
    found = resolve_source(tmp_path)
    assert found.weights == tmp_path / "only.pth" and found.config is None
    loaded = tarpose.load_model(tmp_path, num_heads=4)  # detected: tarpose names, shapes give the rest
    assert_identical(loaded, model)
    assert loaded.data_config.geometry == "udp"  # the default: a bare state dict records none
    (tmp_path / "other.pth").write_bytes((tmp_path / "only.pth").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"holds no model.safetensors or pytorch_model.bin \(only.pth, other.pth\); pass filename="):
        resolve_source(tmp_path)
    assert resolve_source(tmp_path, filename="other.pth").weights == tmp_path / "other.pth"
    with pytest.raises(FileNotFoundError, match="absent.pth not found in"):
        resolve_source(tmp_path, filename="absent.pth")


def test_models_written_by_tarpose_train_load(tmp_path):
    from tarpose.training import export_trained

    options = {"input_size": [64, 48], "jta_depth": 1, "num_joints": 5, "num_frames": 3}
    model = tarpose.create_model("tar-vitpose-s", **options).eval()
    with torch.no_grad():
        for p in model.new_parameters():
            p.normal_(0, 0.3)
    export_trained(tmp_path / "run", model, "tar-vitpose-s")  # what `tarpose train` writes at its end
    assert_identical(tarpose.load_model(tmp_path / "run"), model)
    assert_identical(tarpose.load_model(tmp_path / "run"), model)
    (tmp_path / "run" / "config.json").unlink()  # the config also travels in the file's metadata
    loaded = tarpose.load_model(tmp_path / "run" / "model.safetensors")
    assert_identical(loaded, model)
    with torch.no_grad():
        assert torch.equal(loaded(CLIP), model(CLIP))

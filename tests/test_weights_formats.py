"""Every ViTPose checkpoint layout loads into tarpose's ViTPose and gives the source library's
heatmaps: transformers (its own save_pretrained and forward), the official ViTPose / ViTPose+
.pth, easy_ViTPose and mmpose 1.x (the same weights rewritten in their key names)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tarpose
from conftest import hf_vitpose
from tarpose.weights import CheckpointError, detect_format, find_state_dict, read_checkpoint

X = torch.randn(3, 3, 64, 48, generator=torch.Generator().manual_seed(1))
TINY = {"num_heads": 4}  # a 32-wide test model: files without a config cannot say its heads
HF_HEAD = {"deconv1": "deconv_layers.0", "batchnorm1": "deconv_layers.1",
           "deconv2": "deconv_layers.3", "batchnorm2": "deconv_layers.4", "conv": "final_layer"}


def hf_to_official(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers keys -> the official ViTPose keys, written out from the two repos' modules."""
    out: dict[str, torch.Tensor] = {}
    for key, value in hf.items():
        parts = key.split(".")
        if key.startswith("backbone.embeddings.patch_embeddings.projection."):
            out["backbone.patch_embed.proj." + parts[-1]] = value
        elif key == "backbone.embeddings.position_embeddings":
            out["backbone.pos_embed"] = value  # both add slot 0 to every position
        elif key.startswith("backbone.layernorm."):
            out["backbone.last_norm." + parts[-1]] = value
        elif key.startswith("backbone.encoder.layer."):
            i, rest = parts[3], ".".join(parts[4:])
            if rest.startswith("attention.attention."):
                if parts[6] == "query":
                    qkv = [hf[key.replace(".query.", f".{n}.")] for n in ("query", "key", "value")]
                    out[f"backbone.blocks.{i}.attn.qkv.{parts[-1]}"] = torch.cat(qkv)
                continue
            rest = (rest.replace("attention.output.dense", "attn.proj")
                    .replace("layernorm_before", "norm1").replace("layernorm_after", "norm2"))
            out[f"backbone.blocks.{i}.{rest}"] = value
        elif key.startswith("head."):
            out[f"keypoint_head.{HF_HEAD[parts[1]]}.{'.'.join(parts[2:])}"] = value
    return out


def official_to_mmpose(official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official keys -> mmpose 1.x / mmpretrain keys. The mmpretrain ViT (with_cls_token=False)
    holds (1, N, C) position embeddings, added as they are: the official table's slot 0 folded in."""
    names = {"norm1": "ln1", "norm2": "ln2", "mlp.fc1": "ffn.layers.0.0", "mlp.fc2": "ffn.layers.1"}
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        if key == "backbone.pos_embed":
            out[key] = value[:, 1:] + value[:, :1]
        elif key.startswith("backbone.patch_embed.proj."):
            out[key.replace("proj", "projection")] = value
        elif key.startswith("backbone.last_norm."):
            out[key.replace("last_norm", "ln1")] = value
        elif key.startswith("backbone.blocks."):
            for old, new in names.items():
                key = key.replace(f".{old}.", f".{new}.")
            out[key.replace("backbone.blocks.", "backbone.layers.")] = value
        else:
            out[key.replace("keypoint_head.", "head.")] = value
    return out


def heatmaps(model, x=X, **kw) -> torch.Tensor:
    with torch.no_grad():
        out = model(x, **kw)
    return getattr(out, "heatmaps", out)


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_transformers_save_pretrained_loads_with_its_heatmaps(tmp_path, decoder):
    hf = hf_vitpose(decoder)
    hf.save_pretrained(tmp_path)  # transformers' own writer: config.json + model.safetensors
    model = tarpose.load_model(tmp_path)
    assert isinstance(model, tarpose.ViTPose) and not model.training
    assert (model.config.decoder, model.config.depth, model.config.num_heads) == (decoder, 2, 4)
    torch.testing.assert_close(heatmaps(model), heatmaps(hf), atol=1e-4, rtol=0)


def test_transformers_layer_norm_eps_and_output_stage_follow_its_config(tmp_path):
    # transformers' default eps is 1e-12; out_indices=[1] makes the head read stage 1 of 2
    hf = hf_vitpose("simple", layer_norm_eps=1e-12, out_indices=[1])
    hf.save_pretrained(tmp_path)
    model = tarpose.load_model(tmp_path)
    assert model.config.layer_norm_eps == 1e-12 and model.config.depth == 1
    torch.testing.assert_close(heatmaps(model), heatmaps(hf), atol=1e-4, rtol=0)


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_official_easy_vitpose_and_mmpose_layouts_give_the_same_heatmaps(tmp_path, decoder):
    hf = hf_vitpose(decoder)
    expected = heatmaps(hf)
    official = hf_to_official(hf.state_dict())
    files = {
        # mmcv checkpoint: metadata with a numpy float (a best score) beside the state dict
        "official": ({"meta": {"best_score": np.float64(0.75), "epoch": 210}, "state_dict": official}, "pth"),
        "easy_vitpose": (official, "pth"),  # easy_ViTPose: the bare state dict
        "mmpose": ({"meta": {"dataset_meta": {"num_keypoints": 5}}, "state_dict": official_to_mmpose(official)}, "pth"),
    }
    for name, (obj, suffix) in files.items():
        path = tmp_path / f"{name}.{suffix}"
        torch.save(obj, path)
        state = find_state_dict(read_checkpoint(path), source=str(path))
        assert detect_format(state) == ("mmpose" if name == "mmpose" else "official")
        model = tarpose.load_model(path, **TINY)
        torch.testing.assert_close(heatmaps(model), expected, atol=1e-4, rtol=0, msg=name)


def test_vitpose_plus_experts_are_merged_for_the_chosen_dataset(tmp_path):
    hf = hf_vitpose("classic", num_experts=3, part_features=8)
    hf.save_pretrained(tmp_path / "hf")
    official = hf_to_official(hf.state_dict())
    assert any(".mlp.experts.2." in k for k in official)
    torch.save({"state_dict": official}, tmp_path / "plus.pth")
    # ViTPose's tools/model_split.py output: fc2 merged with expert 0, experts left beside it
    split = dict(official)
    for key in [k for k in split if ".mlp.fc2." in k]:
        split[key] = torch.cat([split[key], split[key.replace("fc2.", "experts.0.")]])
    torch.save({"state_dict": split}, tmp_path / "split.pth")
    for index in (None, 0, 2):
        expected = heatmaps(hf, dataset_index=torch.full((3,), index or 0))
        for source in (tmp_path / "hf", tmp_path / "plus.pth", tmp_path / "split.pth"):
            model = tarpose.load_model(source, dataset_index=index, **TINY)
            torch.testing.assert_close(heatmaps(model), expected, atol=1e-4, rtol=0, msg=f"{source} {index}")
    with pytest.raises(CheckpointError, match=r"dataset_index=3 is out of range.*experts \[0, 1, 2\]"):
        tarpose.load_model(tmp_path / "plus.pth", dataset_index=3, **TINY)
    hf_vitpose().save_pretrained(tmp_path / "single")
    with pytest.raises(CheckpointError, match="dataset_index=1 selects a ViTPose\\+ expert or head"):
        tarpose.load_model(tmp_path / "single", dataset_index=1)


def test_vitpose_plus_associate_head_of_the_chosen_dataset(tmp_path):
    """Dataset 1 (AIC) uses expert 1 and associate head 0, cut to 14 joints as the split tool does."""
    plus = hf_vitpose("classic", num_experts=3, part_features=8)
    aic = hf_vitpose("classic", num_joints=14, num_experts=3, part_features=8, seed=5)
    aic.backbone.load_state_dict(plus.backbone.state_dict())
    official = hf_to_official(plus.state_dict())
    for key, value in hf_to_official(aic.state_dict()).items():
        if key.startswith("keypoint_head."):
            if "final_layer" in key:  # stored wider than the dataset's joints
                value = torch.cat([value, torch.randn(6, *value.shape[1:])])
            official[key.replace("keypoint_head.", "associate_keypoint_heads.0.")] = value
    torch.save({"state_dict": official}, tmp_path / "plus.pth")
    model = tarpose.load_model(tmp_path / "plus.pth", dataset_index=1, **TINY)
    assert model.num_joints == 14
    torch.testing.assert_close(heatmaps(model), heatmaps(aic, dataset_index=torch.ones(3, dtype=torch.long)),
                               atol=1e-4, rtol=0)
    coco = tarpose.load_model(tmp_path / "plus.pth", **TINY)  # default: dataset 0, keypoint_head
    torch.testing.assert_close(heatmaps(coco), heatmaps(plus, dataset_index=torch.zeros(3, dtype=torch.long)),
                               atol=1e-4, rtol=0)


def test_official_cls_slot_is_added_but_mmpose_drops_it(tmp_path):
    """The official forward adds pos[:, :1] to every position; mmpretrain's loader (with
    with_cls_token=False) keeps pos[:, 1:] of a (1, 1+N, C) table."""
    hf = hf_vitpose("simple")
    official = hf_to_official(hf.state_dict())
    official["backbone.cls_token"] = torch.randn(1, 1, 32)  # present in some official files, unused
    torch.save({"state_dict": official}, tmp_path / "official.pth")
    torch.testing.assert_close(heatmaps(tarpose.load_model(tmp_path / "official.pth", **TINY)), heatmaps(hf),
                               atol=1e-4, rtol=0)
    mm = official_to_mmpose({k: v for k, v in official.items() if k != "backbone.cls_token"})
    table = official["backbone.pos_embed"]  # (1, 1+12, 32), slot 0 non-zero
    torch.save({"state_dict": {**mm, "backbone.pos_embed": table}}, tmp_path / "with_slot.pth")
    torch.save({"state_dict": {**mm, "backbone.pos_embed": table[:, 1:]}}, tmp_path / "dropped.pth")
    with_slot = heatmaps(tarpose.load_model(tmp_path / "with_slot.pth", **TINY))
    assert torch.equal(with_slot, heatmaps(tarpose.load_model(tmp_path / "dropped.pth", **TINY)))
    assert (with_slot - heatmaps(hf)).abs().max() > 1e-3  # dropping is not adding


def test_other_input_size_resizes_position_embeddings_bicubically(tmp_path):
    hf = hf_vitpose("classic")
    hf.save_pretrained(tmp_path)
    big = tarpose.load_model(tmp_path, input_size=(96, 64))
    pos = hf.state_dict()["backbone.embeddings.position_embeddings"]
    grid = (pos[:, 1:] + pos[:, :1]).reshape(1, 4, 3, 32).permute(0, 3, 1, 2)  # (1, c, h, w)
    resized = F.interpolate(grid, size=(6, 4), mode="bicubic", align_corners=False)
    torch.testing.assert_close(big.backbone.pos_embed.data, resized.flatten(2).transpose(1, 2))
    native = tarpose.load_model(tmp_path)  # resizes at run time for a 96x64 input: the same
    x = torch.randn(2, 3, 96, 64)
    torch.testing.assert_close(heatmaps(big, x), heatmaps(native, x), atol=1e-6, rtol=0)
    assert big.config.input_size == (96, 64) and heatmaps(big, x).shape == (2, 5, 24, 16)


def test_weights_without_config_need_what_shapes_cannot_tell(tmp_path):
    from safetensors.torch import save_file

    hf = hf_vitpose("classic")
    save_file(hf.state_dict(), tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError, match="embed_dim=32 is not a ViTPose size.*pass num_heads="):
        tarpose.load_model(tmp_path / "bare.safetensors")
    model = tarpose.load_model(tmp_path / "bare.safetensors", num_heads=4, layer_norm_eps=1e-6)
    assert model.config.input_size == (64, 48)  # 12 position embeddings: a 4x3 grid
    torch.testing.assert_close(heatmaps(model), heatmaps(hf), atol=1e-4, rtol=0)


def test_wrong_architectures_are_refused_with_the_keys_named(tmp_path):
    official = hf_to_official(hf_vitpose("classic").state_dict())
    cases = {
        "resnet": ({"conv1.weight": torch.randn(8, 3, 7, 7), "fc.weight": torch.randn(2, 8)},
                   r"not a ViTPose checkpoint tarpose knows.*conv1.weight"),
        "extra": ({**official, "backbone.blocks.0.attn.rel_pos_h": torch.randn(7, 8)},
                  r"does not fit ViTPose: unexpected keys \(1\): backbone.blocks.0.attn.rel_pos_h"),
        "no-head": ({k: v for k, v in official.items() if not k.startswith("keypoint_head.")},
                    r"not a ViTPose checkpoint tarpose knows"),
    }
    for name, (state, message) in cases.items():
        torch.save({"state_dict": state}, tmp_path / f"{name}.pth")
        with pytest.raises(CheckpointError, match=message):
            tarpose.load_model(tmp_path / f"{name}.pth", **TINY)
    torch.save(official, tmp_path / "ok.pth")
    with pytest.raises(CheckpointError, match=r"shape mismatches.*patch_embed.proj.weight: checkpoint \(32, 3, 16, 16\) vs model \(64"):
        tarpose.load_model(tmp_path / "ok.pth", embed_dim=64, num_heads=4)
    with pytest.raises(CheckpointError, match=r"missing keys \(12\): backbone.blocks.2"):
        tarpose.load_model(tmp_path / "ok.pth", depth=3, num_heads=4)
    with pytest.raises(TypeError, match=r"unknown options \['num_frame'\]"):
        tarpose.load_model(tmp_path / "ok.pth", num_frame=5, **TINY)
    with pytest.raises(ValueError, match="unknown checkpoint format .timm.; known: tar_official"):
        tarpose.load_model(tmp_path / "ok.pth", format="timm", **TINY)


def test_files_that_record_no_geometry_and_models_built_in_code(tmp_path):
    """A tarpose file must record its geometry (one that does not is refused, naming what is
    missing: nothing is guessed); a wrapper over another library's ViTPose takes UDP; a built
    model takes the geometry it is given; an unknown one is refused by name."""
    hf = hf_vitpose("classic")
    vit = tarpose.ViTPose(tarpose.ViTPoseConfig(input_size=(64, 48), embed_dim=32, depth=1, num_heads=4, num_joints=5))
    for name, model in {"single": vit, "temporal": tarpose.TemporalWrapper(vit, num_frames=3, jta_depth=1)}.items():
        assert geometry_of(model) == "udp"  # a new model's
        tarpose.save_pretrained(model, tmp_path / name)
        config_file = tmp_path / name / "config.json"
        config = json.loads(config_file.read_text())
        del config["data"]["geometry"]  # as development versions wrote it before it was recorded
        config_file.write_text(json.dumps(config))
        with pytest.raises(CheckpointError, match=r"config.json lacks \['data.geometry'\]"):
            tarpose.load_model(tmp_path / name)
    assert geometry_of(tarpose.TemporalWrapper(hf, num_frames=3, jta_depth=1)) == "udp"  # transformers'
    assert geometry_of(tarpose.create_model("vitpose-s", geometry="hrnet")) == "hrnet"
    temporal = tarpose.create_model("tar-vitpose-s", geometry="biased", num_frames=3)
    assert geometry_of(temporal) == "biased"
    assert geometry_of(tarpose.wrap("tar-vitpose-s", vit, geometry="biased")) == "biased"
    tarpose.save_pretrained(vit, tmp_path / "recorded")
    with pytest.raises(CheckpointError, match="geometry must be one of"):
        tarpose.load_model(tmp_path / "recorded", geometry="msra")
    with pytest.raises(ValueError, match="geometry must be one of"):
        tarpose.create_model("vitpose-s", geometry="msra")


def geometry_of(model) -> str:
    """Where a model keeps the geometry of its weights."""
    return model.data_config.geometry


def saved_geometry(directory) -> str:
    """The geometry a ``save_pretrained`` directory's config.json records."""
    return json.loads((directory / "config.json").read_text())["data"]["geometry"]


def source_files(tmp_path) -> dict[str, tuple]:
    """One checkpoint of every source the loader knows: ``{name: (path, loader kwargs, geometry
    the issue says it was trained in)}``."""
    from test_convert import reference_checkpoint

    hf = hf_vitpose("classic")
    hf.save_pretrained(tmp_path / "transformers")
    official = hf_to_official(hf.state_dict())
    torch.save({"meta": {"epoch": 210}, "state_dict": official}, tmp_path / "official.pth")
    torch.save(official, tmp_path / "easy_vitpose.pth")  # easy_ViTPose: the bare state dict
    torch.save({"state_dict": official_to_mmpose(official)}, tmp_path / "mmpose.pth")
    reference_checkpoint(tmp_path / "tar_official.pt")
    ours = tarpose.load_model(tmp_path / "transformers", geometry="hrnet")
    tarpose.save_pretrained(ours, tmp_path / "tarpose")  # records the geometry it was given
    return {
        "transformers": (tmp_path / "transformers", {}, "udp"),
        "official": (tmp_path / "official.pth", TINY, "udp"),
        "easy_vitpose": (tmp_path / "easy_vitpose.pth", {**TINY, "format": "easy_vitpose"}, "udp"),
        "mmpose": (tmp_path / "mmpose.pth", TINY, "udp"),
        "tar_official": (tmp_path / "tar_official.pt", {"num_heads": 4}, "hrnet"),
        "tarpose": (tmp_path / "tarpose", {}, "hrnet"),
    }


def test_every_checkpoint_source_loads_in_its_training_geometry_saved_loaded_back_and_overridable(tmp_path):
    """Each layout the loader reads gives the geometry its weights were trained in (UDP for every
    public ViTPose layout, HRNet's for the official TAR-ViTPose code, a tarpose checkpoint's own);
    save_pretrained records it in config.json, it loads back, and a geometry the user names wins
    over the source's, also after a save and load."""
    from tarpose.weights.formats import FORMATS

    sources = source_files(tmp_path)
    assert set(sources) == set(FORMATS)  # a new layout must say its geometry here
    assert [n for n, f in FORMATS.items() if f.geometry is None] == ["tarpose"]  # it records its own
    for name, (path, kwargs, expected) in sources.items():
        if FORMATS.get(name).geometry is not None:
            assert FORMATS.get(name).geometry == expected, name
        model = tarpose.load_model(path, **kwargs)
        assert geometry_of(model) == expected, name
        tarpose.save_pretrained(model, tmp_path / "saved" / name)
        assert saved_geometry(tmp_path / "saved" / name) == expected, name
        assert geometry_of(tarpose.load_model(tmp_path / "saved" / name)) == expected, name
        other = "biased" if expected != "biased" else "udp"
        vit_kwargs = {k: v for k, v in kwargs.items() if k != "vitpose"} | kwargs.get("vitpose", {})
        overridden = tarpose.load_model(path, **kwargs, geometry=other)
        assert geometry_of(overridden) == other, name
        assert geometry_of(tarpose.load_model(path, **vit_kwargs)) == expected, name
        assert geometry_of(tarpose.load_model(path, **vit_kwargs, geometry=other)) == other, name
        tarpose.save_pretrained(overridden, tmp_path / "overridden" / name)
        assert saved_geometry(tmp_path / "overridden" / name) == other, name
        assert geometry_of(tarpose.load_model(tmp_path / "overridden" / name)) == other, name
        # a saved geometry is a source too: naming another one at load wins over it
        again = tarpose.load_model(tmp_path / "overridden" / name, geometry=expected)
        assert geometry_of(again) == expected, name

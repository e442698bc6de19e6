"""Official TAR-ViTPose checkpoints: converted into a tarpose TemporalWrapper that computes what
the reference code computes (its key names, its token layout, its run-time position-embedding
resize), through the API and ``tarpose convert``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tarpose
from tarpose.weights.convert import convert_tar_checkpoint
from conftest import tiny_vitpose
from reference_tar import ReferenceTARViTPose, ReferenceTemporalHead, randomise_
from tarpose.cli import main
from tarpose.weights import CheckpointError, read_checkpoint

RUN_SIZE = (128, 96)  # the tiny reference's 384x288: position embeddings stored 4x3, run at 8x6
VIT_S = 384  # a ViTPose width: its 12 heads follow from it (a 32-wide test ViT needs them named)
NARROW = {"num_heads": 4}  # the backbone's heads (a ViTPose field; the JTA's are jta_heads)


def mmpretrain_names(vit_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """tarpose ViT names -> mmpretrain VisionTransformer names (with_cls_token=False)."""
    table = {"patch_embed.proj.": "patch_embed.projection.", "last_norm.": "ln1.", ".norm1.": ".ln1.",
             ".norm2.": ".ln2.", ".mlp.fc1.": ".ffn.layers.0.0.", ".mlp.fc2.": ".ffn.layers.1.",
             "blocks.": "layers."}
    out = {}
    for key, value in vit_state.items():
        for old, new in table.items():
            key = key.replace(old, new)
        out[key] = value
    return out


def reference_checkpoint(path, seed: int = 0, width: int = 32) -> ReferenceTARViTPose:
    """A reference TAR-ViTPose and its checkpoint, saved as the reference code saves it."""
    heads = {VIT_S: 12, 32: 4}[width]  # ViT built for 64x48, as mmpretrain's for 256x192:
    vit = tiny_vitpose("classic", seed=seed, embed_dim=width, num_heads=heads, depth=1)
    generator = torch.Generator().manual_seed(seed)
    head = randomise_(ReferenceTemporalHead(width, num_joints=5, num_frames=5, depth=2, heads=4), generator)
    reference = ReferenceTARViTPose(vit.backbone, vit.keypoint_head, head).eval()
    backbone = mmpretrain_names(vit.backbone.state_dict())
    state = {f"model.backbone.{k}": v for k, v in backbone.items()}  # TAR_ViTPose.model (mmpose)
    for key, value in vit.keypoint_head.state_dict().items():
        module, rest = key.split(".", 1)
        state[f"model.head.{key}"] = value
        state[f"heatmap_head.{0 if module == 'deconv_layers' else 1}.{rest}"] = value
    state.update({f"backbone.{k}": v for k, v in backbone.items()})  # TAR_ViTPose.backbone
    state.update(head.state_dict())  # query_feat, query_pe, masked_attention_layers.i.mha...
    torch.save({"epoch": 17, "model_state_dict": state, "best_ap": np.float64(84.0),
                "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 5e-6}]}}, path)
    return reference


def test_converted_checkpoint_computes_the_reference(tmp_path):
    reference = reference_checkpoint(tmp_path / "tar.pt")
    assert "masked_attention_layers.1.mha.in_proj_weight" in read_checkpoint(tmp_path / "tar.pt")["model_state_dict"]
    converted = convert_tar_checkpoint(tmp_path / "tar.pt", tmp_path / "out", input_size=RUN_SIZE, **NARROW)
    loaded = tarpose.load_model(tmp_path / "out")
    assert (loaded.jta.token_layout, loaded.gra.restore, loaded.num_frames) == ("official", "postnorm", 5)
    clip = torch.randn(2, 5, 3, *RUN_SIZE, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = reference(clip)
        assert torch.isfinite(expected).all()
        torch.testing.assert_close(loaded(clip), expected, atol=1e-5, rtol=0)
        assert torch.equal(converted(clip), loaded(clip))
        spatial = tarpose.load_model(tmp_path / "tar.pt", input_size=RUN_SIZE, token_layout="spatial", **NARROW)
        assert (spatial(clip) - expected).abs().max() > 1e-3  # the layout switch matters
        # its single-frame part (the encoder and decoder): the reference's initial heatmaps
        frames = clip.flatten(0, 1)
        _, initial = loaded.encode(frames)
        torch.testing.assert_close(initial, reference.decoder(reference.encoder(frames)), atol=1e-5, rtol=0)


def test_default_conversion_runs_at_the_reference_input_size(tmp_path):
    reference_checkpoint(tmp_path / "tar.pt", width=VIT_S)
    convert_tar_checkpoint(tmp_path / "tar.pt", tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["vitpose"]["input_size"] == [384, 288] and config["vitpose"]["num_heads"] == 12
    expected = {"num_frames": 5, "jta_depth": 2, "jta_heads": 4, "jta_mlp_ratio": 2.0, "mask_threshold": 0.2,
                "gra_heads": 4, "restore": "postnorm", "token_layout": "official", "target": "centred"}
    assert {k: config["temporal"][k] for k in expected} == expected
    model = tarpose.load_model(tmp_path / "out")
    assert model.encoder.pos_embed.shape == (1, 24 * 18, VIT_S)  # 4x3 resized to 24x18, bicubic
    # trained in the reference's HRNet-style crops (tarpose.geometry), recorded in the conversion
    assert config["data"]["geometry"] == "hrnet" and model.data_config.geometry == "hrnet"
    assert tarpose.load_model(tmp_path / "tar.pt").data_config.geometry == "hrnet"


def test_copies_that_disagree_and_other_layouts_are_refused(tmp_path):
    reference_checkpoint(tmp_path / "tar.pt")
    checkpoint = read_checkpoint(tmp_path / "tar.pt")
    state = checkpoint["model_state_dict"]  # its two copies share storage: replace one
    state["model.backbone.ln1.weight"] = state["model.backbone.ln1.weight"] + 1
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"two copies of the same modules disagree.*ln1.weight"):
        convert_tar_checkpoint(tmp_path / "bad.pt", tmp_path / "bad", **NARROW)
    tarpose.save_pretrained(tiny_vitpose(), tmp_path / "vitpose")
    with pytest.raises(CheckpointError, match="is not an official TAR-ViTPose checkpoint"):
        convert_tar_checkpoint(tmp_path / "vitpose", tmp_path / "out", **NARROW)
    assert not (tmp_path / "bad").exists() and not (tmp_path / "out").exists()
    with pytest.raises(CheckpointError, match="embed_dim=32 is not a ViTPose size.*pass num_heads="):
        tarpose.load_model(tmp_path / "tar.pt")  # the JTA's num_heads would not name the ViT's


def test_cli_convert(tmp_path, capsys):
    reference = reference_checkpoint(tmp_path / "tar.pt", seed=1, width=VIT_S)
    code = main(["convert", str(tmp_path / "tar.pt"), str(tmp_path / "out"), "--input-size", *map(str, RUN_SIZE)])
    assert code == 0 and "token_layout='official'" in capsys.readouterr().out
    clip = torch.randn(1, 5, 3, *RUN_SIZE)
    with torch.no_grad():  # the same model as the API's (which matches the reference above)
        out = tarpose.load_model(tmp_path / "out")(clip)
        assert torch.equal(out, tarpose.load_model(tmp_path / "tar.pt", input_size=RUN_SIZE)(clip))
        torch.testing.assert_close(out, reference(clip), atol=1e-3, rtol=1e-5)  # 384 wide: |h| ~ 20
    assert main(["convert", str(tmp_path / "missing.pt"), str(tmp_path / "x")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["convert", str(tmp_path / "tar.pt"), str(tmp_path / "file")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err

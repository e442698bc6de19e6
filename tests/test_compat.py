"""What code and files of tarpose 0.1 still do: they work as they did and say what to write
instead (one place to look when the deprecations expire).

``tests/data/legacy`` holds files tarpose 0.1 wrote, made with its own code::

    vit = tarpose.ViTPose(img_size=(32, 32), embed_dim=16, depth=1, num_heads=2, num_joints=3,
                          deconv_channels=8)                          # every parameter ~ N(0, 0.3)
    vit.save_pretrained("vitpose-v1")
    tar = tarpose.TemporalWrapper(vit, num_frames=3, depth=1, num_heads=2, target="center",
                                  restore="postnorm")                 # new parameters ~ N(0, 0.3)
    tar.save_pretrained("tar-v1")
    options = {"img_size": [32, 32], "embed_dim": 16, "vitpose": {"depth": 1, "num_heads": 2},
               "depth": 1, "num_heads": 2, "num_joints": 3, "deconv_channels": 8, "num_frames": 3}
    trained = tarpose.create_model("tar-vitpose-s", **options)       # every parameter ~ N(0, 0.3)
    save_trained("trained-v1", trained, {"name": "tar-vitpose-s", "options": options})
    # trained-v1/config.json removed: the weights file alone, as the bundled demo weights were

and ``expected.safetensors`` the three models' outputs on a fixed clip, computed by tarpose 0.1.
"""

from __future__ import annotations

import json
import sys
import warnings

import pytest
import torch
from conftest import ROOT, tiny_vitpose
from toy_pose_data import ToyPoses

import tarpose
from tarpose.training import TrainConfig, load_checkpoint, save_checkpoint, train
from tarpose.weights import read_safetensors

LEGACY = ROOT / "tests" / "data" / "legacy"
FILES = {
    "vitpose-v1": LEGACY / "vitpose-v1",
    "tar-v1": LEGACY / "tar-v1",
    "trained-v1": LEGACY / "trained-v1" / "model.safetensors",
}


@pytest.mark.parametrize("name", FILES)
def test_files_of_tarpose_0_1_load_as_they_were(name, tmp_path):
    expected = read_safetensors(LEGACY / "expected.safetensors")
    with pytest.warns(FutureWarning, match=r"layout of tarpose 0\.1.*re-save it with tarpose\.save_pretrained"):
        model = tarpose.load_model(FILES[name])
    assert model.data_config.geometry == "biased"  # the geometry 0.1 cropped and decoded in
    weights = FILES[name] / "model.safetensors" if FILES[name].is_dir() else FILES[name]
    stored = read_safetensors(weights)
    assert stored.keys() == model.state_dict().keys()
    assert all(torch.equal(stored[k], v) for k, v in model.state_dict().items())  # strictly, every key
    clip = expected["clip"]
    with torch.no_grad():
        out = model(clip[:, 1]) if isinstance(model, tarpose.ViTPose) else model(clip)
    torch.testing.assert_close(out, expected[name], atol=1e-6, rtol=0)  # bit-equal on the machine that wrote them
    if name == "tar-v1":
        assert (model.target, model.gra.restore, model.config.jta_heads, model.config.gra_heads) == (
            "centred", "postnorm", 2, 2)
    if name == "trained-v1":  # its options' depth / num_heads meant the JTA's, and still do
        assert (model.config.jta_depth, model.config.jta_heads, model.base_config.num_heads) == (1, 2, 2)
    tarpose.save_pretrained(model, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-saved: the current format, no warning
        again = tarpose.load_model(tmp_path)
    assert again.data_config.geometry == "biased"  # now recorded
    with torch.no_grad():
        assert torch.equal(again(clip[:, 1]) if isinstance(again, tarpose.ViTPose) else again(clip), out)


def test_old_wrapper_keywords_set_the_new_fields():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, depth=2, num_heads=2, mlp_ratio=1.0)
    assert [(w.category, str(w.message).split(" of ")[0]) for w in caught] == [
        (DeprecationWarning, "depth="), (DeprecationWarning, "num_heads="), (DeprecationWarning, "mlp_ratio=")]
    assert "it sets the JTA/GRA option jta_heads= and gra_heads=" in str(caught[1].message)
    assert (old.config.jta_depth, old.config.jta_heads, old.config.gra_heads, old.config.jta_mlp_ratio) == (2, 2, 2, 1.0)
    new = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, jta_depth=2, jta_heads=2, gra_heads=2, jta_mlp_ratio=1.0)
    assert old.config == new.config
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in new.state_dict().items()}
    with pytest.raises(TypeError, match="depth= and jta_depth= name the same setting"):
        tarpose.TemporalWrapper(tiny_vitpose(), depth=2, jta_depth=3)


def test_old_temporal_create_model_options_mean_what_they_meant():
    with pytest.warns(DeprecationWarning, match="depth= of a temporal model"):
        model = tarpose.create_model("tar-vitpose-s", img_size=(64, 48), depth=2, vitpose={"depth": 1})
    assert model.config.jta_depth == 2 and model.base_config.depth == 1  # JTA's depth, as in 0.1


def test_freeze_base_in_the_constructor_still_freezes():
    model = tiny_vitpose()
    with pytest.warns(DeprecationWarning, match=r"tarpose\.training\.freeze_base"):
        wrapper = tarpose.TemporalWrapper(model, num_frames=3, freeze_base=True)
    wrapper.train()
    assert wrapper.freeze_base and not model.training and wrapper.jta.training
    assert {id(p) for p in wrapper.parameters() if p.requires_grad} == {id(p) for p in wrapper.new_parameters()}


def test_center_is_still_understood():
    with pytest.warns(DeprecationWarning, match="target='center' is deprecated: write 'centred'"):
        window = tarpose.Window(5, "center")
    assert window == tarpose.Window(5, "centred")
    with pytest.warns(DeprecationWarning):
        assert tarpose.TemporalWrapper(tiny_vitpose(), num_frames=3, target="center").target == "centred"
    with pytest.warns(DeprecationWarning):
        assert TrainConfig(target_frame="center").target_frame == "centred"
    from tarpose.data.synthetic import SyntheticPoseDataset

    with pytest.warns(DeprecationWarning):
        assert SyntheticPoseDataset(num_videos=1, video_length=2, num_frames=3, target="center").target == "centred"


def test_a_checkpoint_of_tarpose_0_1_resumes(tmp_path):
    """Its training config says target_frame='center'; the run continues as before."""
    config = TrainConfig(steps=2, batch_size=4, save_every=1)
    train(tiny_vitpose(decoder="simple"), ToyPoses(size=4), TrainConfig(steps=1, batch_size=4), tmp_path,
          log=None, device="cpu")
    path = tmp_path / "checkpoint.safetensors"
    checkpoint = load_checkpoint(path)
    checkpoint.info["config"] = {**checkpoint.info["config"], "target_frame": "center", "steps": 2}
    save_checkpoint(path, checkpoint.model, checkpoint.optimizer, checkpoint.info)
    result = train(tiny_vitpose(decoder="simple"), ToyPoses(size=4), config, tmp_path, resume=True,
                   log=None, device="cpu")
    assert result.step == 2


def test_moved_names_still_import(monkeypatch):
    from tarpose.models import count_parameters
    from tarpose.models.adapters import split_model

    for module in ("tarpose.wrapper", "tarpose.adapters"):  # a first import, whatever ran before
        monkeypatch.delitem(sys.modules, module, raising=False)

    with pytest.warns(DeprecationWarning, match="tarpose.wrapper is deprecated"):
        import tarpose.wrapper as old_wrapper
    assert old_wrapper.TemporalWrapper is tarpose.TemporalWrapper
    assert old_wrapper.count_parameters is count_parameters
    with pytest.warns(DeprecationWarning, match="tarpose.adapters is deprecated"):
        import tarpose.adapters as old_adapters
    assert old_adapters.split_model is split_model


def test_load_trained_and_save_trained_are_the_one_format(tmp_path):
    from tarpose.inference import model_input_size
    from tarpose.training import load_trained, save_trained

    model = tiny_vitpose()
    with pytest.warns(DeprecationWarning, match="use tarpose.save_pretrained"):
        save_trained(tmp_path, model, {"name": "vitpose-s", "options": {}})
    assert json.loads((tmp_path / "config.json").read_text())["name"] == "vitpose-s"
    with pytest.warns(DeprecationWarning, match=r"use tarpose\.load_model"):
        loaded = load_trained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    with pytest.warns(DeprecationWarning, match="resolve_data_config"):
        assert model_input_size(loaded) == (64, 48)

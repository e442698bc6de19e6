"""Reading checkpoints runs no code, and every broken source is a clear error, never a model."""

from __future__ import annotations

import builtins
import pickle

import pytest
import torch

import tarpose
from conftest import tiny_vitpose
from tarpose.weights import CheckpointError, read_checkpoint


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: it creates ``path``."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (builtins.open, (self.path, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, writer):
    marker = tmp_path / "pwned"
    payload = {"state_dict": {"backbone.pos_embed": torch.zeros(1, 12, 8)}, "hook": CreatesAFile(marker)}
    path = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save(payload, path)
    else:  # a legacy (non-zip) pickle of plain data plus the payload
        with path.open("wb") as f:
            pickle.dump({"epoch": 1, "hook": CreatesAFile(marker)}, f, protocol=2)
    with pickle.loads(pickle.dumps(CreatesAFile(tmp_path / "control"))):  # the payload is live
        pass
    assert (tmp_path / "control").exists()
    with pytest.raises(CheckpointError, match=r"refused to load .*evil.pth: the pickle refers to the global `(builtins|io).open`.*executed nothing"):
        tarpose.load_model(path)
    with pytest.raises(CheckpointError, match="executed nothing"):
        read_checkpoint(path)
    assert not marker.exists()


def test_plain_pickles_with_numpy_metadata_load(tmp_path):
    import numpy as np

    torch.save({"meta": {"best": np.float32(0.5), "hist": [np.int64(3)]}, "state_dict": {"a": torch.ones(2)}},
               tmp_path / "ok.pth")
    obj = read_checkpoint(tmp_path / "ok.pth")
    assert float(obj["meta"]["best"]) == 0.5 and torch.equal(obj["state_dict"]["a"], torch.ones(2))


def test_truncated_empty_and_missing_files_are_clear_errors(tmp_path):
    model = tiny_vitpose()
    tarpose.save_pretrained(model, tmp_path / "good")
    weights = (tmp_path / "good" / "model.safetensors").read_bytes()

    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    (tmp_path / "truncated" / "config.json").write_text((tmp_path / "good" / "config.json").read_text())
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a readable safetensors file .*truncated"):
        tarpose.load_model(tmp_path / "truncated")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        tarpose.load_model(tmp_path / "truncated")

    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.safetensors is empty \(0 bytes\)"):
        tarpose.load_model(tmp_path / "empty.safetensors")
    (tmp_path / "header.safetensors").write_bytes(b"\x05\x00\x00")
    with pytest.raises(CheckpointError, match="header.safetensors is not a readable safetensors file"):
        tarpose.load_model(tmp_path / "header.safetensors")

    torch.save({"state_dict": model.state_dict()}, tmp_path / "cut.pth")
    data = (tmp_path / "cut.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="cannot read .*cut.pth as a PyTorch checkpoint"):
        tarpose.load_model(tmp_path / "cut.pth")

    with pytest.raises(FileNotFoundError, match="no such checkpoint file or directory: .*nothing.pth"):
        tarpose.load_model(tmp_path / "nothing.pth")
    with pytest.raises(FileNotFoundError, match="no such checkpoint file or directory: .*missing.safetensors"):
        tarpose.load_model(str(tmp_path / "missing.safetensors"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty_dir holds no model.safetensors or pytorch_model.bin"):
        tarpose.load_model(tmp_path / "empty_dir")


def test_a_failed_strict_load_leaves_the_model_untouched():
    from tarpose.weights import load_state_strict

    model = tiny_vitpose()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    state["backbone.pos_embed"] = torch.zeros(1, 13, 32)  # one misfit among correct tensors
    del state["keypoint_head.final_layer.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): keypoint_head.final_layer.bias; shape mismatches \(1\): backbone.pos_embed: checkpoint \(1, 13, 32\) vs model \(1, 12, 32\)"):
        load_state_strict(model, state, source="test")
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_container_without_a_state_dict_is_named(tmp_path):
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="holds no state dict: top-level keys epoch, optimizer"):
        tarpose.load_model(tmp_path / "x.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="holds a list, not a state dict"):
        tarpose.load_model(tmp_path / "list.pth")

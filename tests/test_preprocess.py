"""Preprocessing comes from the model's config: saved, loaded, resolved, and used for the crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_vitpose

import tarpose
from tarpose import DataConfig, resolve_data_config
from tarpose.inference import StreamingPredictor
from tarpose.topdown import box_matrices, crop_images

ODD = DataConfig(input_size=(64, 48), mean=(0.2, 0.5, 0.7), std=(0.5, 0.25, 0.1))


def test_the_config_checks_and_round_trips():
    assert DataConfig.from_dict(ODD.to_dict()) == ODD
    assert DataConfig.from_dict({"input_size": [64, 48]}) == DataConfig((64, 48))  # defaults: ImageNet
    with pytest.raises(ValueError, match=r"unknown data config fields \['codec'\].*newer tarpose"):
        DataConfig.from_dict({"codec": "udp"})
    with pytest.raises(ValueError, match="std must be positive"):
        DataConfig(std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="mean must have 3 values"):
        DataConfig(mean=(0.5,))
    with pytest.raises(ValueError, match="input_size must have 2 values"):
        DataConfig(input_size=(64,))


def test_resolve_takes_the_model_s_and_the_caller_s_values():
    model = tiny_vitpose()
    assert resolve_data_config(model) == DataConfig((64, 48))  # the ViTPose's own input size
    model.data_config = ODD
    assert resolve_data_config(model) == ODD
    assert resolve_data_config(model, input_size=(96, 64), mean=None) == ODD.replace(input_size=(96, 64))
    wrapper = tarpose.TemporalWrapper(model, num_frames=3)
    assert resolve_data_config(wrapper) == ODD  # the wrapper takes its base's
    encoder_only = tarpose.TemporalWrapper(encoder=model.backbone, decoder=model.keypoint_head, dim=32, num_joints=5)
    with pytest.raises(ValueError, match=r"cannot tell the crop size \(TemporalWrapper does not fix.*pass input_size"):
        resolve_data_config(encoder_only)
    assert resolve_data_config(encoder_only, input_size=(32, 32)).input_size == (32, 32)
    with pytest.raises(TypeError, match=r"unknown data config fields \['colour'\]"):
        resolve_data_config(model, colour="rgb")


def test_saved_and_loaded_with_the_model(tmp_path):
    model = tiny_vitpose()
    model.data_config = ODD
    tarpose.save_pretrained(tarpose.TemporalWrapper(model, num_frames=3), tmp_path)
    loaded = tarpose.load_model(tmp_path)
    assert loaded.data_config == ODD
    bigger = tarpose.load_model(tmp_path, input_size=(96, 64))  # the crop size follows the model
    assert bigger.data_config == ODD.replace(input_size=(96, 64))


def test_the_predictor_crops_as_the_model_says():
    """The crops a model sees are normalised with its mean and std (not a module constant)."""
    seen = []
    model = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=1).eval()
    model.data_config = ODD
    encode = model.encode
    model.encode = lambda images: seen.append(images.clone()) or encode(images)
    frame = np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8)
    box = [[10.0, 5.0, 40.0, 60.0]]
    list(StreamingPredictor(model).run([(frame, box, [0])]))
    expected = crop_images(torch.from_numpy(frame).permute(2, 0, 1), box_matrices(torch.tensor(box), (64, 48)),
                           (64, 48), mean=ODD.mean, std=ODD.std)
    torch.testing.assert_close(seen[0], expected)
    imagenet = crop_images(torch.from_numpy(frame).permute(2, 0, 1), box_matrices(torch.tensor(box), (64, 48)), (64, 48))
    assert (imagenet - expected).abs().max() > 0.5  # the normalisation really differs

"""Shared fixtures: small models that run in milliseconds on a CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tarpose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def tiny_vitpose(decoder: str = "classic", input_size=(64, 48), num_joints: int = 5, **kw) -> tarpose.ViTPose:
    """A 2-layer, 32-channel ViTPose with random (non-trivial) weights, in eval mode."""
    torch.manual_seed(kw.pop("seed", 0))
    geometry = kw.pop("geometry", None)  # a DataConfig field, not architecture
    cfg = dict(input_size=input_size, embed_dim=32, depth=2, num_heads=4, num_joints=num_joints,
               decoder=decoder, deconv_channels=16)
    cfg.update(kw)
    model = tarpose.ViTPose(**cfg)
    with torch.no_grad():  # the default init makes heatmaps ~0; make them informative
        for m in model.keypoint_head.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                m.weight.normal_(0, 0.2)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
    if geometry is not None:
        model.data_config = model.data_config.replace(geometry=geometry)
    return model.eval()


@pytest.fixture
def vitpose() -> tarpose.ViTPose:
    return tiny_vitpose()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def peaked_heatmaps(b: int, t: int, j: int, size=(16, 12), sigma: float = 1.0, generator=None) -> torch.Tensor:
    """Gaussian heatmaps (B, T, J, H, W) with one random peak each."""
    hh, ww = size
    ys = torch.arange(hh).view(1, 1, 1, hh, 1).float()
    xs = torch.arange(ww).view(1, 1, 1, 1, ww).float()
    cy = torch.rand(b, t, j, 1, 1, generator=generator) * (hh - 1)
    cx = torch.rand(b, t, j, 1, 1, generator=generator) * (ww - 1)
    return torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))


def hf_vitpose(decoder: str = "classic", input_size=(64, 48), num_joints: int = 5, seed: int = 0, **backbone_kw):
    """A small transformers VitPoseForPoseEstimation with random, non-trivial weights (eval mode)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    backbone = dict(image_size=list(input_size), hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, out_indices=[2], layer_norm_eps=1e-6)
    backbone.update(backbone_kw)
    config = transformers.VitPoseConfig(
        backbone_config=transformers.VitPoseBackboneConfig(**backbone),
        use_simple_decoder=decoder == "simple", num_labels=num_joints,
    )
    model = transformers.VitPoseForPoseEstimation(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                p.normal_(1.0, 0.1)
            else:
                p.normal_(0.0, 0.2 if p.ndim > 1 else 0.1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model

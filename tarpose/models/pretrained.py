"""Pretrained weights for registered model names: a small table, easy to extend.

Each entry says where the weights live (a Hub repo id, a directory or a file: anything
``tarpose.load_model`` reads) and how to feed the model (its [DataConfig][tarpose.DataConfig]).
``create_model(name, pretrained=True)`` loads them and checks they fit the registered
architecture. A temporal name
(``tar-...``) whose source is a single-frame ViTPose gets that ViTPose inside fresh JTA/GRA
modules, which at initialisation return exactly the ViTPose's heatmaps.

Add an entry with [register_pretrained][tarpose.models.pretrained.register_pretrained].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..geometry import IMAGENET_MEAN, IMAGENET_STD
from ..preprocess import DataConfig
from ..registry import Registry


@dataclass(frozen=True)
class PretrainedCfg:
    """Where a registered model's weights come from and what they expect.

    Args:
        source: Hub repo id, local directory or file.
        revision: Hub branch, tag or commit.
        input_size: input crops ``(H, W)``.
        mean: RGB normalisation mean, for pixels in ``0..1``.
        std: RGB normalisation standard deviation.
        num_joints: keypoints the head predicts.
        keypoints: joint order (``"coco"``).
        license: the weights' license.
        dataset_index: ViTPose+ dataset whose expert is merged (0 = COCO).
        description: one line for ``tarpose models``.
        data: further [DataConfig][tarpose.DataConfig] fields these weights need.
    """

    source: str
    revision: str | None = None
    input_size: tuple[int, int] = (256, 192)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    num_joints: int = 17
    keypoints: str = "coco"
    license: str = "apache-2.0"
    dataset_index: int | None = None
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def data_config(self) -> DataConfig:
        """How to make the crops these weights expect."""
        return DataConfig.from_dict({"input_size": self.input_size, "mean": self.mean, "std": self.std, **self.data})


#: model name -> where its weights are
PRETRAINED: Registry[PretrainedCfg] = Registry("pretrained weights", "`tarpose models --pretrained` lists them")


def register_pretrained(name: str, cfg: PretrainedCfg, *, temporal: bool = True) -> None:
    """Give a registered model name pretrained weights.

    Args:
        name: the registered name.
        cfg: where the weights are and what they expect.
        temporal: also give them to the ``tar-`` variant of ``name`` (its base model's weights,
            with fresh JTA/GRA modules).
    """
    PRETRAINED.register(name, cfg)
    if temporal and not name.startswith("tar-") and f"tar-{name}" not in PRETRAINED:
        PRETRAINED.register(f"tar-{name}", cfg)


def pretrained_cfg(name: str) -> PretrainedCfg | None:
    """The pretrained entry of a model name, or ``None``.

    Args:
        name: a registered name.
    """
    return PRETRAINED.get(name) if name in PRETRAINED else None


def has_pretrained(name: str) -> bool:
    """Whether ``name`` has registered weights."""
    return name in PRETRAINED


_USYD = "usyd-community"
for _name, _repo, _what in [
    ("vitpose-b-simple", "vitpose-base-simple", "ViTPose-B, simple decoder, COCO"),
    ("vitpose-b", "vitpose-base", "ViTPose-B, classic decoder, COCO"),
    ("vitpose-b-coco-aic-mpii", "vitpose-base-coco-aic-mpii", "ViTPose-B trained on COCO+AIC+MPII, COCO head"),
    ("vitpose-plus-s", "vitpose-plus-small", "ViTPose+-S, COCO expert merged"),
    ("vitpose-plus-b", "vitpose-plus-base", "ViTPose+-B, COCO expert merged"),
    ("vitpose-plus-l", "vitpose-plus-large", "ViTPose+-L, COCO expert merged"),
    ("vitpose-plus-h", "vitpose-plus-huge", "ViTPose+-H, COCO expert merged"),
]:
    register_pretrained(
        _name,
        PretrainedCfg(
            f"{_USYD}/{_repo}", dataset_index=0 if "plus" in _name else None, description=_what
        ),
    )

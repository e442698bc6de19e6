"""Pretrained weights for registered model names: a small table, easy to extend.

Each entry says where the weights live (a Hub repo id, a directory or a file: anything
:func:`tarpose.load_model` reads) and how to feed the model. ``create_model(name,
pretrained=True)`` loads them and checks they fit the registered architecture. A temporal name
(``tar-...``) whose source is a single-frame ViTPose gets that ViTPose inside fresh JTA/GRA
modules, which at initialisation return exactly the ViTPose's heatmaps.

Add an entry with :func:`register_pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PretrainedCfg:
    """Where a registered model's weights come from and what they expect."""

    source: str  #: Hub repo id, local directory or file
    revision: str | None = None  #: Hub branch, tag or commit
    img_size: tuple[int, int] = (256, 192)  #: input crops (H, W)
    mean: tuple[float, float, float] = IMAGENET_MEAN  #: RGB normalisation, for [0, 1] pixels
    std: tuple[float, float, float] = IMAGENET_STD
    num_joints: int = 17
    keypoints: str = "coco"  #: joint order
    license: str = "apache-2.0"
    dataset_index: int | None = None  #: ViTPose+ dataset whose expert is merged (0 = COCO)
    description: str = ""


_PRETRAINED: dict[str, PretrainedCfg] = {}


def register_pretrained(name: str, cfg: PretrainedCfg, *, temporal: bool = True) -> None:
    """Give a registered model name pretrained weights (and its ``tar-`` variant, by default)."""
    if name in _PRETRAINED:
        raise ValueError(f"pretrained weights for {name!r} are already registered")
    _PRETRAINED[name] = cfg
    if temporal and not name.startswith("tar-"):
        _PRETRAINED.setdefault(f"tar-{name}", cfg)


def pretrained_cfg(name: str) -> PretrainedCfg | None:
    """The pretrained entry of a model name, or ``None``."""
    return _PRETRAINED.get(name)


def has_pretrained(name: str) -> bool:
    return name in _PRETRAINED


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

"""The demo architecture: a small ViTPose for 128x96 crops, trained on synthetic video.

``vitpose-demo`` is a 6-layer, 128-wide ViT with a light classic decoder (1.1 M parameters);
``tar-vitpose-demo`` wraps it, frozen, in a 5-frame [TemporalWrapper][tarpose.TemporalWrapper]
with tarpose's default temporal part (the paper's JTA, two layers deep; a zero-initialised GRA
update, the window's heatmaps embedded, an FFN; see [TARConfig][tarpose.TARConfig]): its base is
``vitpose-demo`` unchanged, so every difference between the two is the temporal part's.
``tar-vitpose-demo-causal`` is the same with a causal window (frames ``t-4..t``, no look-ahead),
for live video. The trained
weights ship inside tarpose, in the format ``save_pretrained`` writes (``tarpose/assets/<name>/``:
``config.json``, ``model.safetensors`` in half precision, a model card):
``tarpose.load_model(name)`` (or ``create_model(name, pretrained=True)``) loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .pretrained import PretrainedCfg, register_pretrained
from .registry import register_model
from .options import ModelOptions
from .temporal import TARConfig, TemporalWrapper
from .vitpose import ViTPose, ViTPoseConfig

#: the bundled weights: one directory per model (no network needed)
ASSETS = Path(__file__).resolve().parents[1] / "assets"

#: ``ViTPoseConfig`` fields of the demo ViTPose
DEMO_CONFIG: dict[str, Any] = {
    "input_size": (128, 96), "embed_dim": 128, "depth": 6, "num_heads": 4, "mlp_ratio": 2.0,
    "decoder": "classic", "deconv_channels": 64,
}
#: the geometry ([tarpose.geometry][tarpose.geometry]) the bundled weights were trained in, tarpose 0.1's,
#: which their ``config.json`` records (``"data"``) and their pretrained entry states
DEMO_GEOMETRY = "biased"

#: the bundled models, each in ``ASSETS / name``
DEMO_MODELS: tuple[str, ...] = ("vitpose-demo", "tar-vitpose-demo", "tar-vitpose-demo-causal")

#: the temporal part of the demo TAR-ViTPose
DEMO_TEMPORAL = TARConfig(num_frames=5)
#: the temporal part of the causal demo TAR-ViTPose: frames t-4..t, no look-ahead
DEMO_CAUSAL = DEMO_TEMPORAL.replace(target="last")


@register_model("vitpose-demo")
def vitpose_demo(**overrides: Any) -> ViTPose:
    """The demo ViTPose (``DEMO_CONFIG``, any field overridable)."""
    return ViTPose(ViTPoseConfig(**{**DEMO_CONFIG, **overrides}))


@register_model("tar-vitpose-demo")
def tar_vitpose_demo(**overrides: Any) -> TemporalWrapper:
    """The demo ViTPose in a 5-frame TemporalWrapper with the default TARConfig (overrides routed
    by [ModelOptions.route][tarpose.models.options.ModelOptions.route])."""
    options = ModelOptions.route(overrides)
    return TemporalWrapper(vitpose_demo(**options.vitpose), DEMO_TEMPORAL, **options.temporal)


@register_model("tar-vitpose-demo-causal")
def tar_vitpose_demo_causal(**overrides: Any) -> TemporalWrapper:
    """The demo ViTPose in a causal 5-frame TemporalWrapper (frames ``t-4..t``, ``target="last"``):
    zero latency, for live video."""
    options = ModelOptions.route(overrides)
    return TemporalWrapper(vitpose_demo(**options.vitpose), DEMO_CAUSAL, **options.temporal)


for _name, _what in (
    ("vitpose-demo", "demo ViTPose trained on synthetic video (tarpose.data.synthetic)"),
    ("tar-vitpose-demo", "demo TAR-ViTPose trained on synthetic video (tarpose.data.synthetic)"),
    ("tar-vitpose-demo-causal", "demo TAR-ViTPose with a causal window (zero latency), synthetic video"),
):
    register_pretrained(
        _name,
        PretrainedCfg(str(ASSETS / _name), input_size=DEMO_CONFIG["input_size"], description=_what,
                      data={"geometry": DEMO_GEOMETRY}),
        temporal=False,
    )

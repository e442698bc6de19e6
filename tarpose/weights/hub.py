"""Save and load tarpose models the Hugging Face Hub way (``PyTorchModelHubMixin``).

``model.save_pretrained(dir)`` writes ``config.json`` (the constructor arguments),
``model.safetensors`` and a model card (``README.md``) naming the paper;
``Class.from_pretrained(repo_id_or_dir, revision=...)`` rebuilds the model and loads it
strictly (a missing, unexpected or misshapen key is an error naming the keys; the mixin's own
default is not strict); ``model.push_to_hub(repo_id)`` uploads the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from huggingface_hub import ModelCard, PyTorchModelHubMixin

from .safe_io import write_safetensors

MODEL_CARD = """---
{{ card_data }}
---

# {{ model_class }} (tarpose)

This repository holds a `tarpose.{{ model_class }}` saved with the `tarpose` library's
`save_pretrained`: `config.json` (the constructor arguments) and `model.safetensors` (the
weights).

tarpose implements **TAR-ViTPose** from *Beyond Static Frames: Temporal Aggregate-and-Restore
Vision Transformer for Human Pose Estimation* (Fang, Cai, Wang, Yang; CVPR 2026,
[arXiv:2603.05929](https://arxiv.org/abs/2603.05929)): joint-centric temporal aggregation (JTA) and global
restoring attention (GRA) over a ViTPose, for pose estimation in video. The authors' reference
code is at https://github.com/zgspose/TARViTPose.

## Usage

```python
import tarpose

model = tarpose.load_model("{{ repo_id | default('path/to/this/directory', true) }}")
```

A `TemporalWrapper` takes clips `(B, T, 3, H, W)` of person crops (all frames cropped with the
target frame's box, ImageNet mean/std normalisation) and returns heatmaps `(B, J, H/4, W/4)` of
the target frame; a `ViTPose` takes single crops `(N, 3, H, W)`.

## Citation

```bibtex
@inproceedings{fang2026tarvitpose,
  title     = {Beyond Static Frames: Temporal Aggregate-and-Restore Vision Transformer
               for Human Pose Estimation},
  author    = {Fang and Cai and Wang and Yang},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2026},
  note      = {arXiv:2603.05929}
}
```
"""


class HubMixin(
    PyTorchModelHubMixin,
    library_name="tarpose",
    license="apache-2.0",
    pipeline_tag="keypoint-detection",
    tags=["pose-estimation", "vitpose", "tar-vitpose", "video"],
    model_card_template=MODEL_CARD,
):
    """``PyTorchModelHubMixin`` with strict loading through :func:`tarpose.load_model`.

    Subclasses define :meth:`_hub_config` (the JSON-able constructor arguments, or a clear error
    when the model cannot be rebuilt from them) and name their loader in ``_hub_loader``.
    """

    #: the function of :mod:`tarpose.weights.load` that rebuilds this class from a source
    _hub_loader: ClassVar[str] = "load_model"

    def _hub_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        map_location: str = "cpu",
        **overrides: Any,
    ) -> Any:
        """Load a saved model from a local directory or a Hub repo id, strictly, in eval mode.

        Keyword ``overrides`` change constructor arguments (e.g. ``img_size=(384, 288)``, whose
        position embeddings are then resized bicubically). Raises ``FileNotFoundError`` for a
        missing source or an uncached repo offline and :class:`~tarpose.weights.CheckpointError`
        for a checkpoint that does not fit.
        """
        from . import load

        loader = getattr(load, cls._hub_loader)
        model = loader(
            pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir, token=token,
            local_files_only=local_files_only, force_download=force_download, **overrides,
        )
        if not isinstance(model, cls):
            from .errors import CheckpointError

            raise CheckpointError(
                f"{pretrained_model_name_or_path} holds a {type(model).__name__}, not a "
                f"{cls.__name__}; load it with tarpose.load_model (or wrap a single-frame model: "
                "TemporalWrapper(tarpose.load_vitpose(...)))"
            )
        return model.to(map_location)

    def save_pretrained(  # type: ignore[override]
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> str | None:
        """Write ``config.json``, ``model.safetensors`` and ``README.md`` (the model card) to
        ``save_directory``; raises before writing anything if the model cannot be rebuilt from
        its config."""
        own = self._hub_config()
        if config is not None and config != own:
            raise ValueError("config.json is generated from the model; do not pass config=")
        return super().save_pretrained(
            save_directory, config=own, repo_id=repo_id, push_to_hub=push_to_hub,
            model_card_kwargs={"repo_id": repo_id, **(model_card_kwargs or {})},
            **push_to_hub_kwargs,
        )

    def push_to_hub(self, repo_id: str, *, config: dict[str, Any] | None = None, **kwargs: Any) -> str:  # type: ignore[override]
        """Upload ``config.json``, ``model.safetensors`` and the model card to ``repo_id``."""
        own = self._hub_config()  # fail before creating a repo
        if config is not None and config != own:
            raise ValueError("config.json is generated from the model; do not pass config=")
        card = {"repo_id": repo_id, **(kwargs.pop("model_card_kwargs", None) or {})}
        return super().push_to_hub(repo_id, config=own, model_card_kwargs=card, **kwargs)

    def _save_pretrained(self, save_directory: Path) -> None:
        write_safetensors(self.state_dict(), Path(save_directory) / "model.safetensors")  # type: ignore[attr-defined]

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        kwargs.setdefault("model_class", type(self).__name__)
        return super().generate_model_card(*args, **kwargs)

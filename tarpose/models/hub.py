"""``save_pretrained`` / ``push_to_hub`` / ``from_pretrained`` as methods of the model classes.

The model classes know nothing of files or the Hub: these methods forward to the functions that
do the work, [tarpose.save_pretrained][tarpose.save_pretrained], [tarpose.push_to_hub][tarpose.push_to_hub] and
[tarpose.load_model][tarpose.load_model]. Those live in layers above the models (``tarpose.weights`` and
``tarpose.factory``), which this module must not import; [tarpose.factory][tarpose.factory] hands them over
with [register_hub_io][tarpose.models.hub.register_hub_io] when it is imported, and importing any part of tarpose imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

_IO: dict[str, Callable[..., Any]] = {}


def register_hub_io(
    *, save: Callable[..., Any], push: Callable[..., Any], load: Callable[..., Any]
) -> None:
    """Set the functions behind the methods (called once, by [tarpose.factory][tarpose.factory]).

    Args:
        save: ``save(model, directory, **kwargs)``, as [tarpose.save_pretrained][tarpose.save_pretrained].
        push: ``push(model, repo_id, **kwargs)``, as [tarpose.push_to_hub][tarpose.push_to_hub].
        load: ``load(cls, source, **kwargs)``: a model of class ``cls`` from ``source``.
    """
    _IO.update(save=save, push=push, load=load)


def _io(name: str) -> Callable[..., Any]:
    if name not in _IO:  # only if tarpose.models were imported without the tarpose package
        raise RuntimeError("the Hub functions are not registered: import tarpose first")
    return _IO[name]


class HubMethods:
    """Hub-style methods of [ViTPose][tarpose.ViTPose] and [TemporalWrapper][tarpose.TemporalWrapper]."""

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> Path:
        """Write ``config.json``, ``model.safetensors`` and a model card: [tarpose.save_pretrained][tarpose.save_pretrained]."""
        return _io("save")(self, save_directory, **kwargs)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload what [save_pretrained][tarpose.save_pretrained] writes: [tarpose.push_to_hub][tarpose.push_to_hub]."""
        return _io("push")(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> Any:
        """Load a saved model of this class, strictly, in eval mode: [tarpose.load_model][tarpose.load_model]
        (``ViTPose.from_pretrained`` is [tarpose.load_vitpose][tarpose.load_vitpose]: it also takes the
        single-frame part of a temporal checkpoint). Keyword arguments as theirs."""
        return _io("load")(cls, pretrained_model_name_or_path, **kwargs)

"""Writing models in tarpose's one format, to a directory or a Hugging Face Hub repo.

[save_pretrained][tarpose.weights.hub.save_pretrained] writes ``config.json`` (``model_config``),
``model.safetensors`` and a model card (``README.md``) naming the paper; [push_to_hub][tarpose.weights.hub.push_to_hub]
uploads the same files. ``tarpose.load_model`` reads them back strictly. Every file appears only
when complete (written to a temporary name, then renamed).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_outputs
from .formats.tarpose import model_config
from .safe_io import write_safetensors

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"

#: the model card's YAML front matter (Hub metadata)
CARD_DATA: dict[str, Any] = {
    "library_name": "tarpose",
    "license": "apache-2.0",
    "pipeline_tag": "keypoint-detection",
    "tags": ["pose-estimation", "vitpose", "tar-vitpose", "video"],
}

MODEL_CARD = """---
{card_data}
---

# {model_class} (tarpose)

This repository holds a `tarpose.{model_class}` saved with the `tarpose` library's
`save_pretrained`: `config.json` (the architecture and preprocessing) and `model.safetensors`
(the weights).

tarpose implements **TAR-ViTPose** from *Beyond Static Frames: Temporal Aggregate-and-Restore
Vision Transformer for Human Pose Estimation* (Fang, Cai, Wang, Yang; CVPR 2026,
[arXiv:2603.05929](https://arxiv.org/abs/2603.05929)): joint-centric temporal aggregation (JTA) and global
restoring attention (GRA) over a ViTPose, for pose estimation in video. The authors' reference
code is at https://github.com/zgspose/TARViTPose.

## Usage

```python
import tarpose

model = tarpose.load_model("{source}")
```

A `TemporalWrapper` takes clips `(B, T, 3, H, W)` of person crops (all frames cropped with the
target frame's box, normalised as `model.data_config` says) and returns heatmaps
`(B, J, H/4, W/4)` of the target frame; a `ViTPose` takes single crops `(N, 3, H, W)`.

## Citation

```bibtex
@inproceedings{{fang2026tarvitpose,
  title     = {{Beyond Static Frames: Temporal Aggregate-and-Restore Vision Transformer
               for Human Pose Estimation}},
  author    = {{Fang and Cai and Wang and Yang}},
  booktitle = {{Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)}},
  year      = {{2026}},
  note      = {{arXiv:2603.05929}}
}}
```
"""


def model_card(model: nn.Module, repo_id: str | None = None) -> str:
    """The ``README.md`` written beside a saved model.

    Args:
        model: the saved model (its class names the card).
        repo_id: the Hub repo it goes to, for the usage example.
    """
    from huggingface_hub import ModelCardData

    card_data = ModelCardData(**CARD_DATA).to_yaml()
    return MODEL_CARD.format(
        card_data=card_data, model_class=type(model).__name__,
        source=repo_id or "path/to/this/directory",
    )


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    dtype: torch.dtype | None = None,
    repo_id: str | None = None,
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` to ``save_directory``.

    Nothing is written when the model cannot be rebuilt from a config (a wrapper over another
    library's ViTPose: load its weights into a tarpose ViTPose first).

    Args:
        model: a [ViTPose][tarpose.ViTPose] or a [TemporalWrapper][tarpose.TemporalWrapper] over one.
        save_directory: created if missing; the three files already there are replaced
            together: they are written beside them first, so a failure (a full disk: an
            ``OSError`` naming the file) leaves the previous model loadable.
        name: the registered name the model was built as (recorded in ``config.json``).
        dtype: store floating-point tensors in this dtype (e.g. ``torch.float16``); the loader
            casts them back to the model's.
        repo_id: the Hub repo the files are for (the model card's usage example).

    Returns:
        the directory.
    """
    config = model_config(model, name)  # raises before anything is written
    directory = Path(save_directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} exists and is not a directory")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    text = json.dumps(config, indent=2) + "\n"
    files = [directory / WEIGHTS_FILE, directory / CARD_FILE, directory / CONFIG_FILE]  # config last
    try:
        with atomic_outputs(files, durable=True) as (weights, card, config_json):
            write_safetensors(state, weights, metadata={"config": json.dumps(config)}, name=directory / WEIGHTS_FILE)
            card.write_text(model_card(model, repo_id), encoding="utf-8")
            config_json.write_text(text, encoding="utf-8")
    except BaseException:
        if created and not any(directory.iterdir()):
            directory.rmdir()
        raise
    return directory


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    name: str | None = None,
    commit_message: str = "Upload a tarpose model",
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
) -> str:
    """Upload what [save_pretrained][tarpose.weights.hub.save_pretrained] writes to a Hub repo (created if missing).

    Args:
        model: as for [save_pretrained][tarpose.weights.hub.save_pretrained]; refused before the Hub is contacted if it cannot
            be saved.
        repo_id: ``"user/name"``.
        name: the registered name the model was built as.
        commit_message: the commit's message.
        private: create the repo as private.
        token: Hub token (default: the logged-in user's).
        branch: the branch to push to.
        create_pr: open a pull request instead of committing.

    Returns:
        the commit's URL (``huggingface_hub``'s ``CommitInfo``).
    """
    from huggingface_hub import HfApi

    model_config(model, name)  # fail before creating a repo
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
    with tempfile.TemporaryDirectory() as directory:
        save_pretrained(model, directory, name=name, repo_id=repo_id)
        return api.upload_folder(
            repo_id=repo_id, repo_type="model", folder_path=directory,
            commit_message=commit_message, revision=branch, create_pr=create_pr,
        )

"""Where a checkpoint comes from: a file, a local directory, or a Hugging Face Hub repo.

[resolve_source][tarpose.weights.sources.resolve_source] turns what a user passes (``"usyd-community/vitpose-base-simple"``,
``"./my_model"``, ``"vitpose-b.pth"``) into a local weights file plus the ``config.json`` found
beside it, downloading through ``huggingface_hub`` (so its cache, ``HF_HUB_OFFLINE``,
tokens and revisions all apply) when the source is a repo id.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..hub import HubOptions, hub_reachable, offline_message
from .safe_io import MAX_CONFIG_BYTES, parse_config

#: Weight files looked for, in this order, in a directory or Hub repo without ``filename=``.
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
CONFIG_FILE = "config.json"
_CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class ResolvedSource:
    """A checkpoint found on disk."""

    weights: Path  #: the weights file (safetensors or a pickle)
    config: dict[str, Any] | None  #: the ``config.json`` beside it, parsed, if there is one
    description: str  #: how to name the source in messages


def resolve_source(
    source: str | Path, *, filename: str | None = None, hub: HubOptions | None = None
) -> ResolvedSource:
    """Find the weights file (and ``config.json``) of ``source``.

    Args:
        source: a checkpoint file; a directory holding ``model.safetensors`` /
            ``pytorch_model.bin`` (or a single foreign checkpoint file, never a hidden one or
            a temporary of an interrupted save, and not beside a tarpose ``config.json``); or a
            Hub repo id ``"org/name"``.
        filename: the weights file to use inside a directory or repo (e.g. easy_ViTPose's
            ``"torch/coco/vitpose-b-coco.pth"``).
        hub: how to fetch from the Hub (revision, cache, token, offline...).

    Raises:
        FileNotFoundError: a missing path, a directory without weights, a repo not on the Hub,
            or (offline) a repo not in the local cache; the message says which.
    """
    path = Path(source).expanduser()
    if path.is_file():
        if filename is not None:
            raise ValueError(f"filename={filename!r} only applies to a directory or Hub repo, "
                             f"but {path} is a file")
        return ResolvedSource(path, _read_config(path.parent / CONFIG_FILE), str(path))
    if path.is_dir():
        return _resolve_directory(path, filename)
    if isinstance(source, str) and _REPO_ID.match(source) and path.suffix not in _CHECKPOINT_SUFFIXES:
        if path.parent.is_dir() and str(path.parent) not in ("", "."):
            raise FileNotFoundError(
                f"no such checkpoint file or directory: {source} (the directory {path.parent}/ is "
                "here, so this is taken as a mistyped local path, not a Hub repo id; for the Hub "
                "repo run from another directory)"
            )
        return _resolve_hub(source, filename, hub or HubOptions())
    raise FileNotFoundError(
        f"no such checkpoint file or directory: {source} (and it is not a Hub repo id "
        "'org/name')"
    )


def _resolve_directory(path: Path, filename: str | None) -> ResolvedSource:
    config = _read_config(path / CONFIG_FILE)
    if filename is not None:
        weights = path / filename
        if not weights.is_file():
            raise FileNotFoundError(f"{filename} not found in {path}")
        return ResolvedSource(weights, config, str(weights))
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return ResolvedSource(path / name, config, str(path))
    files = sorted(p for p in path.iterdir() if p.suffix in _CHECKPOINT_SUFFIXES)
    unfinished = [p.name for p in files if is_temporary(p)]
    candidates = [p for p in files if not is_temporary(p)]
    if unfinished:
        raise FileNotFoundError(
            f"{path} holds no {' or '.join(WEIGHT_FILES)}, only the unfinished temporary "
            f"{', '.join(unfinished)} of a save that was interrupted: save or convert the model again"
        )
    if len(candidates) == 1 and (config or {}).get("format") != "tarpose":  # a foreign checkpoint, alone
        return ResolvedSource(candidates[0], config, str(candidates[0]))
    found = ", ".join(p.name for p in candidates) or "no checkpoint files"
    raise FileNotFoundError(
        f"{path} holds no {' or '.join(WEIGHT_FILES)} ({found}); pass filename= to pick one"
    )


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a hidden file, such as the temporaries tarpose writes beside an output
    (``.model.safetensors.*.partial.safetensors``, [tarpose.atomic][tarpose.atomic]): never a
    model's weights."""
    return path.name.startswith(".") or ".partial" in path.name


def _resolve_hub(repo_id: str, filename: str | None, hub: HubOptions) -> ResolvedSource:
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.utils import (  # (also huggingface_hub.errors in recent versions)
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    unreachable = not (hub.local_files_only or constants.HF_HUB_OFFLINE) and not hub_reachable()
    if unreachable:  # the cache only, at once (huggingface_hub would retry for ~25 s a file)
        hub = dataclasses.replace(hub, local_files_only=True)
    offline = hub.local_files_only or constants.HF_HUB_OFFLINE

    def download(name: str) -> Path:
        return Path(hf_hub_download(repo_id, name, **hub.download_kwargs()))

    at = f"{repo_id}" + (f" (revision {hub.revision})" if hub.revision else "")
    weights: Path | None = None
    try:
        for name in [filename] if filename else WEIGHT_FILES:
            try:
                weights = download(name)
                break
            except LocalEntryNotFoundError:
                if not offline and not unreachable:  # answered the probe, not the download: say so now
                    raise FileNotFoundError(
                        f"{at} is not a local path, and the Hugging Face Hub could not be "
                        "reached to download it (no network, or the Hub is down) nor is it in the "
                        "local cache"
                    ) from None
                continue  # not cached (offline or unreachable): try the next name, then report
            except EntryNotFoundError:
                if filename:
                    raise FileNotFoundError(f"{filename} not found in Hub repo {at}") from None
    except RepositoryNotFoundError:
        raise FileNotFoundError(
            f"{repo_id} is neither a local path nor a Hub repo you can access (repository not "
            "found; for a private repo pass token=)"
        ) from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"Hub repo {repo_id} has no revision {hub.revision!r}") from None
    if weights is None:
        names = filename or " / ".join(WEIGHT_FILES)
        if unreachable:
            raise FileNotFoundError(offline_message(at, "it"))
        if offline:
            cache = hub.cache_dir or constants.HF_HUB_CACHE
            raise FileNotFoundError(
                f"{at} is not a local path, and as a Hub repo it is not in the local Hugging Face "
                f"cache ({cache}) while downloads are off "
                f"(HF_HUB_OFFLINE=1 or local_files_only=True), so {names} cannot be fetched; "
                "download it once while online"
            )
        raise FileNotFoundError(f"Hub repo {at} has no {names}; pass filename=")
    try:
        config = _read_config(download(CONFIG_FILE))
    except EntryNotFoundError:  # includes "not cached": the weights alone may suffice
        config = None
    return ResolvedSource(weights, config, f"{at} ({weights.name})")


def _read_config(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        text = f.read(MAX_CONFIG_BYTES + 1)  # never more than a config can be
    return parse_config(text, str(path))

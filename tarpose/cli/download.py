"""Fetch pretrained weights into the local Hugging Face cache once, then run offline
(HF_HUB_OFFLINE=1). NAME is a registered model with pretrained weights (`tarpose models` marks
them; a `tar-` name fetches its base model's weights), `rtdetr` (the default person detector of
`tarpose predict`), or any Hub repo id `org/name` (e.g. a `--detector-model`). Each repo's
config and safetensors files go through `huggingface_hub.snapshot_download` into the Hub cache
(HF_HOME or HF_HUB_CACHE say where), where `tarpose.load_model`, `tarpose predict`
and transformers find them, also offline; files already cached are not downloaded again."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from . import CLIError, counted

HELP = "fetch pretrained weights into the Hugging Face cache, to run offline afterwards"

#: the files fetched from a repo: what tarpose and transformers load (no README, no other formats)
PATTERNS = ("*.json", "*.safetensors")
#: a Hub repo id, ``org/name``
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: the weights files a tarpose / transformers checkpoint repo holds, in the order they are looked for
WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Target:
    """One Hub repo to fetch: what the user named, the repo, its revision."""

    name: str
    repo_id: str
    revision: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="a pretrained model name (tarpose models), rtdetr, or a Hub repo id org/name")


def resolve(name: str) -> Target | str:
    """The Hub repo of ``name``, or a line saying why there is nothing to fetch (weights bundled
    with tarpose). Raises [CLIError][tarpose.cli.CLIError] for a name that has no weights."""
    from ..detection import DEFAULT_RTDETR
    from ..models import list_models, pretrained_cfg
    from ..models.registry import MODELS

    if name == "rtdetr":
        return Target(name, DEFAULT_RTDETR)
    cfg = pretrained_cfg(name)
    if cfg is not None:
        if Path(cfg.source).exists():
            return f"{name}: bundled with tarpose ({cfg.source}), nothing to download"
        return Target(name, cfg.source, cfg.revision)
    if name in list_models():
        raise CLIError(f"{name} has no pretrained weights (models with weights: "
                       f"{', '.join(list_models(pretrained=True))})")
    if REPO_ID.match(name) and not Path(name).exists():
        return Target(name, name)
    raise CLIError(f"{name!r} is not a pretrained model name, 'rtdetr' or a Hub repo id org/name; "
                   f"{MODELS.hint(name)}")


def cached_snapshot(repo_id: str, revision: str | None = None, cache_dir: str | Path | None = None) -> Path | None:
    """The local snapshot folder of a Hub repo if its weights are in the Hub cache (what an
    offline load would find), else ``None``."""
    from huggingface_hub import try_to_load_from_cache

    for weights in WEIGHTS:
        found = try_to_load_from_cache(repo_id, weights, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            return Path(found).parent
    return None


def folder_size(folder: Path) -> tuple[int, int]:
    """(files, bytes) of a snapshot folder (its files are links into the cache's blobs)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def human(size: float) -> str:
    """Bytes as the Hub shows them (decimal units): ``172.4 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError  # (unreachable)


def fetch(target: Target) -> Path:
    """snapshot_download of a target's weights and configs; a one-line CLIError when it fails."""
    import huggingface_hub
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        cached = cached_snapshot(target.repo_id, target.revision)
        if cached is not None:
            return cached
        raise CLIError(f"HF_HUB_OFFLINE is set and {target.repo_id} is not in the Hub cache: unset it to download")
    try:
        folder = huggingface_hub.snapshot_download(
            target.repo_id, revision=target.revision, allow_patterns=list(PATTERNS),
        )
    except huggingface_hub.utils.RepositoryNotFoundError:
        raise CLIError(f"{target.repo_id} is not a Hub repo you can access (for a private one, log in "
                       "with `hf auth login`)") from None
    except huggingface_hub.utils.RevisionNotFoundError:
        raise CLIError(f"{target.repo_id} has no revision {target.revision!r}") from None
    except (huggingface_hub.utils.LocalEntryNotFoundError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CLIError(f"could not download {target.repo_id}: {first}") from None
    folder = Path(folder)
    if not any((folder / w).is_file() for w in WEIGHTS):
        raise CLIError(f"{target.repo_id} has no {' or '.join(WEIGHTS)} (fetched: "
                       f"{', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'})")
    return folder


def run(args: argparse.Namespace) -> int:
    targets: dict[tuple[str, str | None], Target] = {}  # each repo once, in order
    for name in args.names:
        target = resolve(name)
        if isinstance(target, str):
            print(target)
        elif (target.repo_id, target.revision) in targets:
            first = targets[target.repo_id, target.revision].name
            if first != name:
                print(f"{name}: the weights of {first} ({target.repo_id})")
        else:
            targets[target.repo_id, target.revision] = target
    total = 0
    for target in targets.values():
        folder = fetch(target)
        files, size = folder_size(folder)
        total += size
        label = target.repo_id if target.name == target.repo_id else f"{target.name} ({target.repo_id})"
        print(f"{label}: {counted(files, 'file')}, {human(size)} in {folder}")
    if len(targets) > 1:
        print(f"{counted(len(targets), 'repo')}, {human(total)}; run offline with HF_HUB_OFFLINE=1")
    elif targets:
        print("run offline with HF_HUB_OFFLINE=1")
    return 0

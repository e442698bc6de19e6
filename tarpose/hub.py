"""Access to the Hugging Face Hub: whether it answers, and the one-line message for a repo that is
not in the local cache while downloads are off. Every download tarpose makes (checkpoints, the
RT-DETR detector) goes through ``huggingface_hub``, so its cache, ``HF_HUB_OFFLINE``, tokens and
revisions apply."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HubOptions:
    """How to fetch a file from the Hugging Face Hub, as one object: what
    [tarpose.load_model][tarpose.load_model]'s Hub keywords become.

    Args:
        revision: branch, tag or commit.
        cache_dir: the Hub cache directory (default: huggingface_hub's).
        token: a Hub token, for private repos.
        local_files_only: never download; use the local cache only.
        force_download: download again even when cached.
    """

    revision: str | None = None
    cache_dir: str | os.PathLike[str] | None = None
    token: str | bool | None = None
    local_files_only: bool = False
    force_download: bool = False

    def download_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``huggingface_hub.hf_hub_download`` these stand for."""
        return {"revision": self.revision, "cache_dir": self.cache_dir, "token": self.token,
                "local_files_only": self.local_files_only, "force_download": self.force_download}


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a request that got no answer, for each HTTP client huggingface_hub has
    used (requests up to 0.x, httpx in 1.x, httpx2 in 2.x)."""
    import importlib

    errors: list[type[BaseException]] = [OSError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


@functools.lru_cache(maxsize=8)
def _reachable(endpoint: str, timeout: float) -> bool:
    from huggingface_hub.utils import get_session

    try:
        get_session().head(endpoint, timeout=timeout)  # any HTTP answer will do
    except _network_errors():
        return False
    return True


def hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the Hugging Face Hub endpoint answers at all: one request, no retries; the answer
    is remembered for the process."""
    from huggingface_hub import constants

    return _reachable(constants.ENDPOINT, timeout)


def offline_message(repo_id: str, what: str) -> str:
    """The one-line error for a Hub repo that is not in the local cache while downloads are off:
    ``HF_HUB_OFFLINE`` is set, or the Hub cannot be reached, or ``local_files_only`` was asked.

    Args:
        repo_id: the repo (and revision) that was looked for.
        what: what it holds, for the message (``"the RT-DETR detector"``).
    """
    from huggingface_hub import constants

    cache = f"{repo_id} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE})"
    if constants.HF_HUB_OFFLINE:
        return f"HF_HUB_OFFLINE is set and {cache}: unset it and connect once to download {what}"
    if not hub_reachable():
        return (
            f"the Hugging Face Hub cannot be reached ({constants.ENDPOINT}) and {cache}: connect once "
            f"to download {what}; with HF_HUB_OFFLINE=1 the cache is used without trying the network"
        )
    return f"{cache} and downloads are off (local_files_only=True): download {what} once"


def hub_access(local_files_only: bool) -> bool:
    """``local_files_only`` for a Hub download: ``True`` when asked, when ``HF_HUB_OFFLINE`` is set
    or when the Hub cannot be reached (then only the cache is read, at once)."""
    from huggingface_hub import constants

    return bool(local_files_only or constants.HF_HUB_OFFLINE or not hub_reachable())

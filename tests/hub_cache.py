"""A hand-made Hugging Face Hub cache, so Hub-id loading is tested offline.

The layout huggingface_hub reads: ``<cache>/models--ORG--NAME/refs/<branch>`` holds a 40-hex
commit id and ``snapshots/<commit>/`` the files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest


def populate(cache: Path, repo_id: str, files: Path | dict[str, Path], branch: str = "main") -> str:
    """Copy ``files`` (a directory's files, or ``{name: path}``) into ``cache`` as a snapshot of
    ``repo_id`` at a new commit, referenced by ``branch``. Returns the commit id."""
    if isinstance(files, Path):
        files = {p.name: p for p in files.iterdir() if p.is_file()}
    digest = hashlib.sha1(repo_id.encode())
    for name in sorted(files):
        digest.update(name.encode() + Path(files[name]).read_bytes())
    commit = digest.hexdigest()
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, snapshot / name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / branch).write_text(commit)
    return commit


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hub cache used by huggingface_hub, with downloads disabled (HF_HUB_OFFLINE=1)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache

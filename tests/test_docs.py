"""Docs cannot drift: every Python block of the README and docs/ runs (unless marked not runnable),
the site builds with ``mkdocs build --strict``, and CI runs the README's test command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BLOCK = re.compile(r"(<!-- not-run: [^>]+ -->\n)?```(\w+)\n(.*?)```", re.S)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path, language: str) -> list[tuple[str, bool]]:
    """(code, runnable) for each fenced block of ``language`` in a Markdown file."""
    return [
        (m.group(3), m.group(1) is None)
        for m in BLOCK.finditer(path.read_text())
        if m.group(2) == language
    ]


PYTHON_BLOCKS = [
    (page, index, code, runnable)
    for page in PAGES
    for index, (code, runnable) in enumerate(code_blocks(page, "python"))
]


@pytest.mark.parametrize(
    "page,index,code,runnable", PYTHON_BLOCKS,
    ids=[f"{p.relative_to(ROOT)}[{i}]" for p, i, _, _ in PYTHON_BLOCKS],
)
def test_python_block_runs(page, index, code, runnable, tmp_path, monkeypatch):
    if not runnable:
        pytest.skip("marked not runnable here (needs the network)")
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    exec(compile(code, f"{page.name}[python block {index}]", "exec"), {"__name__": "__docs__"})


def test_site_builds_strictly(tmp_path):
    if shutil.which("mkdocs") is None and subprocess.run(
        [sys.executable, "-m", "mkdocs", "--version"], capture_output=True
    ).returncode != 0:
        pytest.skip("mkdocs is not installed (pip install 'tarpose[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # --strict fails on warnings; say which
    assert (tmp_path / "site" / "api" / "index.html").exists()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    tests_section = readme.split("Tests:", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", tests_section, re.S).group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == command


def test_every_docstring_parses(caplog):
    """griffe reads every docstring of the package (not only those the site shows) without a
    warning: one parameter per ``Args:`` entry, each a parameter of the signature."""
    griffe = pytest.importorskip("griffe")
    package = griffe.load("tarpose", search_paths=[str(ROOT)], resolve_aliases=False)

    def parse(obj) -> None:
        if obj.docstring is not None:
            obj.docstring.parse("google")
        for member in obj.members.values():
            if not member.is_alias:
                parse(member)

    with caplog.at_level("WARNING", logger="griffe"):
        parse(package)
    assert [r.getMessage() for r in caplog.records] == []

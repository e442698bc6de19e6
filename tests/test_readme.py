"""Every Python block of the README runs (unless marked not runnable) and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

BLOCK = re.compile(r"(<!-- not-run: [^>]+ -->\n)?```(\w+)\n(.*?)```", re.S)


def code_blocks(path: Path, language: str) -> list[tuple[str, bool]]:
    """(code, runnable) for each fenced block of ``language`` in a Markdown file."""
    return [
        (m.group(3), m.group(1) is None)
        for m in BLOCK.finditer(path.read_text())
        if m.group(2) == language
    ]


README_PY = code_blocks(ROOT / "README.md", "python")


@pytest.mark.parametrize("index", range(len(README_PY)))
def test_readme_python_block(index):
    code, runnable = README_PY[index]
    if not runnable:
        pytest.skip("marked not runnable here (needs the network)")
    exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})


def test_ci_runs_the_readme_test_command():
    bash = [code.strip() for code, _ in code_blocks(ROOT / "README.md", "bash")]
    tests_section = (ROOT / "README.md").read_text().split("Tests:", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", tests_section, re.S).group(1).strip()
    assert command in bash
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == command

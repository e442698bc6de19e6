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

BLOCK = re.compile(r"(?:<!-- (not-run|needs): ([^>]+?) -->\n)?```(\w+)\n(.*?)```", re.S)
#: files a block may need (``<!-- needs: NAME -->``), linked into its working folder; the block is
#: skipped where the file is absent (an installed user has no ../shared)
DATA = {"vtest.avi": ROOT.parent / "shared" / "data" / "vtest.avi"}
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path, language: str) -> list[tuple[str, str | None, str]]:
    """(code, marker, argument) for each fenced block of ``language`` in a Markdown file; marker is
    ``"not-run"``, ``"needs"`` or None."""
    return [
        (m.group(4), m.group(1), m.group(2))
        for m in BLOCK.finditer(path.read_text())
        if m.group(3) == language
    ]


PYTHON_BLOCKS = [
    (page, index, code, marker, argument)
    for page in PAGES
    for index, (code, marker, argument) in enumerate(code_blocks(page, "python"))
]


@pytest.mark.parametrize(
    "page,index,code,marker,argument", PYTHON_BLOCKS,
    ids=[f"{p.relative_to(ROOT)}[{i}]" for p, i, *_ in PYTHON_BLOCKS],
)
def test_python_block_runs(page, index, code, marker, argument, tmp_path, monkeypatch):
    if marker == "not-run":
        pytest.skip(f"marked not runnable here ({argument})")
    if marker == "needs":
        for name in argument.split():
            if name not in DATA:
                raise ValueError(f"{page.name}: unknown data file {name!r}; known: {', '.join(DATA)}")
            if not DATA[name].exists():
                pytest.skip(f"{DATA[name]} is not here")
            (tmp_path / name).symlink_to(DATA[name])
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
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # --strict fails on warnings; say which
    for page in ("reference/modules", "reference/data", "reference/eval", "reference/cli"):
        assert (tmp_path / "site" / page / "index.html").exists(), page
    check_in_browser(tmp_path / "site")


def check_in_browser(site: Path) -> None:
    """Every page loaded in headless Chromium at 1280 px: no JavaScript error, every image loads,
    no code block wider than the column (scripts/check_site.py; skipped without a browser)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tarpose_check_site", ROOT / "scripts" / "check_site.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    browser = check.find_browser()
    if browser is None:
        pytest.skip("the site builds; no Chromium here for the browser check (apt-get install chromium)")
    problems = check.check_site(site, browser)
    assert not problems, "\n".join(problems)


def test_reference_has_no_sphinx_roles_and_covers_every_public_module():
    """Docstrings cross-reference in Markdown (``[Window][tarpose.Window]``): a Sphinx role would
    be printed as raw text. Every public subpackage has a reference page."""
    roles = re.compile(r":(class|func|meth|mod|attr|data|obj|exc):`")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "tarpose").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if roles.search(line)]
    assert found == [], f"Sphinx roles (write [Name][tarpose.Name]): {found}"
    literal = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "tarpose").rglob("*.py"))
               for n, line in enumerate(path.read_text().splitlines(), 1) if line.rstrip().endswith("::")
               and not line.strip().startswith("#")]
    assert literal == [], f"reST literal blocks (use a fenced code block): {literal}"
    reference = "\n".join(p.read_text() for p in (ROOT / "docs" / "reference").glob("*.md"))
    for package in ("tarpose.layers", "tarpose.models", "tarpose.weights", "tarpose.inference",
                    "tarpose.training", "tarpose.data", "tarpose.eval", "tarpose.demo"):
        assert f"::: {package}" in reference, f"no reference page renders {package}"


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

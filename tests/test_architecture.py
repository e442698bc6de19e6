"""The layers of docs/architecture.md hold: no import cycle between tarpose's modules, and every
import points down the stack. Imports are read from the source (an AST walk), including those
inside functions, so an import deferred to dodge a cycle still counts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "tarpose"
TABLE_ROW = re.compile(r"^\| (\d+) \| (\w+) \| (`tarpose[^|]*) \|", re.M)


def modules(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is a package)}`` of every module under ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def import_graph(found: dict[str, tuple[Path, bool]]) -> dict[str, dict[str, int]]:
    """``{module: {imported tarpose module: line}}``, from every import statement of each file
    (top level or not). Importing ``a.b.c`` also runs the packages ``a.b`` and ``a``: those count
    as imported too, except the importer's own parent packages, which Python has run already
    (unless the file names one of them itself, as ``import tarpose`` in ``tarpose.x.y`` does)."""
    graph: dict[str, dict[str, int]] = {name: {} for name in found}
    for name, (path, package) in found.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(name, package, node, found):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    imported = ".".join(parts[:i])
                    if imported not in found or imported == name:
                        continue
                    if name.startswith(imported + ".") and imported != target:
                        continue
                    graph[name].setdefault(imported, node.lineno)
    return graph


def _targets(name: str, package: bool, node: ast.AST, found: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "tarpose"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = name.split(".") if package else name.split(".")[:-1]
        if node.level - 1 >= len(base):  # Python refuses it at run time; never skip it here
            raise AssertionError(f"{name} line {node.lineno}: relative import beyond the package")
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module.split(".")[0] != "tarpose":
        return []
    # `from pkg import sub` imports the module pkg.sub when there is one, else a name of pkg
    return [f"{module}.{a.name}" if f"{module}.{a.name}" in found else module for a in node.names]


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def layer_table() -> dict[str, tuple[int, str]]:
    """``{module or package prefix: (rank, layer)}`` from the table of docs/architecture.md."""
    table = {}
    for rank, layer, cell in TABLE_ROW.findall((ROOT / "docs" / "architecture.md").read_text()):
        for prefix in re.findall(r"`(tarpose[\w.]*)`", cell):
            table[prefix] = (int(rank), layer)
    return table


def layer_of(module: str, table: dict[str, tuple[int, str]]) -> tuple[int, str]:
    best = max((p for p in table if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer of docs/architecture.md: add it to the table")
    return table[best]


GRAPH = import_graph(modules())


def test_there_is_no_import_cycle():
    assert cycles(GRAPH) == []


def violations(graph: dict[str, dict[str, int]], table: dict[str, tuple[int, str]]) -> list[str]:
    """Imports of a higher layer, or of another layer of the same rank."""
    wrong = []
    for module, imported in graph.items():
        rank, layer = layer_of(module, table)
        for target, line in imported.items():
            target_rank, target_layer = layer_of(target, table)
            if target_rank > rank or (target_rank == rank and target_layer != layer):
                wrong.append(f"{module} ({layer}) imports {target} ({target_layer}) at line {line}")
    return wrong


def test_every_import_points_down_the_layers():
    table = layer_table()
    assert {layer for _, layer in table.values()} >= {
        "leaf", "layers", "models", "weights", "factory", "inference", "training", "cli"}
    wrong = violations(GRAPH, table)
    assert wrong == [], "imports against docs/architecture.md:\n" + "\n".join(wrong)


# -- the checks themselves: they find what they are meant to find ------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, dict[str, int]]:
    for name, text in files.items():
        path = tmp_path / "tarpose" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(modules(tmp_path / "tarpose"))


def test_a_deferred_import_still_makes_a_cycle(tmp_path):
    """The cycle the issue found: a model module importing the weights inside a function."""
    graph = _package(tmp_path, {
        "__init__.py": "",
        "models/__init__.py": "from .vitpose import ViTPose\n",
        "models/vitpose.py": "def save(self):\n    from ..weights.hub import write\n",
        "weights/__init__.py": "",
        "weights/hub.py": "from ..models.vitpose import ViTPose\n",
    })
    assert graph["tarpose.models.vitpose"] == {"tarpose.weights": 2, "tarpose.weights.hub": 2}
    assert cycles(graph) == [["tarpose.models", "tarpose.models.vitpose", "tarpose.weights.hub"]]


def test_importing_the_package_root_from_inside_counts(tmp_path):
    graph = _package(tmp_path, {
        "__init__.py": "from .inference import predict\n",
        "inference/__init__.py": "from .source import predict\n",
        "inference/source.py": "def predict():\n    import tarpose\n",
    })
    assert "tarpose" in graph["tarpose.inference.source"]
    assert cycles(graph) == [["tarpose", "tarpose.inference", "tarpose.inference.source"]]


def test_a_relative_import_beyond_the_package_is_an_error(tmp_path):
    with pytest.raises(AssertionError, match=r"tarpose.detection.rtdetr line 2: relative import beyond"):
        _package(tmp_path, {
            "__init__.py": "", "detection/__init__.py": "",
            "detection/rtdetr.py": "def f():\n    from ...weights.sources import hub_access\n",
        })


def test_every_module_has_a_layer():
    table = layer_table()
    for module in GRAPH:
        layer_of(module, table)
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("tarpose_other.x", table)


def test_an_import_up_or_across_the_stack_is_reported():
    table = layer_table()
    graph = {
        "tarpose.models.vitpose": {"tarpose.factory": 3, "tarpose.layers.mlp": 4},
        "tarpose.training.engine": {"tarpose.inference.stream": 7},
        "tarpose.weights.load": {"tarpose.models.temporal": 9},
        "tarpose.detection.base": {"tarpose.tracking.tracker": 5, "tarpose.boxes": 6},
    }
    assert violations(graph, table) == [
        "tarpose.models.vitpose (models) imports tarpose.factory (factory) at line 3",
        "tarpose.training.engine (training) imports tarpose.inference.stream (inference) at line 7",
        "tarpose.detection.base (detection) imports tarpose.tracking.tracker (tracking) at line 5",
    ]

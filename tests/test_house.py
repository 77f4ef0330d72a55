"""The house rules a newcomer can rely on, checked: small functions and modules, imports
that flow one way (search -> runners -> space), litellm in one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGES = ("space", "runners", "search")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 350


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def long_functions(text: str) -> list[str]:
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or 0) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_functions_and_modules_are_small(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    assert not long_functions(text)


def test_benchmark_functions_are_small_too() -> None:
    long = {
        p.name: found for p in (REPO / "benchmarks").glob("*.py") if (found := long_functions(p.read_text()))
    }
    assert not long


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_imports_flow_one_way_and_litellm_lives_in_one_module() -> None:
    below = {"space": ("accord.runners", "accord.search"), "runners": ("accord.search",), "search": ()}
    with_litellm = []
    for path in modules():
        names = imported(path)
        package = path.relative_to(REPO).parts[0]
        assert not [n for n in names if n.startswith(below[package])], path
        if any(n == "litellm" or n.startswith("litellm.") for n in names):
            with_litellm.append(path.relative_to(REPO).as_posix())
    assert with_litellm in ([], ["runners/llm/provider.py"])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(["accord", *parts])


def test_no_module_imports_itself_round_a_circle() -> None:
    """Edges from each module to the accord modules it imports (type-checking imports
    too; a package's __init__ only re-exports, so an import of a package counts as one of
    the submodule it names, or not at all)."""
    names = {module_name(p): p for p in modules() if p.name != "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("accord"):
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                edges.update(t for t in targets if t in names)
        graph[name] = edges - {name}
    assert "accord.runners.loop.techniques" in graph["accord.runners.loop.rounds"]  # the graph is real
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])

"""The architecture's import rules (README 'Layout'), checked on the source: no import circle among the
models, decoding never reaches models or the pipeline, and the pipeline uses models only through the
narrow surface it is given (it never imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "harken"


def imports(path: Path) -> set[str]:
    """Every harken module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harken"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("harken")}
    return found


GRAPH = {"harken." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): imports(p)
         for p in ROOT.rglob("*.py")}


def package_edges(package: str) -> dict[str, set[str]]:
    return {m: {d for d in deps if d.startswith(package + ".")} for m, deps in GRAPH.items()
            if m.startswith(package + ".")}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in edges.get(m, ()):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in edges:
        if m not in state and (c := visit(m)):
            return c
    return None


def test_no_import_circle_among_models():
    assert find_cycle(package_edges("harken.models")) is None


def test_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_lower_layers_do_not_import_higher_ones():
    rules = {"harken.decoding": ("harken.models", "harken.inference", "harken.training", "harken.cli"),
             "harken.inference": ("harken.models", "harken.training", "harken.cli"),
             "harken.models": ("harken.training", "harken.cli"),
             "harken.core": ("harken.models", "harken.inference", "harken.decoding", "harken.training")}
    bad = [(m, d) for layer, banned in rules.items() for m, deps in GRAPH.items() if m.startswith(layer)
           for d in deps if d.startswith(banned)]
    assert bad == []

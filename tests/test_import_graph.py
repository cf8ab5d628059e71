"""The package's module-level imports form no cycle (STYLE: no import cycles).

Imports inside functions are deliberate lazy imports (spaCy, scikit-learn, the workbench) and are left
out; a cycle among top-level imports is what makes import order matter and a module half-initialised.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package's modules it imports at module level (``if`` blocks included)."""
    files = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        nodes = list(ast.parse(path.read_text(encoding="utf-8")).body)
        while nodes:
            node = nodes.pop()
            if isinstance(node, (ast.If, ast.Try)):
                nodes += node.body + node.orelse + getattr(node, "handlers", [])
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - (node.level - 1)] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_module_level_import_cycle():
    graph = import_graph()
    assert len(graph) > 100 and "pipeline.rules.base" in graph["pipeline.rules.phrase"]
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pipeline"
    (pkg / "rules").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rules" / "__init__.py").write_text("from . import kind\n")
    (pkg / "rules" / "kind.py").write_text("from . import Rule\n")  # the pattern rules/base.py replaced
    (pkg / "run.py").write_text("def f():\n    from .rules import kind  # lazy: not an edge\n")
    graph = import_graph(pkg)
    assert graph["pipeline.run"] == set()
    assert cycles(graph) == [["pipeline.rules", "pipeline.rules.kind"]]

"""No import cycles inside `app` (issue #12): a module never imports, directly or through
others, a module that imports it back. Imports inside functions count too; that is how cycles
hid before. The layer contracts themselves are import-linter's (pyproject.toml, `make lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

APP = Path(__file__).resolve().parents[1] / "app"


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every group of modules that import each other in a ring (Tarjan's strongly connected
    components of more than one module), sorted for a readable failure."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long import chain cannot hit the recursion limit.
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if not (target == package or target.startswith(package + ".")):
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append(
                        (target, iter(sorted(graph.find_modules_directly_imported_by(target))))
                    )
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    ring = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        ring.append(member)
                        if member == module:
                            break
                    if len(ring) > 1:
                        cycles.append(sorted(ring))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_app_has_no_import_cycles() -> None:
    graph = grimp.build_graph("app", cache_dir=None)
    assert import_cycles(graph, "app") == []


def test_no_hidden_imports_of_app_modules() -> None:
    """`importlib.import_module("app...")` is an import the graph cannot see (it hid the
    planner cycle); import statically instead."""
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ) or (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__"):
                offenders.append(f"{path.relative_to(APP)}:{node.lineno}")
    assert offenders == []


def test_the_cycle_finder_finds_a_ring(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "ringpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from ringpkg import b\n")
    (package / "b.py").write_text("def f():\n    from ringpkg import c\n")
    (package / "c.py").write_text("import ringpkg.a\n")
    (package / "d.py").write_text("import ringpkg.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("ringpkg", cache_dir=None)
    assert import_cycles(graph, "ringpkg") == [["ringpkg.a", "ringpkg.b", "ringpkg.c"]]

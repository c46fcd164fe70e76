"""The project's modules import each other without cycles, and at module level.

Read from the source (ast), so the test shows the structure, not what one
run happened to import: a module imports the modules below it, never one
that imports it back, and never hides an import in a function to get round
a cycle. Imports under ``if TYPE_CHECKING:`` are for annotations only and
are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted(ROOT.glob("packages/*/src")), ROOT / "conformance" / "src"]
PREFIXES = ("eventsourcing", "eventsourcing_conformance")

# Imports inside functions, each deferring a heavy optional driver on purpose:
# (importing module, imported module).
DEFERRED = {
    # psycopg and its pool are imported only once PostgreSQL is selected.
    ("eventsourcing.postgres.plugin", "eventsourcing.postgres"),
    # pycryptodome is imported only once a cipher is selected.
    ("eventsourcing.cipher.plugin", "eventsourcing.cipher"),
    # The PostgreSQL and conformance packages import their heavy classes on first
    # use (PEP 562 __getattr__), since their plugins are modules of the package.
    ("eventsourcing.postgres", "eventsourcing.postgres.api"),
    ("eventsourcing_conformance", "eventsourcing_conformance.suite"),
    # Each backend's pytest plugin for the conformance suite is loaded by any
    # pytest run where the backend is installed; the suite (with Hypothesis)
    # is a test-time dependency, imported only when the suite asks the hook.
    ("eventsourcing.popo_conformance", "eventsourcing_conformance"),
    # The command line's subcommands (argparse and every subcommand module)
    # load only when the `eventsourcing` command asks for them, not whenever
    # an application loads the core's plugin.
    ("eventsourcing.builtin", "eventsourcing.cli.builtin"),
    ("eventsourcing.sqlite.conformance", "eventsourcing_conformance"),
    ("eventsourcing.postgres.conformance", "eventsourcing_conformance"),
}


def project_modules() -> Dict[str, Path]:
    modules: Dict[str, Path] = {}
    for src in SOURCES:
        for path in src.rglob("*.py"):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if name.startswith(PREFIXES):
                modules[name] = path
    return modules


MODULES = project_modules()


def imported(node: ast.AST, package: str) -> Iterator[str]:
    """The project modules an import statement imports."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        assert node.level == 0, f"relative import in {package}"
        base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    else:
        return
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            yield name


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str) -> Tuple[Set[str], Set[str]]:
    """(imported at module level, imported inside functions or classes)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf8"))
    top: Set[str] = set()
    nested: Set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child, in_function)
            return
        (nested if in_function else top).update(imported(node, module))
        inside = in_function or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        )
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return top - {module}, nested - {module}


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_sources_are_found() -> None:
    assert {"eventsourcing.persistence", "eventsourcing.postgres.commit"} <= set(MODULES)


def test_no_import_cycle() -> None:
    # Counting every import, those in functions too (but the deliberate deferrals).
    graph: Dict[str, Set[str]] = {}
    for module in MODULES:
        top, nested = imports_of(module)
        graph[module] = top | {t for t in nested if (module, t) not in DEFERRED}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_imports_hidden_in_functions() -> None:
    hidden = {(module, target) for module in MODULES for target in imports_of(module)[1]} - DEFERRED
    assert hidden == set()


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

"""The package's architecture holds: wings import one way, no import cycle, small modules.

The imports are read with ``ast`` from the source, so a cycle is caught even where
Python would tolerate it at run time. Imports under ``if TYPE_CHECKING:`` are for
annotations only and never run, so they do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

import netserve_testing

PACKAGE = "netserve_testing"
ROOT = Path(netserve_testing.__file__).resolve().parent

#: The longest a module may grow before it should be split (about 600 lines).
MAX_LINES = 650

#: What each part of the package may import from the others (besides itself). The top-level
#: ``__init__`` re-exports everything and is left out.
ALLOWED: Dict[str, Set[str]] = {
    "script": {"_errors"},
    "memory": {"_errors", "_tls", "script"},
    "live": {"_errors", "_tls", "script"},
    "conformance": {"_errors", "_tls", "memory", "script"},
    "plugin": {"_errors", "_payloads", "_tls", "live", "script"},
    "strategies": {"_errors", "_payloads", "memory", "script"},
    "_errors": set(),
    "_payloads": set(),
    "_tls": {"_errors"},
}


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(name: str) -> bool:
    return (ROOT.joinpath(*name.split(".")[1:]) / "__init__.py").exists()


def _is_module(name: str) -> bool:
    relative = name.split(".")[1:]
    return _is_package(name) or ROOT.joinpath(*relative).with_suffix(".py").exists()


def _runtime_imports(tree: ast.Module) -> List[ast.stmt]:
    # Import statements that run: everything but the bodies of `if TYPE_CHECKING:`.
    found: List[ast.stmt] = []

    def visit(nodes: List[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])

    visit(tree.body)
    return found


def _resolve(importer: str, node: ast.stmt) -> List[str]:
    # The package's modules an import statement loads (a submodule named in `from x import y`
    # counts as the submodule).
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith(PACKAGE)]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = importer.split(".")
        if not _is_package(importer):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith(PACKAGE):
        return []
    names = [f"{target}.{alias.name}" for alias in node.names]
    submodules = [name for name in names if _is_module(name)]
    return submodules if len(submodules) == len(names) else [target, *submodules]


def _graph() -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: Set[str] = set()
        for node in _runtime_imports(tree):
            for target in _resolve(importer, node):
                edges.add(target)
                # Importing a module of another package first runs that package's __init__.
                parts = target.split(".")
                for depth in range(2, len(parts)):
                    parent = ".".join(parts[:depth])
                    if not importer.startswith(parent + ".") and importer != parent:
                        edges.add(parent)
        edges.discard(importer)
        graph[importer] = edges
    return graph


def _part(module: str) -> Optional[str]:
    # The wing or top-level module a module belongs to; None for the package itself.
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
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


def test_the_package_has_no_import_cycle() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_wings_import_only_what_the_architecture_allows() -> None:
    wrong = []
    for importer, targets in sorted(_graph().items()):
        part = _part(importer)
        if part is None:
            continue  # the top-level __init__ re-exports every wing
        allowed = ALLOWED.get(part)
        assert allowed is not None, f"{importer}: new part {part!r}, add it to ALLOWED"
        for target in sorted(targets):
            other = _part(target)
            if other is not None and other != part and other not in allowed:
                wrong.append(f"{importer} imports {target}")
    assert wrong == []


def test_the_script_wing_is_pure() -> None:
    graph = _graph()
    script_modules = [name for name in graph if _part(name) == "script"]
    assert script_modules, "no script wing found"
    for importer in script_modules:
        strays = {_part(t) for t in graph[importer]} - {"script", "_errors", None}
        assert not strays, f"{importer} imports from {sorted(strays)}"


@pytest.mark.parametrize(
    "path", sorted(ROOT.rglob("*.py")), ids=lambda path: str(path.relative_to(ROOT))
)
def test_no_module_is_too_long(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by idea"


def test_the_checker_finds_a_cycle_and_a_wrong_way_import() -> None:
    # The checks themselves can fail: a planted cycle and a planted import are found.
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from ..memory._stream import FakeStreamSocket\n"
        "if TYPE_CHECKING:\n"
        "    from ..live._clients import StreamClient\n"
    )
    imports = [
        target
        for node in _runtime_imports(tree)
        for target in _resolve("netserve_testing.script._steps", node)
    ]
    assert imports == ["netserve_testing.memory._stream"]

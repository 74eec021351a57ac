"""Reading a package's architecture from its source: the import graph, cycles, module sizes.

Shared by the layout tests of ``netserve`` and ``netserve_testing``. The imports are read
with ``ast`` from the source, so a cycle is caught even where Python would tolerate it at
run time, and an import in a function body counts as much as one at the top of a module.
Imports under ``if TYPE_CHECKING:`` are for annotations only and never run, so they do not
count.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional, Set

#: The longest a module may grow before it should be split by idea (about 600 lines).
MAX_LINES = 650


@dataclass(frozen=True)
class PackageLayout:
    """A package's modules as files: ``package`` is its import name, ``root`` its folder."""

    package: str
    root: Path

    @classmethod
    def of(cls, package: ModuleType) -> PackageLayout:
        assert package.__file__ is not None, f"{package.__name__} is not a regular package"
        return cls(package.__name__, Path(package.__file__).resolve().parent)

    def contains(self, name: str) -> bool:
        """Whether ``name`` is the package or one of its modules."""
        return name == self.package or name.startswith(self.package + ".")

    def files(self) -> List[Path]:
        return sorted(self.root.rglob("*.py"))

    def module_name(self, path: Path) -> str:
        parts = [self.package, *path.relative_to(self.root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def is_package(self, name: str) -> bool:
        return (self.root.joinpath(*name.split(".")[1:]) / "__init__.py").exists()

    def is_module(self, name: str) -> bool:
        relative = name.split(".")[1:]
        return self.is_package(name) or self.root.joinpath(*relative).with_suffix(".py").exists()

    def resolve(self, importer: str, node: ast.stmt) -> List[str]:
        """The package's modules an import statement of ``importer`` loads.

        A submodule named in ``from x import y`` counts as the submodule.
        """
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names if self.contains(alias.name)]
        assert isinstance(node, ast.ImportFrom)
        if node.level:
            base = importer.split(".")
            if not self.is_package(importer):
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if not self.contains(target):
            return []
        names = [f"{target}.{alias.name}" for alias in node.names]
        submodules = [name for name in names if self.is_module(name)]
        return submodules if len(submodules) == len(names) else [target, *submodules]

    def graph(self) -> Dict[str, Set[str]]:
        """Each module of the package -> the package's modules it imports when it runs."""
        graph: Dict[str, Set[str]] = {}
        for path in self.files():
            importer = self.module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            edges: Set[str] = set()
            for node in runtime_imports(tree):
                for target in self.resolve(importer, node):
                    edges.add(target)
                    # Importing a module of another subpackage first runs its __init__.
                    parts = target.split(".")
                    for depth in range(2, len(parts)):
                        parent = ".".join(parts[:depth])
                        if not importer.startswith(parent + ".") and importer != parent:
                            edges.add(parent)
            edges.discard(importer)
            graph[importer] = edges
        return graph


def runtime_imports(tree: ast.Module) -> List[ast.stmt]:
    """The import statements that run: everything but the bodies of ``if TYPE_CHECKING:``."""
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


def part_of(module: str) -> Optional[str]:
    """The wing or top-level module a module belongs to; None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """An import cycle of the graph as ``[a, b, ..., a]``, or None if it has none."""
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


def check_length(layout: PackageLayout, path: Path) -> None:
    """Fail if the module at ``path`` is longer than :data:`MAX_LINES`."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    where = path.relative_to(layout.root.parent)
    assert lines <= MAX_LINES, f"{where} has {lines} lines: split it by idea"

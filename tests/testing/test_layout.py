"""The package's architecture holds: wings import one way, no import cycle, small modules.

The imports are read with ``ast`` from the source (see ``package_layout``, shared with
the core's layout test), so a cycle is caught even where Python would tolerate it at run
time. Imports under ``if TYPE_CHECKING:`` are for annotations only and never run, so they
do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

import pytest
from package_layout import PackageLayout, check_length, find_cycle, part_of, runtime_imports

import netserve_testing

LAYOUT = PackageLayout.of(netserve_testing)

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


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(LAYOUT.graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_wings_import_only_what_the_architecture_allows() -> None:
    wrong = []
    for importer, targets in sorted(LAYOUT.graph().items()):
        part = part_of(importer)
        if part is None:
            continue  # the top-level __init__ re-exports every wing
        allowed = ALLOWED.get(part)
        assert allowed is not None, f"{importer}: new part {part!r}, add it to ALLOWED"
        for target in sorted(targets):
            other = part_of(target)
            if other is not None and other != part and other not in allowed:
                wrong.append(f"{importer} imports {target}")
    assert wrong == []


def test_the_script_wing_is_pure() -> None:
    graph = LAYOUT.graph()
    script_modules = [name for name in graph if part_of(name) == "script"]
    assert script_modules, "no script wing found"
    for importer in script_modules:
        strays = {part_of(t) for t in graph[importer]} - {"script", "_errors", None}
        assert not strays, f"{importer} imports from {sorted(strays)}"


@pytest.mark.parametrize(
    "path", LAYOUT.files(), ids=lambda path: str(path.relative_to(LAYOUT.root))
)
def test_no_module_is_too_long(path: Path) -> None:
    check_length(LAYOUT, path)


def test_the_checker_finds_a_cycle_and_a_wrong_way_import() -> None:
    # The checks themselves can fail: a planted cycle and a planted import are found.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from ..memory._stream import FakeStreamSocket\n"
        "if TYPE_CHECKING:\n"
        "    from ..live._clients import StreamClient\n"
    )
    imports = [
        target
        for node in runtime_imports(tree)
        for target in LAYOUT.resolve("netserve_testing.script._steps", node)
    ]
    assert imports == ["netserve_testing.memory._stream"]

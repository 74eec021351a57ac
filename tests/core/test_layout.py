"""netserve's architecture holds: imports flow one way, down the layers, no cycle, small modules.

The imports are read with ``ast`` from the source (see ``package_layout``, shared with the
kit's layout test), so a cycle hidden in a function body is caught too; imports under
``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest
from package_layout import PackageLayout, check_length, find_cycle, part_of, runtime_imports

import netserve

LAYOUT = PackageLayout.of(netserve)

#: netserve's parts from the bottom up: a module imports only parts of lower layers. The
#: package's ``__init__`` re-exports from all of them and is above every layer: no module
#: imports it (``from . import X`` in a private module would make imports flow back up).
LAYERS: List[List[str]] = [
    # Leaves: errors, the serve loop's plumbing, the handlers, the worker pool, coverage.
    ["_errors", "_loop", "_handlers", "_pool", "_coverage"],
    # BaseServer; address checks; the concurrency mix-ins; the CLI's default handlers.
    ["_base", "_address", "_mixins", "_echo"],
    # The socket servers.
    ["_servers"],
    # What combines servers and mix-ins: the predefined servers, TLS.
    ["_predefined", "_tls"],
    # The command line, and ``python -m netserve``.
    ["_cli"],
    ["__main__"],
]


def _wrong_way_imports(graph: Dict[str, Set[str]]) -> List[str]:
    # Every import of a part by a part of the same or a higher layer, or of the package.
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    wrong = []
    for importer, targets in sorted(graph.items()):
        part = part_of(importer)
        if part is None:
            continue  # the package's __init__ re-exports every part
        assert part in layer_of, f"{importer}: new part {part!r}, add it to LAYERS"
        for target in sorted(targets):
            other = part_of(target)
            if other == part:
                continue  # inside one part (the modules of the _cli package)
            if other is None or layer_of.get(other, len(LAYERS)) >= layer_of[part]:
                wrong.append(f"{importer} imports {target}")
    return wrong


def test_netserve_has_no_import_cycle() -> None:
    cycle = find_cycle(LAYOUT.graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_netserve_modules_import_only_lower_layers() -> None:
    assert _wrong_way_imports(LAYOUT.graph()) == []


@pytest.mark.parametrize(
    "path", LAYOUT.files(), ids=lambda path: str(path.relative_to(LAYOUT.root))
)
def test_no_netserve_module_is_too_long(path: Path) -> None:
    check_length(LAYOUT, path)


def test_the_checker_sees_netserve_imports_that_run_and_a_planted_cycle() -> None:
    # The checks can fail: the package itself, a lazy import in a function body and a
    # submodule are imports; a TYPE_CHECKING import is not; an import up the layers is
    # found, and one that closes a loop is a cycle.
    tree = ast.parse(
        "TYPE_CHECKING = False\n"
        "from . import BaseServer\n"
        "def later():\n"
        "    from ._cli import main\n"
        "if TYPE_CHECKING:\n"
        "    from ._base import HandlerFactory\n"
        "import netserve_testing\n"
    )
    imports = [
        target
        for node in runtime_imports(tree)
        for target in LAYOUT.resolve("netserve._servers", node)
    ]
    assert imports == ["netserve", "netserve._cli"]
    graph = LAYOUT.graph()
    assert "netserve._loop" in graph["netserve._base"]
    graph["netserve._loop"].add("netserve._servers")
    assert find_cycle(graph) == [
        "netserve._base",
        "netserve._loop",
        "netserve._servers",
        "netserve._base",
    ]

"""``import netserve`` stays cheap: it imports nothing beyond what ``import socketserver`` does.

The cost itself is measured by ``bench/bench_core.py`` (the import row, beside the stdlib);
here the test checks the cause, deterministically: which modules an import brings in.
"""

from __future__ import annotations

import json
import subprocess
import sys

from ._support import child_env

PROBE = """
import json, sys
before = set(sys.modules)
import socketserver
stdlib = set(sys.modules) - before
before = set(sys.modules)
import netserve
print(json.dumps({"stdlib": sorted(stdlib), "netserve": sorted(set(sys.modules) - before)}))
"""


def _modules_imported() -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=child_env(),
    )
    result: dict[str, list[str]] = json.loads(completed.stdout)
    return result


def test_import_netserve_adds_only_its_own_modules_to_socketservers() -> None:
    modules = _modules_imported()
    extra = [
        name
        for name in modules["netserve"]
        if name != "__future__" and name.split(".")[0] != "netserve"
    ]
    assert extra == [], f"import netserve imports {extra} beyond what socketserver imports"


def test_import_netserve_does_not_import_logging_typing_or_queue() -> None:
    probe = "import sys, netserve; print(sorted(set(sys.modules) & {mods!r}))".format(
        mods={"logging", "typing", "queue", "contextlib", "weakref", "traceback"}
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=child_env(),
    )
    assert completed.stdout.strip() == "[]"

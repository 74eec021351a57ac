"""The README's Python examples run, section by section, as a user would paste them."""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# The golden file shown (```text) in the recordings section.
_GOLDEN_FILE = re.findall(
    r"```text\n(.*?)```", README[README.index("## Recordings:") :], re.DOTALL
)[0]

# Names a section uses but, for brevity, defines in another section or not at all.
PRELUDES: Dict[str, str] = {
    "## Unit-testing handlers in memory": """
import socketserver

class AdminHandler(socketserver.StreamRequestHandler):
    def handle(self):
        if self.rfile.readline().strip() == self.server.password:
            self.server.request_shutdown()
""",
    "## Testing handlers against real servers: the pytest plugin": """
import socketserver

class UDPUpper(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)
""",
    "## Scripts that speak protocols: line endings, read-until, HTTP": "",
    # The golden file the section shows, where netserve_golden looks for it.
    "## Recordings: golden scripts, and pauses": f"""
import pathlib

_golden = pathlib.Path(__file__).parent / "golden"
_golden.mkdir(exist_ok=True)
(_golden / "greeting.script").write_text({_GOLDEN_FILE!r})
""",
    "## TLS": """
import socketserver

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())
""",
    "## Faults on real connections: `FaultProxy`": "",
    "## Property-based tests: `netserve_testing.strategies`": """
from hypothesis import HealthCheck, settings

settings.register_profile(
    "readme",
    derandomize=True,
    max_examples=30,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("readme")
""",
    "## Coverage of forked children and handler threads": """
import socketserver

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())
""",
    "## Beside pytest-socket": """
import socketserver

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())
""",
    "## Examples": f"""
import sys
sys.path.insert(0, {str(ROOT / "examples")!r})
""",
}


def python_blocks(heading: str) -> List[str]:
    """Return the ```python blocks of the README section that starts at ``heading``."""
    start = README.index(heading + "\n")
    end = README.find("\n## ", start + len(heading))
    section = README[start : end if end >= 0 else len(README)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


@pytest.mark.parametrize("heading", sorted(PRELUDES))
def test_README_section_examples_pass_as_tests(pytester: pytest.Pytester, heading: str) -> None:
    blocks = python_blocks(heading)
    assert blocks, f"no python example under {heading!r}"
    source = PRELUDES[heading] + "\n\n".join(blocks)
    pytester.makepyfile(test_readme_section=source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    tests = len(re.findall(r"^def test_", source, re.MULTILINE))
    parametrized = 0
    for line in result.outlines:
        found = re.match(r"=+ (\d+) passed(?:, (\d+) xfailed)?", line)
        if found:  # an xfail(strict=True) example shows a bug the README finds
            parametrized = int(found.group(1)) + int(found.group(2) or 0)
    assert result.ret == 0, "\n".join(result.outlines)
    assert parametrized >= tests > 0


def _names(source: str) -> Tuple[Set[str], Dict[str, int]]:
    # The names a block binds (imports, defs, classes, assignments, arguments), and the
    # names it reads, with the line of the first read.
    bound: Set[str] = set()
    read: Dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                read.setdefault(node.id, node.lineno)
            else:
                bound.add(node.id)
    return bound, read


def test_README_python_blocks_import_what_they_use() -> None:
    # A block may use an example class another block (or a prelude) defines, such as
    # Upper, but every module and library name it reads is imported in the block itself,
    # so a reader can paste any one block.
    found = list(re.finditer(r"```python\n(.*?)```", README, re.DOTALL))
    blocks = [match.group(1) for match in found]
    classes = {
        node.name
        for source in [*blocks, *PRELUDES.values()]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
    }
    missing = []
    for match, source in zip(found, blocks):
        first = README.count("\n", 0, match.start(1)) + 1  # the block's first line
        bound, read = _names(source)
        for name, line in read.items():
            if name not in bound and name not in classes and not hasattr(builtins, name):
                missing.append(f"{name!r} at README.md:{first + line - 1}")
    assert not missing, f"README python blocks use names they do not import: {missing}"


def test_README_short_example_runs() -> None:
    (block,) = python_blocks("## A short example")
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", block],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr

"""A forked child of netserve's ForkingMixIn saves coverage.py's data before os._exit().

The end-to-end check runs a plain ``netserve.ForkingTCPServer`` (no test kit) under
pytest-cov; the unit checks stand a fake ``coverage`` module in ``sys.modules``.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any, List, Optional

import pytest

from netserve import _coverage
from netserve._coverage import save_child_coverage

pytest_plugins = ["pytester"]

SERVER_TEST = """
import socket
import threading

import netserve
from handlers import Upper


def test_forking_server():
    with netserve.ForkingTCPServer(("127.0.0.1", 0), Upper) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            with socket.create_connection(server.server_address) as client:
                client.sendall(b"hi\\n")
                assert client.makefile("rb").readline() == b"HI\\n"
        finally:
            server.shutdown()
            thread.join()
"""

HANDLERS = """
import netserve


class Upper(netserve.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        reply = line.upper()
        self.wfile.write(reply)
"""


def test_netserve_ForkingMixIn_child_lines_are_covered(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_cov")
    pytester.makepyfile(handlers=HANDLERS, test_server=SERVER_TEST)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:netserve",
        "-p", "pytest_cov", "--cov=handlers", "--cov-report=term-missing",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    line = next(line for line in result.outlines if line.startswith("handlers.py"))
    assert " 100%" in line, "\n".join(result.outlines)


class FakeCoverage:
    def __init__(self, parallel: bool, data: Any = None) -> None:
        self.parallel = parallel
        self._data = data
        self.calls: List[str] = []

    def get_option(self, name: str) -> Any:
        assert name == "run:parallel"
        return self.parallel

    def stop(self) -> None:
        self.calls.append("stop")

    def save(self) -> None:
        self.calls.append("save")


def _install(monkeypatch: pytest.MonkeyPatch, current: Optional[FakeCoverage]) -> None:
    module = types.ModuleType("coverage")
    module.Coverage = types.SimpleNamespace(current=lambda: current)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "coverage", module)
    monkeypatch.setattr(_coverage, "_saved_by", 0)


def test_save_child_coverage_does_nothing_without_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "coverage", raising=False)
    save_child_coverage()  # nothing imported: nothing to do, nothing imported
    assert "coverage" not in sys.modules
    _install(monkeypatch, None)
    save_child_coverage()  # imported but not measuring


def test_save_child_coverage_saves_parallel_data_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cov = FakeCoverage(parallel=True)
    _install(monkeypatch, cov)
    save_child_coverage()
    save_child_coverage()  # the kit's exit path and netserve's: one save a process
    assert cov.calls == ["stop", "save"]


def test_save_child_coverage_gives_a_plain_data_file_a_suffix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `coverage run` without parallel mode: the child must not write (and so first erase)
    # the parent's data file; its data gets a suffix of its own, as parallel mode gives.
    data = types.SimpleNamespace(_suffix=None, _our_suffix=False, _pid=os.getpid() + 1)
    cov = FakeCoverage(parallel=False, data=data)
    _install(monkeypatch, cov)
    save_child_coverage()
    assert cov.calls == ["stop", "save"]
    assert (data._suffix, data._our_suffix) == (True, True)


@pytest.mark.parametrize(
    "data",
    [
        None,  # a coverage.py that keeps its data elsewhere
        types.SimpleNamespace(_suffix=None, _pid=os.getpid()),  # not forked since used
    ],
)
def test_save_child_coverage_never_risks_the_parents_data(
    monkeypatch: pytest.MonkeyPatch, data: Any
) -> None:
    cov = FakeCoverage(parallel=False, data=data)
    _install(monkeypatch, cov)
    save_child_coverage()
    assert cov.calls == ["stop"]


def test_save_child_coverage_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeCoverage):
        def save(self) -> None:
            raise OSError("disk full")

    _install(monkeypatch, Broken(parallel=True))
    save_child_coverage()

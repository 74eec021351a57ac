"""Handler lines run in forked children and handler threads show as covered, with no setting.

Each test runs a user's test file in a pytest subprocess measured by pytest-cov
(``-p pytest_cov --cov``) or by ``coverage run``, and reads the report.
"""

from __future__ import annotations

import sys
from typing import Tuple

import pytest

pytest.importorskip("coverage")
pytest.importorskip("pytest_cov")

pytest_plugins = ["pytester"]

# Every statement of handle() runs only where the handler runs: a child, or a thread.
HANDLERS = """
import socketserver


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        reply = line.upper()
        self.wfile.write(reply)


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = data.upper()
        sock.sendto(reply, self.client_address)
"""

USER_TEST = """
import pytest

from handlers import DatagramUpper, Upper


@pytest.mark.parametrize("kind", {kinds!r})
def test_upper(netserve, kind):
    server = netserve.serve(Upper if "tcp" in kind or "stream" in kind else DatagramUpper, kind)
    client = server.connect()
    if server.kind.is_stream:
        client.send_line("hi").expect_line("HI")
    else:
        client.send(b"hi").expect(b"HI")
    server.wait_for_requests(1)
"""

# Turns the child's save off, to show the report is wrong without it.
NO_SAVE_CONFTEST = """
import netserve._mixins
import netserve_testing.live._recorder

netserve._mixins.save_child_coverage = lambda: None
netserve_testing.live._recorder.save_child_coverage = lambda: None
"""

# Machine plugins stay out of the inner runs: they could reorder, rerun or time them.
INSULATE = ("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:socket")


def _run_with_pytest_cov(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *INSULATE, "-p", "pytest_cov", "--cov=handlers", "--cov-report=term-missing", *args
    )


def _coverage_version() -> Tuple[int, ...]:
    import coverage

    return tuple(int(part) for part in coverage.__version__.split(".")[:2])


def _handlers_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.outlines if line.startswith("handlers.py")]
    assert lines, "\n".join(result.outlines)
    return lines[0]


@pytest.mark.parametrize("backend", ["netserve", "socketserver"])
def test_forked_children_are_covered_under_pytest_cov(
    pytester: pytest.Pytester, backend: str
) -> None:
    pytester.makepyfile(handlers=HANDLERS)
    pytester.makepyfile(test_user=USER_TEST.format(kinds=["tcp-forking", "udp-forking"]))
    result = _run_with_pytest_cov(pytester, f"--netserve-backend={backend}")
    result.assert_outcomes(passed=2)
    assert " 100%" in _handlers_line(result)


def test_without_the_save_the_children_lines_are_missing(pytester: pytest.Pytester) -> None:
    # The check above can fail: with the child's save turned off, handle() is reported
    # as not run, which is what users of os._exit() children see without it.
    pytester.makepyfile(handlers=HANDLERS)
    pytester.makeconftest(NO_SAVE_CONFTEST)
    pytester.makepyfile(test_user=USER_TEST.format(kinds=["tcp-forking"]))
    result = _run_with_pytest_cov(pytester)
    result.assert_outcomes(passed=1)
    line = _handlers_line(result)
    assert " 100%" not in line
    assert "6-8" in line  # Upper.handle(), run only in the child


def test_handler_threads_are_covered_under_pytest_cov(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(handlers=HANDLERS)
    kinds = ["tcp-threading", "tcp-pool", "udp-threading", "tcp-sync"]
    pytester.makepyfile(test_user=USER_TEST.format(kinds=kinds))
    result = _run_with_pytest_cov(pytester)
    result.assert_outcomes(passed=4)
    assert " 100%" in _handlers_line(result)


def test_forked_children_are_covered_under_coverage_run(pytester: pytest.Pytester) -> None:
    # Plain `coverage run` (no parallel mode): the children write data files of their
    # own, never the parent's, and `coverage report` combines them.
    pytester.makepyfile(handlers=HANDLERS)
    pytester.makepyfile(test_user=USER_TEST.format(kinds=["tcp-forking", "unix_dgram-forking"]))
    run = pytester.run(
        sys.executable, "-m", "coverage", "run", "--source=handlers", "-m", "pytest", *INSULATE
    )
    assert run.ret == 0, "\n".join(run.outlines + run.errlines)
    if _coverage_version() < (7, 14):  # reporting combines data files itself since 7.14
        combine = pytester.run(sys.executable, "-m", "coverage", "combine", "--append")
        assert combine.ret == 0, "\n".join(combine.outlines + combine.errlines)
    report = pytester.run(sys.executable, "-m", "coverage", "report", "-m")
    assert report.ret == 0, "\n".join(report.outlines + report.errlines)
    assert " 100%" in _handlers_line(report)

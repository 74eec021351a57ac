"""Teardown never hangs and always runs: stuck handlers, failed tests, stdlib classes, reuse."""

from __future__ import annotations

import os
import socketserver
import threading
from typing import Any, List

import pytest

from netserve_testing import ServerCheckFailed, ServerFactory

pytest_plugins = ["pytester"]


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        if line.startswith(b"boom"):
            raise ValueError("boom")
        self.wfile.write(line.upper())


@pytest.fixture
def release() -> Any:
    """An event stuck handlers wait on; set at the end of the test so their threads end."""
    event = threading.Event()
    yield event
    event.set()


def _stuck_handler(release: threading.Event) -> type:
    class Stuck(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"in\n")
            release.wait(60)  # forever, as far as teardown is concerned

    return Stuck


@pytest.mark.parametrize(
    ("kind", "backend"),
    [
        ("tcp-sync", "netserve"),
        ("tcp-threading", "netserve"),
        ("tcp-pool", "netserve"),
        ("tcp-forking", "netserve"),
        ("unix_stream-threading", "netserve"),
        ("tcp-sync", "socketserver"),
        ("tcp-threading", "socketserver"),
        ("tcp-forking", "socketserver"),
    ],
)
def test_ServerFactory_close_reports_a_handler_that_blocks_forever(kind, backend, release):
    factory = ServerFactory(teardown_timeout=0.2, backend=backend)
    server = factory.serve(_stuck_handler(release), kind)
    server.connect().expect_line("in")
    errors, leaks = factory.close()
    release.set()
    for thread in server.reported_threads:
        thread.join(5)
    assert errors == []
    if kind.endswith("forking"):
        assert len(leaks) == 1, leaks
        assert "still running 0.2 s after shutdown" in leaks[0]
        assert leaks[0].endswith("(killed)")
    else:
        # The stuck request, named once (not again as a running thread); the stdlib's
        # server_close() waiting for its thread; the sockets and pipes it still holds.
        assert leaks[0].startswith("request from "), leaks
        assert "still being handled in <" in leaks[0]
        waits = (kind, backend) == ("tcp-threading", "socketserver")
        closing = [leak for leak in leaks if leak.startswith("server_close() of ")]
        assert len(closing) == waits, leaks
        others = set(leaks[1:]) - set(closing)
        assert all(" left open: fd " in leak for leak in others), leaks


@pytest.mark.parametrize("base", [socketserver.ThreadingTCPServer, "netserve"])
def test_ServerFactory_close_does_not_wait_for_an_accepted_request_stuck_before_its_handler(
    base, release
):
    import netserve

    entered, done = threading.Event(), threading.Event()
    server_base: Any = netserve.ThreadingTCPServer if base == "netserve" else base

    class SlowStart(server_base):  # type: ignore[misc]
        def process_request_thread(self, request: Any, client_address: Any) -> None:
            try:
                entered.set()
                release.wait(60)
                super().process_request_thread(request, client_address)
            finally:
                done.set()

    factory = ServerFactory(teardown_timeout=0.2)
    factory.serve(Upper, server_class=SlowStart).connect().send_line("x")
    assert entered.wait(5)
    errors, leaks = factory.close()
    release.set()
    assert done.wait(5)
    assert errors == []
    assert leaks[0].startswith("1 accepted request(s) never reached the handler 0.2 s after"), leaks
    threads = [leak for leak in leaks if leak.startswith("thread left running: <")]
    assert len(threads) == 1, leaks  # the thread stuck before the handler
    closing = [leak for leak in leaks if leak.startswith("server_close() of SlowStart at")]
    assert len(closing) == (base != "netserve"), leaks  # the stdlib's always joins its threads
    others = set(leaks[1:]) - set(threads) - set(closing)
    assert all(" left open: fd " in leak for leak in others), leaks


def _serve_and_fail(factory: ServerFactory) -> Any:
    with factory:
        server = factory.serve(Upper, "unix_stream-threading")
        server.connect().send_line("boom").expect_closed()
        server.wait_for_requests(1)
        raise RuntimeError("the test failed", server)  # not masked by the unhandled ValueError


def test_ServerFactory_exit_tears_down_when_the_block_raised():
    with pytest.raises(RuntimeError, match="the test failed") as failed:
        _serve_and_fail(ServerFactory())
    server = failed.value.args[1]
    assert "(closed)" in repr(server)
    assert not os.path.exists(os.path.dirname(server.address))
    assert server.server.socket.fileno() == -1


def test_ServerFactory_close_twice_and_serve_after_close():
    factory = ServerFactory()
    factory.serve(Upper).connect().send_line("a").expect_line("A")
    assert factory.close() == ([], [])
    assert factory.close() == ([], [])
    with pytest.raises(ValueError, match="serve\\(\\): this server factory is closed"):
        factory.serve(Upper)


def test_ServerFactory_close_finishes_when_a_server_close_raises():
    class Broken(socketserver.UnixStreamServer):
        def server_close(self) -> None:
            super().server_close()
            raise OSError("server_close failed")

    factory = ServerFactory()
    first = factory.serve(Upper, "unix_stream-threading")
    broken = factory.serve(Upper, server_class=Broken)
    assert os.path.dirname(broken.address) == os.path.dirname(first.address)
    with pytest.raises(OSError, match="server_close failed"):
        factory.close()
    assert "(closed)" in repr(first)
    assert not os.path.exists(os.path.dirname(first.address))
    assert factory.close() == ([], [])


def test_ServerHandle_exit_raises_for_unhandled_errors_only_when_the_block_did_not():
    factory = ServerFactory()
    server = factory.serve(Upper, "tcp-sync")
    server.connect().send_line("boom").expect_closed()
    server.wait_for_requests(1)
    with pytest.raises(ServerCheckFailed, match="1 unhandled handler error"):
        server.__exit__(None, None, None)
    assert factory.close() == ([], [])  # reported once, by the handle


FAILING_TEST = """
import os
import socketserver

servers = []


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        if self.rfile.readline().startswith(b"boom"):
            raise ValueError("boom in the handler")


def test_fails_after_a_handler_error(netserve):
    server = netserve.serve(Upper, "unix_stream-threading")
    servers.append(server)
    server.connect().send_line("boom").expect_closed()
    server.wait_for_requests(1)
    assert 1 == 2, "the test's own failure"


def test_the_failed_tests_server_was_torn_down():
    (server,) = servers
    assert "(closed)" in repr(server)
    assert not os.path.exists(server.address)
"""


def test_plugin_tears_down_a_test_that_failed(pytester: pytest.Pytester):
    pytester.makepyfile(test_failing=FAILING_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the test's own failure*",
            "*- Captured netserve handler errors call -*",
            "netserve: 1 unhandled handler error",
            "*ValueError: boom in the handler*",
        ]
    )
    out: List[str] = result.stdout.lines
    assert not any("leak:" in line for line in out), out


class _UpperUntilEOF(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


@pytest.mark.parametrize("backend", ["netserve", "socketserver"])
@pytest.mark.parametrize("kind", ["tcp-forking", "unix_stream-forking"])
def test_ServerFactory_close_ends_a_forked_handler_reading_until_EOF(kind, backend):
    # The forked child inherits the test's client socket; unless the child's copy is
    # closed at fork, disconnecting the client never reaches the handler as EOF and
    # teardown reports a stuck child.
    factory = ServerFactory(teardown_timeout=5, backend=backend)
    server = factory.serve(_UpperUntilEOF, kind)
    server.connect().send_line("hi").expect_line("HI")
    errors, leaks = factory.close()
    assert (errors, leaks) == ([], [])
    assert [record.error for record in server.requests] == [None]

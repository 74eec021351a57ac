"""Failure paths: forked children, dying pool workers, interrupted start-up, odd addresses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from typing import Any, List

import pytest

import netserve

from ._support import (
    TIMEOUT,
    EchoUpperHandler,
    call_with_timeout,
    child_env,
    connect,
    open_fds,
    recv_until_eof,
    serving,
    start_serving,
    stop_serving,
    stream_exchange,
)


def test_ForkingMixIn_request_shutdown_in_a_child_does_not_disturb_the_parent() -> None:
    # The child inherits the parent's wake-up pipe; a write to it would make the
    # parent's select() return at once, forever, while its loop is not stopping.
    passes: List[int] = []

    class Handler(netserve.StreamRequestHandler):
        def handle(self) -> None:
            if self.rfile.readline() == b"stop\n":
                self.server.request_shutdown()  # the child's copy of the server
            self.wfile.write(b"done\n")

    class Server(netserve.ForkingTCPServer):
        def service_actions(self) -> None:
            passes.append(1)
            super().service_actions()

    with Server(("127.0.0.1", 0), Handler) as server, serving(server, poll_interval=3600):
        assert stream_exchange(server, b"stop\n") == b"done\n"
        assert stream_exchange(server, b"next\n") == b"done\n"
        # Two requests: one pass each, maybe one more for a wake-up; a spinning loop
        # runs thousands of passes between them.
        assert len(passes) <= 4


def test_ThreadPoolMixIn_workers_survive_SystemExit_in_a_handler() -> None:
    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            if self.request.recv(16) == b"exit":
                sys.exit()
            self.request.sendall(b"ok")

    class Server(netserve.ThreadPoolTCPServer):
        max_workers = 1

    with Server(("127.0.0.1", 0), Handler) as server, serving(server):
        for _ in range(3):
            assert stream_exchange(server, b"exit") == b""
        assert stream_exchange(server, b"hello") == b"ok"


def test_ThreadPoolMixIn_reports_what_escapes_a_request_and_keeps_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: List[Any] = []
    monkeypatch.setattr(threading, "excepthook", reported.append)

    class Strict(netserve.ThreadPoolTCPServer):
        max_workers = 1

        def handle_error(self, request: Any, client_address: Any) -> None:
            raise  # a test server that lets handler errors escape

    class Handler(netserve.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            if line == b"boom\n":
                raise ValueError("boom")
            self.wfile.write(line.upper())

    with Strict(("127.0.0.1", 0), Handler) as server, serving(server):
        assert stream_exchange(server, b"boom\n") == b""
        assert stream_exchange(server, b"after\n") == b"AFTER\n"
    assert [type(args.exc_value) for args in reported] == [ValueError]


def test_serve_forever_interrupted_while_starting_can_serve_again() -> None:
    class Interrupt(BaseException):
        pass

    class Server(netserve.TCPServer):
        interrupt = True

        def fileno(self) -> int:
            if self.interrupt:
                self.interrupt = False
                raise Interrupt
            return super().fileno()

    with Server(("127.0.0.1", 0), EchoUpperHandler) as server:
        before = open_fds()
        with pytest.raises(Interrupt):
            server.serve_forever()
        assert open_fds() == before
        thread = start_serving(server)
        try:
            assert stream_exchange(server, b"again\n") == b"AGAIN"
        finally:
            stop_serving(server, thread)


def test_ThreadingMixIn_thread_that_fails_to_start_is_not_joined(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original_start = threading.Thread.start
    failures: List[BaseException] = []

    def start(self: threading.Thread) -> None:
        if failures:  # armed just around the handle_request() that must fail
            raise failures.pop()
        original_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with netserve.ThreadingTCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        with connect(server) as client:
            failures.append(RuntimeError("can't start new thread"))
            server.handle_request()  # the thread fails to start: handle_error reports it
            assert not failures
            assert recv_until_eof(client) == b""
        with connect(server) as client:
            client.sendall(b"ok\n")
            server.handle_request()
            assert recv_until_eof(client) == b"OK"
        call_with_timeout(server.server_close)
    assert "can't start new thread" in caplog.text


def test_server_close_while_serving_stops_serve_forever() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler)
    thread = start_serving(server, poll_interval=3600)
    server.server_close()
    thread.join(TIMEOUT)
    assert not thread.is_alive()


class _Index:
    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_TCPServer_accepts_any_integer_type_for_the_port() -> None:
    with netserve.TCPServer(("127.0.0.1", _Index(0)), EchoUpperHandler) as server:
        assert server.server_address[1] > 0


@pytest.mark.parametrize("port", [-1, 65536, _Index(70000)])
def test_port_out_of_range_is_an_OverflowError_as_in_the_socket_module(port: Any) -> None:
    with pytest.raises(OverflowError, match="out of range 0-65535"):
        netserve.TCPServer(("127.0.0.1", port), EchoUpperHandler)


def test_IPv4_address_with_extra_items_is_a_TypeError_naming_it() -> None:
    with pytest.raises(netserve.AddressTypeError, match=r"\(host, port\) pair.*0, 0\)"):
        netserve.TCPServer(("127.0.0.1", 0, 0), EchoUpperHandler)


def test_UnixStreamServer_accepts_a_memoryview_path(unix_path: str) -> None:
    address = memoryview(os.fsencode(unix_path))
    with netserve.UnixStreamServer(address, EchoUpperHandler) as server:
        assert os.fsencode(server.server_address) == os.fsencode(unix_path)
    assert not os.path.exists(unix_path)


def test_UnixStreamServer_removes_a_relative_socket_file_after_chdir(
    unix_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(unix_dir)
    server = netserve.UnixStreamServer("relative.sock", EchoUpperHandler)
    monkeypatch.chdir(os.path.dirname(unix_dir))
    server.server_close()
    assert not os.path.exists(os.path.join(unix_dir, "relative.sock"))


def test_bad_unix_address_type_names_it() -> None:
    with pytest.raises(netserve.AddressTypeError, match="not int: 5"):
        netserve.UnixStreamServer(5, EchoUpperHandler)


def test_server_socket_family_follows_an_IPv6_literal_only() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.socket.family == socket.AF_INET


# A second Ctrl-C must reach a main thread that waits in server_close() for a handler,
# even when the kernel hands the signal to the handler's thread (it may pick any thread
# that does not block it): pthread_kill() sends it there on purpose.
_SIGNAL_TO_ANOTHER_THREAD = r"""
import signal, socket, sys, threading, time
import netserve

kind = sys.argv[1]
started, release = threading.Event(), threading.Event()

class Waits(netserve.BaseRequestHandler):
    def handle(self):
        started.set()
        release.wait(60)

server_class = {"threading": netserve.ThreadingTCPServer, "pool": netserve.ThreadPoolTCPServer}
server = server_class[kind](("127.0.0.1", 0), Waits)
loop = threading.Thread(target=server.serve_forever)
loop.start()
client = socket.create_connection(server.server_address)
assert started.wait(30)
server.shutdown()
loop.join()
(handler,) = [t for t in threading.enumerate() if t not in (threading.main_thread(), loop)]
main = threading.main_thread().ident

def interrupt_when_main_waits():
    # Wait until the main thread is inside a join, then signal the handler's thread.
    idle = threading.Event()
    while not any(
        "join" in frame.f_code.co_name
        for frame in _frames(sys._current_frames().get(main))
    ):
        idle.wait(0.01)
    signal.pthread_kill(handler.ident, signal.SIGINT)

def _frames(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back

threading.Thread(target=interrupt_when_main_waits, daemon=True).start()
began = time.monotonic()
try:
    server.server_close()
    print("server_close returned without the interrupt")
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - began:.1f} s")
finally:
    release.set()
    client.close()
"""


@pytest.mark.parametrize("kind", ["threading", "pool"])
def test_a_signal_delivered_to_a_handler_thread_still_interrupts_server_close(kind: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _SIGNAL_TO_ANOTHER_THREAD, kind],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (line,) = completed.stdout.splitlines()
    assert line.startswith("interrupted after "), completed.stdout
    # An untimed join waits the handler's 60 s out; the main thread wakes within a slice.
    assert float(line.split()[2]) < 30, line

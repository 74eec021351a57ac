"""ThreadingMixIn and the four Threading* servers: threads per request, closing, forgetting."""

from __future__ import annotations

import gc
import queue
import threading
import weakref
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    assert_server_close_does_not_wait,
    assert_server_close_waits_for_the_handler,
    assert_serves_two_requests_at_once,
    connect,
    held_server,
    recv_until_eof,
    serving,
)

THREADING_CLASSES = [
    "ThreadingTCPServer",
    "ThreadingUDPServer",
    "ThreadingUnixStreamServer",
    "ThreadingUnixDatagramServer",
]


@pytest.mark.parametrize("class_name", THREADING_CLASSES)
def test_Threading_server_handles_requests_concurrently(class_name: str, unix_dir: str) -> None:
    assert_serves_two_requests_at_once(class_name, unix_dir)


def test_ThreadingMixIn_class_attributes() -> None:
    assert netserve.ThreadingMixIn.daemon_threads is False
    assert netserve.ThreadingMixIn.block_on_close is True


@pytest.mark.parametrize("daemon", [False, True])
def test_ThreadingMixIn_daemon_threads(daemon: bool) -> None:
    seen: queue.Queue[bool] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            seen.put(threading.current_thread().daemon)

    class Server(netserve.ThreadingTCPServer):
        daemon_threads = daemon

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server), connect(server) as client:
        recv_until_eof(client)
        assert seen.get(timeout=TIMEOUT) is daemon


def test_ThreadingMixIn_block_on_close_waits_for_handler_threads() -> None:
    assert_server_close_waits_for_the_handler(held_server(netserve.ThreadingTCPServer))


def test_ThreadingMixIn_block_on_close_false_does_not_wait() -> None:
    server = held_server(netserve.ThreadingTCPServer, block_on_close=False)
    assert_server_close_does_not_wait(server)


def test_ThreadingMixIn_server_close_does_not_wait_for_daemon_threads() -> None:
    server = held_server(netserve.ThreadingTCPServer, daemon_threads=True)
    assert_server_close_does_not_wait(server)


@pytest.mark.parametrize("block_on_close", [True, False])
def test_ThreadingMixIn_forgets_finished_threads(block_on_close: bool) -> None:
    refs: queue.Queue[weakref.ref[threading.Thread]] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            refs.put(weakref.ref(threading.current_thread()))
            self.request.sendall(b"ok")

    class Server(netserve.ThreadingTCPServer):
        pass

    Server.block_on_close = block_on_close
    server = Server(("127.0.0.1", 0), Handler)
    all_refs = []
    with serving(server):
        for _ in range(30):
            with connect(server) as client:
                assert recv_until_eof(client) == b"ok"
            ref = refs.get(timeout=TIMEOUT)
            all_refs.append(ref)
            handler_thread = ref()
            if handler_thread is not None:
                handler_thread.join(TIMEOUT)
                assert not handler_thread.is_alive()
            del handler_thread
        gc.collect()
        remembered = sum(ref() is not None for ref in all_refs)
        assert remembered <= 1, f"{remembered} finished handler threads are still referenced"


def test_ThreadingMixIn_handler_error_goes_to_handle_error() -> None:
    errors: queue.Queue[tuple[Any, Any, Any]] = queue.Queue()

    class Failing(netserve.BaseRequestHandler):
        def handle(self) -> None:
            if self.request.recv(16) == b"fail":
                raise ValueError("boom")
            self.request.sendall(b"ok")

    class Server(netserve.ThreadingTCPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            import sys

            errors.put((sys.exc_info()[0], client_address, threading.current_thread()))

    server = Server(("127.0.0.1", 0), Failing)
    with serving(server) as serve_thread:
        with connect(server) as client:
            client.sendall(b"fail")
            assert recv_until_eof(client) == b""
            exc_type, client_address, thread = errors.get(timeout=TIMEOUT)
            assert exc_type is ValueError
            assert client_address == client.getsockname()
            assert thread is not serve_thread
        with connect(server) as client:
            client.sendall(b"fine")
            assert recv_until_eof(client) == b"ok"


def test_ThreadingMixIn_handler_may_call_shutdown() -> None:
    returned = threading.Event()

    class Stopper(netserve.BaseRequestHandler):
        def handle(self) -> None:
            self.server.shutdown()
            returned.set()

    server = netserve.ThreadingTCPServer(("127.0.0.1", 0), Stopper)
    with serving(server) as serve_thread, connect(server):
        assert returned.wait(TIMEOUT)
        serve_thread.join(TIMEOUT)
        assert not serve_thread.is_alive()

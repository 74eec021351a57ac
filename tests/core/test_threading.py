"""ThreadingMixIn and the four Threading* servers: threads per request, closing, forgetting."""

from __future__ import annotations

import gc
import queue
import socket
import threading
import weakref
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    assert_server_close_does_not_wait,
    assert_server_close_waits_for_the_handler,
    connect,
    datagram_client,
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


class Rendezvous(netserve.BaseRequestHandler):
    """Replies only once two handlers are running at once (``server.barrier`` of 2)."""

    def handle(self) -> None:
        server: Any = self.server
        server.threads.put(threading.current_thread())
        server.barrier.wait(TIMEOUT)
        if isinstance(self.request, tuple):
            data, sock = self.request
            sock.sendto(data.upper(), self.client_address)
        else:
            self.request.sendall(self.request.recv(1024).upper())


def address_for(class_name: str, unix_dir: str) -> Any:
    return f"{unix_dir}/server.sock" if "Unix" in class_name else ("127.0.0.1", 0)


@pytest.mark.parametrize("class_name", THREADING_CLASSES)
def test_Threading_server_handles_requests_concurrently(class_name: str, unix_dir: str) -> None:
    server: Any = getattr(netserve, class_name)(address_for(class_name, unix_dir), Rendezvous)
    server.barrier = threading.Barrier(2)
    server.threads = queue.Queue()
    with serving(server) as serve_thread:
        if server.socket_type == socket.SOCK_STREAM:
            with connect(server) as first, connect(server) as second:
                first.sendall(b"one")
                second.sendall(b"two")
                assert first.recv(1024) == b"ONE"
                assert second.recv(1024) == b"TWO"
        else:
            first = datagram_client(server, unix_dir)
            second = datagram_client(server, unix_dir)
            with first, second:
                first.sendto(b"one", server.server_address)
                second.sendto(b"two", server.server_address)
                assert first.recv(1024) == b"ONE"
                assert second.recv(1024) == b"TWO"
        handler_threads = {server.threads.get(timeout=TIMEOUT) for _ in range(2)}
        assert len(handler_threads) == 2
        assert serve_thread not in handler_threads


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

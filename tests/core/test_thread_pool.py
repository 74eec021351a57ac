"""ThreadPoolMixIn and the four ThreadPool* servers: a bounded, reused set of worker threads."""

from __future__ import annotations

import os
import queue
import threading
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
    stream_exchange,
)

POOL_CLASSES = [
    "ThreadPoolTCPServer",
    "ThreadPoolUDPServer",
    "ThreadPoolUnixStreamServer",
    "ThreadPoolUnixDatagramServer",
]


class Gate(netserve.BaseRequestHandler):
    """Counts handlers running at once; each waits for ``server.release``."""

    def handle(self) -> None:
        server: Any = self.server
        with server.lock:
            server.active += 1
            server.peak = max(server.peak, server.active)
        server.started.put(threading.current_thread())
        server.release.wait(TIMEOUT)
        with server.lock:
            server.active -= 1
        self.request.sendall(b"done")


def gate_server(max_workers: int) -> Any:
    server_class: Any = type("Server", (netserve.ThreadPoolTCPServer,), {})
    server_class.max_workers = max_workers
    server = server_class(("127.0.0.1", 0), Gate)
    server.lock = threading.Lock()
    server.active = 0
    server.peak = 0
    server.started = queue.Queue()
    server.release = threading.Event()
    return server


def test_ThreadPoolMixIn_class_attributes() -> None:
    assert netserve.ThreadPoolMixIn.max_workers == min(32, (os.cpu_count() or 1) + 4)
    assert netserve.ThreadPoolMixIn.daemon_threads is False
    assert netserve.ThreadPoolMixIn.block_on_close is True
    assert netserve.ThreadPoolTCPServer.max_workers == netserve.ThreadPoolMixIn.max_workers


@pytest.mark.parametrize("class_name", POOL_CLASSES)
def test_ThreadPool_server_handles_requests_concurrently(class_name: str, unix_dir: str) -> None:
    assert_serves_two_requests_at_once(class_name, unix_dir)


def test_ThreadPoolMixIn_never_runs_more_than_max_workers_handlers() -> None:
    server = gate_server(max_workers=2)
    clients = []
    with serving(server):
        try:
            for _ in range(6):
                clients.append(connect(server))
            workers = {server.started.get(timeout=TIMEOUT) for _ in range(2)}
            with pytest.raises(queue.Empty):
                server.started.get(timeout=0.3)  # a third handler must not start
            server.release.set()
            for client in clients:
                assert recv_until_eof(client) == b"done"
            for _ in range(4):
                workers.add(server.started.get(timeout=TIMEOUT))
        finally:
            server.release.set()
            for client in clients:
                client.close()
    assert server.peak == 2
    assert len(workers) <= 2, "handlers ran on more threads than max_workers"


def test_ThreadPoolMixIn_reuses_its_worker_thread() -> None:
    threads: queue.Queue[threading.Thread] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            threads.put(threading.current_thread())
            self.request.sendall(b"ok")

    class Server(netserve.ThreadPoolTCPServer):
        max_workers = 1

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server):
        for _ in range(5):
            assert stream_exchange(server, b"") == b"ok"
    seen = {threads.get(timeout=TIMEOUT) for _ in range(5)}
    assert len(seen) == 1


def test_ThreadPoolMixIn_handler_error_goes_to_handle_error_and_the_worker_survives() -> None:
    errors: queue.Queue[Any] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            if self.request.recv(16) == b"fail":
                raise ValueError("boom")
            self.request.sendall(b"ok")

    class Server(netserve.ThreadPoolTCPServer):
        max_workers = 1

        def handle_error(self, request: Any, client_address: Any) -> None:
            import sys

            errors.put(sys.exc_info()[0])

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server):
        assert stream_exchange(server, b"fail") == b""
        assert errors.get(timeout=TIMEOUT) is ValueError
        assert stream_exchange(server, b"fine") == b"ok"


@pytest.mark.parametrize("daemon", [False, True])
def test_ThreadPoolMixIn_daemon_threads(daemon: bool) -> None:
    seen: queue.Queue[bool] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            seen.put(threading.current_thread().daemon)

    class Server(netserve.ThreadPoolTCPServer):
        daemon_threads = daemon

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server):
        stream_exchange(server, b"")
        assert seen.get(timeout=TIMEOUT) is daemon


def test_ThreadPoolMixIn_block_on_close_waits_for_running_handlers() -> None:
    assert_server_close_waits_for_the_handler(held_server(netserve.ThreadPoolTCPServer))


def test_ThreadPoolMixIn_block_on_close_false_does_not_wait() -> None:
    server = held_server(netserve.ThreadPoolTCPServer, block_on_close=False)
    assert_server_close_does_not_wait(server)


def test_ThreadPoolMixIn_server_close_stops_its_workers() -> None:
    threads: queue.Queue[threading.Thread] = queue.Queue()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            threads.put(threading.current_thread())

    class Server(netserve.ThreadPoolTCPServer):
        max_workers = 3

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server):
        for _ in range(6):
            stream_exchange(server, b"")
    workers = {threads.get(timeout=TIMEOUT) for _ in range(6)}
    for worker in workers:
        worker.join(TIMEOUT)
        assert not worker.is_alive(), f"{worker!r} outlived server_close()"


def test_ThreadPoolMixIn_queued_requests_are_served_in_order() -> None:
    order: queue.Queue[bytes] = queue.Queue()
    release = threading.Event()

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            release.wait(TIMEOUT)
            order.put(self.request.recv(16))

    class Server(netserve.ThreadPoolTCPServer):
        max_workers = 1

    server = Server(("127.0.0.1", 0), Handler)
    with serving(server):
        clients = []
        try:
            for n in range(4):
                client = connect(server)
                clients.append(client)
                client.sendall(str(n).encode())
            release.set()
            for client in clients:
                assert recv_until_eof(client) == b""
        finally:
            for client in clients:
                client.close()
    # One worker, accepted in connection order: no request overtakes another.
    assert [order.get(timeout=TIMEOUT) for _ in range(4)] == [b"0", b"1", b"2", b"3"]

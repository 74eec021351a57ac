"""Sound under overload and abuse: max_children, accept exhaustion, pool backpressure,
a socket that cannot accept.

Where the standard library has the same defect, the test says so; these are places where
netserve deliberately does better, not differences in the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    call_with_timeout,
    child_env,
    connect,
    open_fds,
    serving,
    start_serving,
    stream_exchange,
)
from .conftest import FORK_IN_THREAD_WARNING


class Quick(netserve.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())


# -- max_children ----------------------------------------------------------------------

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


@needs_fork
@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_ForkingMixIn_max_children_below_1_is_a_ValueError_at_construction(value: Any) -> None:
    # The stdlib accepts these, and a forking server then hangs on its first request.
    server_class = type("Server", (netserve.ForkingTCPServer,), {"max_children": value})
    fds = open_fds()
    with pytest.raises(ValueError, match=rf"max_children must be a positive int, not {value!r}"):
        server_class(("127.0.0.1", 0), Quick)
    assert open_fds() == fds  # no socket was made


@needs_fork
def test_ForkingMixIn_max_children_set_later_is_a_ValueError_when_serving_starts() -> None:
    with netserve.ForkingTCPServer(("127.0.0.1", 0), Quick) as server:
        server.max_children = 0
        with pytest.raises(ValueError, match="max_children must be a positive int, not 0"):
            server.serve_forever()
        server.max_children = 1
        with serving(server):
            assert stream_exchange(server, b"ok\n") == b"OK\n"


class HoldInChild(netserve.BaseRequestHandler):
    """Says ready, then holds the child until the client closes."""

    def handle(self) -> None:
        self.request.sendall(b"ready")
        self.request.recv(1)


@needs_fork
@pytest.mark.filterwarnings(FORK_IN_THREAD_WARNING)
def test_ForkingMixIn_shutdown_is_instant_at_max_children() -> None:
    # The stdlib's shutdown() waits here as long as the busy child runs (forever if hung).
    forked = threading.Event()

    class Server(netserve.ForkingTCPServer):
        max_children = 1

        def process_request(self, request: Any, client_address: Any) -> None:
            super().process_request(request, client_address)
            forked.set()  # in the parent (the child never returns): the pid is recorded

    with Server(("127.0.0.1", 0), HoldInChild) as server:
        thread = start_serving(server, poll_interval=3600)
        client = connect(server)
        try:
            assert client.recv(5) == b"ready"  # the child runs: the server is at the bound
            # The child can say ready before the parent has recorded its pid.
            assert forked.wait(TIMEOUT)
            (pid,) = server.active_children or set()
            call_with_timeout(server.shutdown)  # returns while the child still runs
            thread.join(TIMEOUT)
            assert not thread.is_alive()
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the child should still be running"
        finally:
            # shutdown(), not only close(): the forked child holds a copy of this socket.
            client.shutdown(socket.SHUT_RDWR)
            client.close()
        call_with_timeout(server.server_close)  # block_on_close: waits for the child
    assert not server.active_children


# -- accept() failing for want of file descriptors ---------------------------------------

EXHAUSTION_CHILD = textwrap.dedent(
    """
    import json, logging, os, resource, socket, sys, threading, time
    import netserve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    attempts = 0
    failed = threading.Condition()
    handled = threading.Event()

    class Server(netserve.TCPServer):
        def get_request(self):
            global attempts
            with failed:
                attempts += 1
                failed.notify_all()
            return super().get_request()

    class Handler(netserve.BaseRequestHandler):
        def handle(self):
            self.request.sendall(b"served")
            handled.set()

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    with socket.create_connection(server.server_address) as warm_up:
        warm_up.recv(16)  # served: the loop runs, with its wake-up pipe open
    handled.wait()
    handled.clear()
    attempts = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
    hog = []
    try:
        while True:
            hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    started_cpu, started = time.process_time(), time.monotonic()
    print(server.server_address[1], flush=True)  # no descriptor left: now the client connects
    with failed:
        # Wait for six failed accepts: 10+20+40+80+160 ms of back-off between them.
        if not failed.wait_for(lambda: attempts >= 6, timeout=30):
            print("timed out waiting for failed accepts", file=sys.stderr)
            os._exit(3)
        tried = attempts
    cpu, elapsed = time.process_time() - started_cpu, time.monotonic() - started
    for fd in hog:
        os.close(fd)
    recovered = handled.wait(30)
    server.shutdown()
    thread.join()
    server.server_close()
    print(json.dumps({"attempts": tried, "cpu": cpu, "elapsed": elapsed,
                      "recovered": recovered}), flush=True)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_NOFILE and /dev/null")
def test_accept_out_of_file_descriptors_backs_off_warns_once_and_recovers() -> None:
    # The stdlib spins here at 100% CPU (about 120,000 failed accepts a second), silently.
    child = subprocess.Popen(
        [sys.executable, "-c", EXHAUSTION_CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            assert client.recv(16) == b"served"  # accepted once descriptors were free again
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["recovered"]
    # Six attempts spread over about 0.3 s of back-off, and almost no CPU in between:
    # a spinning loop would make thousands of attempts and burn the whole interval.
    assert result["attempts"] < 20, result
    assert result["cpu"] < 0.25 * max(result["elapsed"], 0.3), result
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, err  # one line per episode
    assert "EMFILE" in warnings[0]
    assert "INFO accepting requests again" in err


# -- the thread pool under a flood -------------------------------------------------------


class Gated(netserve.BaseRequestHandler):
    """Records that it started, then holds the request until ``server.gate`` is set."""

    def handle(self) -> None:
        server: Any = self.server
        with server.cond:
            server.started.append(self.client_address)
            server.cond.notify_all()
        server.gate.wait(TIMEOUT)


class CountingPool(netserve.ThreadPoolTCPServer):
    max_workers = 2
    max_queued = 8
    request_queue_size = 512  # so every client's connect() completes in the backlog

    def __init__(self, *args: Any) -> None:
        self.cond = threading.Condition()
        self.accepted = 0
        self.started: list[Any] = []
        self.gate = threading.Event()
        super().__init__(*args)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.cond:
            self.accepted += 1
            self.cond.notify_all()
        super().process_request(request, client_address)


def test_ThreadPoolMixIn_flood_holds_a_bounded_number_of_connections() -> None:
    # With an unbounded queue, 1,000 connections against 2 workers left 849 accepted
    # sockets queued and server_close() worked through all of them.
    clients_count = 200
    bound = CountingPool.max_workers + CountingPool.max_queued
    before = open_fds()
    server = CountingPool(("127.0.0.1", 0), Gated)
    thread = start_serving(server)
    clients = []
    try:
        for _ in range(clients_count):
            clients.append(socket.create_connection(server.server_address, timeout=TIMEOUT))
        with server.cond:
            assert server.cond.wait_for(
                lambda: server.accepted >= bound and len(server.started) == 2, TIMEOUT
            )
        held = len(open_fds() - before) - clients_count
        # The listening socket, the loop's wake-up pipe, and at most `bound` connections.
        assert held <= 1 + 2 + bound, held
        call_with_timeout(server.shutdown)
        thread.join(TIMEOUT)
        assert server.accepted == bound  # the loop stopped accepting at the bound
        closing = threading.Thread(target=server.server_close)
        closing.start()
        running = set(server.started)
        for client in clients:
            if client.getsockname() in running:
                continue
            # Queued requests are closed at once, and the backlog goes with the socket;
            # the two running requests are still held by the gate meanwhile.
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(16) == b""
        assert not server.gate.is_set()
        server.gate.set()
        closing.join(TIMEOUT)
        assert not closing.is_alive()
        assert len(server.started) == 2  # queued requests never reached the handler
    finally:
        server.gate.set()
        for client in clients:
            client.close()
        server.server_close()
    assert open_fds() <= before


@pytest.mark.parametrize("value", [0, -3, 1.5, None])
def test_ThreadPoolMixIn_max_queued_must_be_a_positive_int(value: Any) -> None:
    server_class = type("Server", (netserve.ThreadPoolTCPServer,), {"max_queued": value})
    with pytest.raises(ValueError, match=rf"max_queued must be a positive int, not {value!r}"):
        server_class(("127.0.0.1", 0), Quick)


def test_ThreadPoolMixIn_max_queued_default_is_documented() -> None:
    assert netserve.ThreadPoolMixIn.max_queued == 32
    assert "default 32" in (netserve.ThreadPoolMixIn.__doc__ or "")


# -- a socket that cannot accept -----------------------------------------------------------


def test_serve_forever_on_a_server_never_activated_raises() -> None:
    # The stdlib spins at 70-100% CPU here until shutdown().
    with netserve.TCPServer(("127.0.0.1", 0), Quick, bind_and_activate=False) as server:
        with pytest.raises(OSError, match="not listening"):
            call_with_timeout(server.serve_forever)
        server.server_bind()
        server.server_activate()
        with serving(server):
            assert stream_exchange(server, b"now\n") == b"NOW\n"


def test_serve_forever_on_a_closed_server_raises() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), Quick)
    server.server_close()
    with pytest.raises(OSError, match="closed"):
        call_with_timeout(server.serve_forever)


def test_serve_forever_stops_with_an_error_when_a_handler_closes_the_listening_socket() -> None:
    # The stdlib spins until shutdown() here.
    class CloseListener(netserve.BaseRequestHandler):
        def handle(self) -> None:
            self.server.socket.close()

    with netserve.TCPServer(("127.0.0.1", 0), CloseListener) as server:
        connect(server).close()
        with pytest.raises(OSError, match="cannot accept"):
            call_with_timeout(lambda: server.serve_forever(poll_interval=3600))


def test_server_close_from_another_thread_still_stops_the_loop_cleanly() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), Quick) as server:
        thread = start_serving(server, poll_interval=3600)
        assert stream_exchange(server, b"a\n") == b"A\n"
        server.server_close()
        thread.join(TIMEOUT)
        assert not thread.is_alive()

"""ForkingMixIn and the four Forking* servers: a child per request, reaping, no zombies.

Most tests fork from ``handle_request()`` in the test's own thread, so the fork happens
with no extra thread of the suite running; the clients connect (or send) before the fork.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    connect,
    datagram_client,
    recv_until_eof,
    serving,
    stream_exchange,
)
from .conftest import FORK_IN_THREAD_WARNING

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()"),
    pytest.mark.filterwarnings(FORK_IN_THREAD_WARNING),
]

FORKING_CLASSES = [
    "ForkingTCPServer",
    "ForkingUDPServer",
    "ForkingUnixStreamServer",
    "ForkingUnixDatagramServer",
]


class PidHandler(netserve.BaseRequestHandler):
    """Waits for the client's message, then answers with the pid of the process handling it."""

    def handle(self) -> None:
        if isinstance(self.request, tuple):
            data, sock = self.request
            if data == b"fail":
                raise ValueError("boom")
            sock.sendto(str(os.getpid()).encode(), self.client_address)
        else:
            if self.request.recv(1024).strip() == b"fail":
                raise ValueError("boom")
            self.request.sendall(str(os.getpid()).encode())


class ReportingServerMixIn:
    """handle_error answers the client from the child, proving it ran there."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        reply = f"handle_error in {os.getpid()}".encode()
        if isinstance(request, tuple):
            request[1].sendto(reply, client_address)
        else:
            request.sendall(reply)


def make_server(class_name: str, unix_dir: str, **attributes: Any) -> Any:
    base = getattr(netserve, class_name)
    server_class = type("Server", (ReportingServerMixIn, base), attributes)
    address = f"{unix_dir}/server.sock" if "Unix" in class_name else ("127.0.0.1", 0)
    return server_class(address, PidHandler)


class Client:
    """A stream or datagram client that is connected before the server forks."""

    def __init__(self, server: Any, unix_dir: str) -> None:
        self.server = server
        self.stream = server.socket_type == socket.SOCK_STREAM
        self.sock = connect(server) if self.stream else datagram_client(server, unix_dir)

    def send(self, message: bytes) -> None:
        if self.stream:
            self.sock.sendall(message + b"\n")
        else:
            self.sock.sendto(message, self.server.server_address)

    def reply(self) -> bytes:
        return recv_until_eof(self.sock) if self.stream else self.sock.recv(1024)

    def close(self) -> None:
        self.sock.close()


def wait_exited(pid: int) -> int:
    """Block until child ``pid`` has exited, leaving it unreaped; return its exit status."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert info is not None
    return info.si_status


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_ForkingMixIn_class_attributes() -> None:
    assert netserve.ForkingMixIn.timeout == 300
    assert netserve.ForkingMixIn.max_children == 40
    assert netserve.ForkingMixIn.active_children is None
    assert netserve.ForkingMixIn.block_on_close is True
    assert netserve.ForkingTCPServer.timeout == 300


@pytest.mark.parametrize("class_name", FORKING_CLASSES)
def test_Forking_server_handles_the_request_in_a_child(class_name: str, unix_dir: str) -> None:
    server = make_server(class_name, unix_dir)
    client = Client(server, unix_dir)
    try:
        client.send(b"go")
        server.handle_request()
        pid = int(client.reply())
        assert pid != os.getpid()
        assert server.active_children == {pid}
        assert wait_exited(pid) == 0
        if "Unix" in class_name:
            assert os.path.exists(server.server_address), "the child removed the socket file"
    finally:
        client.close()
        server.server_close()
    assert_reaped(pid)
    assert not server.active_children


@pytest.mark.parametrize("class_name", ["ForkingTCPServer", "ForkingUDPServer"])
def test_ForkingMixIn_handler_error_is_handled_in_the_child(class_name: str, unix_dir: str) -> None:
    server = make_server(class_name, unix_dir)
    client = Client(server, unix_dir)
    try:
        client.send(b"fail")
        server.handle_request()
        (pid,) = server.active_children
        assert client.reply() == f"handle_error in {pid}".encode()
        assert wait_exited(pid) == 1
    finally:
        client.close()
        server.server_close()
    assert_reaped(pid)


@pytest.mark.parametrize("reaper", ["collect_children", "service_actions", "handle_timeout"])
def test_ForkingMixIn_reaps_exited_children(reaper: str, unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir)
    try:
        with connect(server) as client:
            client.sendall(b"go\n")
            server.handle_request()
            pid = int(recv_until_eof(client))
        wait_exited(pid)
        assert server.active_children == {pid}
        if reaper == "handle_timeout":
            server.timeout = 0.01
            server.handle_request()
        else:
            getattr(server, reaper)()
        assert pid not in server.active_children
        assert_reaped(pid)
    finally:
        server.server_close()


def test_ForkingMixIn_collect_children_blocking_waits_for_running_children(unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir)
    try:
        with connect(server) as client:
            server.handle_request()
            (pid,) = server.active_children
            client.sendall(b"go\n")
            server.collect_children(blocking=True)
            assert not server.active_children
            assert_reaped(pid)
            assert int(recv_until_eof(client)) == pid
    finally:
        server.server_close()


def test_ForkingMixIn_max_children_makes_collect_children_wait(unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir, max_children=1)
    try:
        with connect(server) as client:
            server.handle_request()
            (pid,) = server.active_children
            client.sendall(b"go\n")
            server.collect_children()  # at max_children: waits until below the bound
            assert not server.active_children
            assert_reaped(pid)
            assert int(recv_until_eof(client)) == pid
    finally:
        server.server_close()


def test_ForkingMixIn_block_on_close_waits_for_children(unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir)
    with connect(server) as client:
        server.handle_request()
        (pid,) = server.active_children
        closed = threading.Event()

        def close() -> None:
            server.server_close()
            closed.set()

        threading.Thread(target=close, daemon=True).start()
        assert not closed.wait(0.2), "server_close() returned while a child was running"
        client.sendall(b"go\n")
        assert closed.wait(TIMEOUT)
        assert int(recv_until_eof(client)) == pid
    assert_reaped(pid)
    assert not server.active_children


def test_ForkingMixIn_block_on_close_false_does_not_wait(unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir, block_on_close=False)
    with connect(server) as client:
        server.handle_request()
        (pid,) = server.active_children
        try:
            server.server_close()
            assert server.active_children == {pid}
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the child should still be running"
        finally:
            client.sendall(b"go\n")
            assert int(recv_until_eof(client)) == pid
            os.waitpid(pid, 0)


def test_ForkingMixIn_serve_forever_leaves_no_zombies(unix_dir: str) -> None:
    server = make_server("ForkingTCPServer", unix_dir)
    with serving(server):
        pids = [int(stream_exchange(server, b"go\n")) for _ in range(5)]
    assert len(set(pids)) == 5
    assert os.getpid() not in pids
    for pid in pids:
        assert_reaped(pid)
    assert not server.active_children

"""TCPServer: construction, socket options, binding, activation and failed binds."""

from __future__ import annotations

import errno
import socket
import struct
import sys
from typing import Any

import pytest

import netserve

from ._support import EchoUpperHandler, connect, open_fds, recv_until_eof, serving

IS_LINUX = sys.platform.startswith("linux")


def listen_backlog(sock: socket.socket) -> int:
    """Return the backlog a listening TCP socket was given (Linux ``TCP_INFO``: ``tcpi_sacked``)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("8B6I", info)[13])


def test_TCPServer_class_attributes() -> None:
    assert netserve.TCPServer.address_family == socket.AF_INET
    assert netserve.TCPServer.socket_type == socket.SOCK_STREAM
    assert netserve.TCPServer.request_queue_size == 5
    assert netserve.TCPServer.allow_reuse_address is False
    assert netserve.TCPServer.allow_reuse_port is False


def test_TCPServer_serves_the_seeds_example() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler)
    with serving(server), connect(server) as client:
        client.sendall(b"hello world with TCP\n")
        assert recv_until_eof(client) == b"HELLO WORLD WITH TCP"


def test_TCPServer_socket_is_a_listening_stream_socket() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.socket.family == socket.AF_INET
        assert server.socket.type == socket.SOCK_STREAM
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_TCPServer_port_zero_gives_the_real_port() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        port = server.server_address[1]
        assert port > 0
        assert server.socket.getsockname() == ("127.0.0.1", port)


def test_TCPServer_bind_and_activate_false_then_manual_bind_and_activate() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler, bind_and_activate=False) as server:
        assert server.socket.getsockname()[1] == 0
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.server_bind()
        assert server.server_address[1] != 0
        assert server.server_address == server.socket.getsockname()
        server.server_activate()
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with connect(server) as client:
            client.sendall(b"manual\n")
            server.handle_request()
            assert recv_until_eof(client) == b"MANUAL"


@pytest.mark.skipif(not IS_LINUX, reason="reads the backlog through Linux TCP_INFO")
def test_TCPServer_request_queue_size_is_the_listen_backlog() -> None:
    class Server(netserve.TCPServer):
        request_queue_size = 3

    with Server(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert listen_backlog(server.socket) == 3
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as default:
        assert listen_backlog(default.socket) == 5


def test_TCPServer_allow_reuse_address_sets_SO_REUSEADDR() -> None:
    class Server(netserve.TCPServer):
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as default:
        assert default.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
@pytest.mark.parametrize("base", ["TCPServer", "UDPServer"])
def test_TCPServer_allow_reuse_port_sets_SO_REUSEPORT(base: str) -> None:
    server_class: Any = type("Server", (getattr(netserve, base),), {"allow_reuse_port": True})

    with server_class(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) != 0
        # A second server may share the port.
        with server_class(server.server_address, EchoUpperHandler) as twin:
            assert twin.server_address == server.server_address
    with getattr(netserve, base)(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


def test_TCPServer_failed_bind_raises_address_in_use() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as taken:
        with pytest.raises(OSError, match="already in use") as excinfo:
            netserve.TCPServer(taken.server_address, EchoUpperHandler)
        assert excinfo.value.errno == errno.EADDRINUSE


@pytest.mark.skipif(not IS_LINUX, reason="counts descriptors in /proc/self/fd")
def test_TCPServer_failed_bind_closes_the_socket_every_time() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as taken:
        before = open_fds()
        for _ in range(1000):
            with pytest.raises(OSError, match="already in use"):
                netserve.TCPServer(taken.server_address, EchoUpperHandler)
        assert open_fds() - before == set()


def test_TCPServer_failed_activate_closes_the_server() -> None:
    closed: list[bool] = []

    class Server(netserve.TCPServer):
        def server_activate(self) -> None:
            raise OSError(errno.EINVAL, "cannot listen")

        def server_close(self) -> None:
            closed.append(True)
            super().server_close()

    with pytest.raises(OSError, match="cannot listen"):
        Server(("127.0.0.1", 0), EchoUpperHandler)
    assert closed == [True]


def test_TCPServer_shutdown_request_half_closes_then_closes() -> None:
    class Quiet(netserve.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"bye")

    with netserve.TCPServer(("127.0.0.1", 0), Quiet) as server, connect(server) as client:
        request, address = server.get_request()
        server.process_request(request, address)
        assert request.fileno() == -1
        assert recv_until_eof(client) == b"bye"


def test_TCPServer_server_close_closes_the_socket() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler)
    address = server.server_address
    server.server_close()
    assert server.socket.fileno() == -1
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(address)

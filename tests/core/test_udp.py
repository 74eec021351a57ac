"""UDPServer: datagram requests, the (data, socket) request pair, max_packet_size."""

from __future__ import annotations

import queue
import socket
from typing import Any

import netserve

from ._support import TIMEOUT, DatagramEchoUpperHandler, datagram_client, serving


class Capture(netserve.BaseRequestHandler):
    """Puts ``(request, client_address)`` on ``server.seen`` and replies via ``sendto``."""

    def handle(self) -> None:
        data, sock = self.request
        server: Any = self.server
        server.seen.put((data, sock, self.client_address))
        sock.sendto(data.upper(), self.client_address)


def make_capture_server(server_class: Any = netserve.UDPServer) -> Any:
    server = server_class(("127.0.0.1", 0), Capture)
    server.seen = queue.Queue()
    return server


def test_UDPServer_class_attributes() -> None:
    assert netserve.UDPServer.address_family == socket.AF_INET
    assert netserve.UDPServer.socket_type == socket.SOCK_DGRAM
    assert netserve.UDPServer.max_packet_size == 8192
    assert netserve.UDPServer.allow_reuse_address is False


def test_UDPServer_socket_is_a_bound_datagram_socket() -> None:
    with netserve.UDPServer(("127.0.0.1", 0), Capture) as server:
        assert server.socket.type == socket.SOCK_DGRAM
        assert server.server_address[1] != 0
        assert server.server_address == server.socket.getsockname()


def test_UDPServer_request_is_data_and_the_server_socket() -> None:
    with make_capture_server() as server, datagram_client(server) as client:
        client.sendto(b"hello udp", server.server_address)
        server.handle_request()
        data, sock, client_address = server.seen.get(timeout=TIMEOUT)
        assert data == b"hello udp"
        assert sock is server.socket
        assert client_address == client.getsockname()
        assert client.recvfrom(65536) == (b"HELLO UDP", server.server_address)


def test_UDPServer_truncates_datagrams_to_max_packet_size() -> None:
    with make_capture_server() as server, datagram_client(server) as client:
        client.sendto(b"x" * 10000, server.server_address)
        server.handle_request()
        data, _, _ = server.seen.get(timeout=TIMEOUT)
        assert data == b"x" * 8192


def test_UDPServer_max_packet_size_can_be_overridden() -> None:
    class Small(netserve.UDPServer):
        max_packet_size = 100

    with make_capture_server(Small) as server, datagram_client(server) as client:
        client.sendto(bytes(range(200)), server.server_address)
        server.handle_request()
        data, _, _ = server.seen.get(timeout=TIMEOUT)
        assert data == bytes(range(100))


def test_UDPServer_shutdown_request_does_not_close_the_server_socket() -> None:
    with make_capture_server() as server, datagram_client(server) as client:
        for word in (b"one", b"two"):
            client.sendto(word, server.server_address)
            server.handle_request()
            assert client.recv(65536) == word.upper()
        assert server.socket.fileno() != -1


def test_UDPServer_serve_forever_with_datagram_handler() -> None:
    server = netserve.UDPServer(("127.0.0.1", 0), DatagramEchoUpperHandler)
    with serving(server), datagram_client(server) as client:
        for word in (b"python", b"is nice"):
            client.sendto(word, server.server_address)
            assert client.recv(65536) == word.upper()


def test_UDPServer_server_activate_does_not_listen() -> None:
    with netserve.UDPServer(("127.0.0.1", 0), Capture, bind_and_activate=False) as server:
        server.server_bind()
        server.server_activate()
        assert server.server_address[1] != 0

"""Testing ``udp_server.py``: a datagram handler that replies with ``sendto()``.

Unit tests run the handler on one in-memory datagram with
``run_datagram_handler``; integration tests serve it with the ``netserve`` fixture
on every datagram server kind (UDP and Unix datagram x sync, threading, forking,
pool). Datagrams have no stream to split: what matters is the whole datagram, and
how much of it the server reads (``max_packet_size``, 8192 bytes).
"""

from __future__ import annotations

import socket

import pytest
from faker import Faker
from udp_server import MyUDPHandler

from netserve_testing import Script, ServerFactory, ServerKind, run_datagram_handler

#: (datagram, reply): the handler strips the datagram and upper-cases it.
EXCHANGES = [
    (b"hello world with UDP\n", b"HELLO WORLD WITH UDP"),
    (b"  padded  ", b"PADDED"),
    (b"\n", b""),  # nothing left after strip(): an empty datagram comes back
]
ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() removes


# -- unit tests: the handler on one datagram in memory -------------------------------------------


def test_MyUDPHandler_one_liner() -> None:
    assert run_datagram_handler(MyUDPHandler, b"hello\n").reply == b"HELLO"


@pytest.mark.parametrize(("datagram", "reply"), EXCHANGES)
def test_MyUDPHandler_replies(datagram: bytes, reply: bytes) -> None:
    result = run_datagram_handler(MyUDPHandler, datagram, client_address=("192.0.2.7", 4321))
    # Exactly one datagram, sent back to the address the request came from.
    assert result.replies == [(reply, ("192.0.2.7", 4321))]


def test_MyUDPHandler_on_a_unix_datagram_socket() -> None:
    # A Unix datagram client has a path for an address; the handler replies to it.
    result = run_datagram_handler(
        MyUDPHandler, b"hello", family=socket.AF_UNIX, client_address="/run/app/client.sock"
    )
    assert result.replies == [(b"HELLO", "/run/app/client.sock")]


def test_MyUDPHandler_sees_max_packet_size_bytes_only() -> None:
    # The server reads a datagram with recvfrom(max_packet_size): the rest is lost.
    result = run_datagram_handler(MyUDPHandler, b"x" * 10_000)
    assert result.truncated
    assert result.reply == b"X" * 8192


# -- integration tests: a real server of every datagram kind -------------------------------------

datagram_kinds = pytest.mark.netserve_kinds("datagram")


@datagram_kinds
@pytest.mark.parametrize(("datagram", "reply"), EXCHANGES)
def test_MyUDPHandler_served(
    netserve: ServerFactory, server_kind: ServerKind, datagram: bytes, reply: bytes
) -> None:
    server = netserve.serve(MyUDPHandler, server_kind)
    # A script works with datagrams too: each send is one datagram, each expect
    # checks the whole of the next datagram received.
    Script().send(datagram).expect(reply).run(server)
    (request,) = server.wait_for_requests(1)
    assert request.error is None


@datagram_kinds
def test_MyUDPHandler_served_one_client_many_datagrams(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    client = netserve.serve(MyUDPHandler, server_kind).connect()
    for word in ("one", "two", "three"):
        client.send_line(word).expect_line(word.upper())


@datagram_kinds
def test_MyUDPHandler_served_truncates_long_datagrams(
    netserve: ServerFactory, server_kind: ServerKind, netserve_faker: Faker
) -> None:
    # Random bytes from the seeded faker (no whitespace, which strip() would remove):
    # only the first max_packet_size bytes reach the handler, over UDP and Unix alike.
    payload = netserve_faker.payload_without(ASCII_WHITESPACE, size=10_000)
    server = netserve.serve(MyUDPHandler, server_kind)
    assert server.server.max_packet_size == 8192
    server.connect().send(payload).expect(payload[:8192].upper())

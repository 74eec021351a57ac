"""Testing ``tcp_server.py``: a ``BaseRequestHandler`` that upper-cases one ``recv()``.

Two layers, as you would test your own handler:

* unit tests run the handler class in memory with ``run_handler`` (no socket, no
  thread): you choose exactly how the bytes arrive, and the handler's bugs show;
* integration tests serve it for real with the ``netserve`` fixture, once per
  server kind it can serve (TCP x sync, threading, forking, pool), and show how
  it fails on the kinds it cannot (Unix stream).

Both layers play the same :class:`~netserve_testing.Script`, so a conversation is
written once. Run them with ``pytest examples/test_tcp_server.py``.
"""

from __future__ import annotations

import socket

import pytest
from faker import Faker
from tcp_server import MyTCPHandler

from netserve_testing import HandlerWouldBlock, Script, ServerFactory, ServerKind, run_handler

# The conversations, shared by the unit and the integration tests.
#: A whole line in one send: the reply is the line, stripped and upper-cased.
HELLO = Script().send_line("hello world").expect(b"HELLO WORLD").expect_closed()
#: The first half of a message, then the client waits for the reply.
FIRST_HALF = Script().send(b"hello ").expect(b"HELLO").expect_closed()
#: A client that connects and sends EOF at once: an empty reply, then the server closes.
SILENT = Script().close().expect_closed()


# -- unit tests: the handler in memory -----------------------------------------------------------


def test_MyTCPHandler_one_liner() -> None:
    result = run_handler(MyTCPHandler, b"hello world\n")
    assert result.sent == b"HELLO WORLD"  # strip() removed the line ending
    assert result.handler.data == b"hello world"  # what the handler stored
    assert result.closed_by == "server"  # the handler leaves closing to the server


def test_MyTCPHandler_script() -> None:
    result = HELLO.run(MyTCPHandler)
    assert result.sends == [b"HELLO WORLD"]  # one sendall()


def test_MyTCPHandler_answers_only_the_first_chunk() -> None:
    # TCP is a byte stream: one recv() returns whatever has arrived, which may be
    # part of a message. This handler makes a single recv(), so a message split in
    # two is only partly answered and the rest is never read. That is a real bug
    # of the documentation's example; tcp_stream_server.py (readline) has not got it.
    result = run_handler(MyTCPHandler, [b"hello ", b"world\n"])
    assert result.sent == b"HELLO"
    assert result.unread == b"world\n"


@pytest.mark.parametrize(
    ("chunking", "answered"),
    [(None, b"HELLO WORLD"), (4, b"HELL"), ("bytewise", b"H")],
)
def test_MyTCPHandler_reply_depends_on_how_the_bytes_arrive(
    chunking: int | str | None, answered: bytes
) -> None:
    # The same bytes, cut into reads of different sizes: a correct handler answers
    # all of them alike; this one answers the first read only.
    assert run_handler(MyTCPHandler, b"hello world\n", chunking=chunking).sent == answered


def test_MyTCPHandler_first_half_script() -> None:
    assert FIRST_HALF.run(MyTCPHandler).sent == b"HELLO"


def test_MyTCPHandler_eof_gets_an_empty_reply() -> None:
    assert SILENT.run(MyTCPHandler).sent == b""


def test_MyTCPHandler_waits_forever_for_a_quiet_client() -> None:
    # A client that connects and says nothing: recv() has no timeout, so a real
    # server's handler would wait forever (a thread or a child each, or the whole
    # sync server). The fake notices and says so instead of hanging the test.
    with pytest.raises(HandlerWouldBlock, match=r"recv\(1024\) with no timeout"):
        run_handler(MyTCPHandler, b"", then="quiet")


def test_MyTCPHandler_reset_before_the_request() -> None:
    # A client that aborts the connection: recv() raises ConnectionResetError, which
    # the server logs. raise_errors=False keeps it, as a server would.
    result = run_handler(MyTCPHandler, b"", then="reset", raise_errors=False)
    assert isinstance(result.error, ConnectionResetError)
    assert result.sent == b""


def test_MyTCPHandler_needs_a_tcp_client_address() -> None:
    # It prints self.client_address[0]; a Unix stream client's address is ''.
    with pytest.raises(IndexError):
        run_handler(MyTCPHandler, b"hello\n", family=socket.AF_UNIX)


def test_MyTCPHandler_upper_cases_ascii_only() -> None:
    # bytes.upper() knows ASCII letters only: "é" stays as it is.
    assert run_handler(MyTCPHandler, "café\n".encode()).sent == "CAFé".encode()


# -- integration tests: a real server of every kind it can serve -------------------------------

# The handler prints self.client_address[0]: a TCP address, so it serves TCP only (see
# test_MyTCPHandler_on_unix_stream_fails_before_reading). The marker runs each test on
# tcp-sync, tcp-threading, tcp-forking and tcp-pool.
tcp_kinds = pytest.mark.netserve_kinds("tcp")


@tcp_kinds
def test_MyTCPHandler_served(netserve: ServerFactory, server_kind: ServerKind) -> None:
    server = netserve.serve(MyTCPHandler, server_kind)
    HELLO.run(server)
    (request,) = server.wait_for_requests(1)
    assert request.error is None


@tcp_kinds
def test_MyTCPHandler_served_first_half(netserve: ServerFactory, server_kind: ServerKind) -> None:
    # Over a real socket too: the handler answers what its one recv() got and closes.
    FIRST_HALF.run(netserve.serve(MyTCPHandler, server_kind))


@tcp_kinds
def test_MyTCPHandler_served_eof(netserve: ServerFactory, server_kind: ServerKind) -> None:
    SILENT.run(netserve.serve(MyTCPHandler, server_kind))


@tcp_kinds
def test_MyTCPHandler_served_faker_line(
    netserve: ServerFactory, server_kind: ServerKind, netserve_faker: Faker
) -> None:
    # netserve_faker is seeded per test: a failing report prints the seed to replay.
    line = netserve_faker.text_line()
    server = netserve.serve(MyTCPHandler, server_kind)
    server.connect().send_line(line).expect(line.encode().strip().upper())


@pytest.mark.netserve_kinds("tcp")
def test_MyTCPHandler_served_reset_is_a_handler_error(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    server = netserve.serve(MyTCPHandler, server_kind)
    server.connect().reset()
    (request,) = server.wait_for_requests(1)
    # An error from a handler fails the test that caused it, with the handler's
    # traceback; a test that provokes one on purpose marks it expected:
    error = server.errors.expect(ConnectionResetError)
    assert request.error is error
    assert "self.request.recv(1024)" in error.traceback


@pytest.mark.netserve_kinds("unix_stream")
def test_MyTCPHandler_on_unix_stream_fails_before_reading(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    # A Unix stream client has the address '' (it is not bound to a path), so the
    # handler's print(self.client_address[0]) raises IndexError before recv().
    server = netserve.serve(MyTCPHandler, server_kind)
    server.connect().send_line("hello").expect_closed()
    server.wait_for_requests(1)
    server.errors.expect(IndexError, match="string index out of range")

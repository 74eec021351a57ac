"""Testing ``tcp_stream_server.py``: a ``StreamRequestHandler`` that upper-cases one line.

Unit tests run the handler in memory with ``run_handler``; integration tests serve
it with the ``netserve`` fixture on every TCP server kind. The same
:class:`~netserve_testing.Script` runs in both. Compare with ``test_tcp_server.py``:
``rfile.readline()`` reads until the end of the line, however the bytes arrive.
"""

from __future__ import annotations

import socket

import pytest
from faker import Faker
from tcp_stream_server import MyTCPHandler

from netserve_testing import HandlerWouldBlock, Script, ServerFactory, ServerKind, run_handler

#: The reply has no line ending (the handler writes the stripped line), so the
#: scripts expect exact bytes, then the server closing the connection.
HELLO = Script().send_line("hello world").expect(b"HELLO WORLD").expect_closed()
#: A last line without its ending: readline() returns it at EOF.
NO_NEWLINE = Script().send(b"no newline").close().expect(b"NO NEWLINE").expect_closed()


class PatientHandler(MyTCPHandler):
    """The example's handler with a read timeout, as a server facing the internet needs."""

    timeout = 0.05


# -- unit tests: the handler in memory -----------------------------------------------------------


def test_MyTCPHandler_one_liner() -> None:
    assert run_handler(MyTCPHandler, b"hello world\n").sent == b"HELLO WORLD"


def test_MyTCPHandler_script() -> None:
    result = HELLO.run(MyTCPHandler)
    assert result.handler.data == b"hello world"


@pytest.mark.parametrize("chunking", [None, "bytewise", 3, "random"])
def test_MyTCPHandler_any_chunking(chunking: int | str | None) -> None:
    # readline() calls recv() until it has a whole line, so a line split anywhere
    # gets the same reply. "random" cuts at random places; a failure prints the seed.
    assert run_handler(MyTCPHandler, b"hello world\n", chunking=chunking).sent == b"HELLO WORLD"


def test_MyTCPHandler_answers_the_first_line_only() -> None:
    # One request, one line: the second line is read into rfile's buffer and dropped.
    result = run_handler(MyTCPHandler, b"one\ntwo\n")
    assert result.sent == b"ONE"


def test_MyTCPHandler_eof_ends_the_line() -> None:
    assert NO_NEWLINE.run(MyTCPHandler).sent == b"NO NEWLINE"


def test_MyTCPHandler_waits_forever_without_a_timeout() -> None:
    # Half a line, then the client goes quiet: readline() waits for the rest forever.
    with pytest.raises(HandlerWouldBlock, match="no timeout"):
        run_handler(MyTCPHandler, b"half a li", then="quiet")


def test_PatientHandler_times_out() -> None:
    # With StreamRequestHandler.timeout set, the read times out instead. The fake's
    # clock is not the wall clock: the timeout is immediate, whatever its length.
    result = run_handler(PatientHandler, b"half a li", then="quiet", raise_errors=False)
    assert isinstance(result.error, socket.timeout)
    assert result.sent == b""


def test_MyTCPHandler_reset_mid_line() -> None:
    script = Script().send(b"half a li").reset()
    result = script.run(MyTCPHandler, raise_errors=False)
    assert isinstance(result.error, ConnectionResetError)


# -- integration tests: a real server of every TCP kind ------------------------------------------

# The handler prints self.client_address[0], an IP address: it serves TCP, not Unix
# stream sockets (see test_tcp_server.py). tcp-sync, tcp-threading, tcp-forking, tcp-pool:
tcp_kinds = pytest.mark.netserve_kinds("tcp")


@tcp_kinds
def test_MyTCPHandler_served(netserve: ServerFactory, server_kind: ServerKind) -> None:
    server = netserve.serve(MyTCPHandler, server_kind)
    HELLO.run(server)
    NO_NEWLINE.run(server)
    assert [request.error for request in server.wait_for_requests(2)] == [None, None]


@tcp_kinds
def test_MyTCPHandler_served_line_in_pieces(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    # The client sends the line in three pieces; the handler still answers it all.
    client = netserve.serve(MyTCPHandler, server_kind).connect()
    client.send(b"hel").send(b"lo wor").send(b"ld\n")
    client.expect(b"HELLO WORLD")
    client.expect_closed()


@tcp_kinds
def test_MyTCPHandler_served_unicode(
    netserve: ServerFactory, server_kind: ServerKind, netserve_faker: Faker
) -> None:
    # Unicode edge cases (BOM, combining marks, NUL, U+2028...): the handler works on
    # bytes, so it upper-cases ASCII letters and passes every other byte through.
    text = netserve_faker.unicode_edge_case()
    server = netserve.serve(MyTCPHandler, server_kind)
    server.connect().send_line(text).expect(text.encode().strip().upper())


@tcp_kinds
def test_PatientHandler_served_quiet_client_times_out(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    server = netserve.serve(PatientHandler, server_kind)
    client = server.connect()
    client.send(b"half a li").go_quiet()
    client.expect_closed()  # the handler gave up: the server closed the connection
    server.wait_for_requests(1)
    # The read timeout is an error of the handler; this test expects it.
    error = server.errors.expect(socket.timeout)
    assert "self.rfile.readline()" in error.traceback

"""The kit ends its connections without a reset, so a correct handler never fails for it."""

from __future__ import annotations

import socket
import socketserver

import pytest

from netserve_testing import ExpectationFailed, Script, serve
from netserve_testing.live._clients import StreamClient
from netserve_testing.live._closing import close_gracefully


class Lower(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.lower())


@pytest.mark.parametrize("kind", ["tcp-threading", "unix_stream-threading", "tcp-forking"])
def test_a_failed_script_leaves_no_handler_error_behind(kind: str) -> None:
    # The handler answers both lines before the client reads the first and fails; leaving
    # the client's with block must not reset the connection under the handler.
    # (On a Unix socket the handler's write after the close fails with EPIPE at once: the
    # kit ended that connection, so it is not the handler's error.)
    script = Script().send(b"A\nB\n").expect(b"A\n")
    server = serve(Lower, kind)
    try:
        for _ in range(20):
            with pytest.raises(ExpectationFailed):
                script.run(server)
        server.wait_for_requests(20)
    finally:
        errors, leaks = server.close()
    assert (errors, leaks) == ([], [])


def test_an_error_before_the_kit_closed_the_connection_still_counts() -> None:
    # The excuse is narrow: a handler that fails while its client is still there fails.
    class Fails(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            raise BrokenPipeError("raised by the handler itself")

    server = serve(Fails, "tcp-threading")
    try:
        with server.connect() as client:
            client.send_line("hi")
            server.wait_for_requests(1)
    finally:
        errors, _ = server.close()
    assert [error.type_name for error in errors] == ["BrokenPipeError"]


def test_a_with_block_on_unread_bytes_ends_with_eof_not_a_reset() -> None:
    a, b = socket.socketpair()
    with b:
        b.sendall(b"never read")
        with StreamClient(a, "peer"):
            pass
        assert b.recv(10) == b""  # EOF: a close with unread bytes would reset


def test_without_the_graceful_close_the_reset_reaches_the_peer() -> None:
    # What the graceful close prevents: the kernel resets a connection closed unread.
    a, b = socket.socketpair()
    with b:
        b.sendall(b"never read")
        a.close()
        with pytest.raises(ConnectionResetError):
            b.recv(10)


def test_close_gracefully_leaves_a_closed_client_alone() -> None:
    a, b = socket.socketpair()
    with b:
        client = StreamClient(a, "peer")
        client.disconnect()
        close_gracefully(client)
        assert client.closed

"""TLS in memory: run_handler(tls=True), Script runs over TLS, FakeTLSSocket as an SSLSocket."""

from __future__ import annotations

import http.server
import socket
import socketserver
import ssl
from typing import Any

import pytest

from netserve_testing import (
    ExpectationFailed,
    FakeTLSSocket,
    HandlerWouldBlock,
    Script,
    run_handler,
    session_ca,
)


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class OneRecv(socketserver.BaseRequestHandler):
    """Buggy: assumes one recv() returns the whole line."""

    def handle(self) -> None:
        data = self.request.recv(1024)
        if not data.endswith(b"\n"):
            raise ValueError(f"partial line {data!r}")
        self.request.sendall(data.upper())


def test_run_handler_tls_plays_a_real_tls_session() -> None:
    result = run_handler(Upper, b"hello\nworld\n", tls=True)
    assert result.sent == b"HELLO\nWORLD\n"
    assert result.closed_by == "server"
    sock = result.socket
    assert isinstance(sock, FakeTLSSocket)
    assert sock.version() == sock.client.version() == "TLSv1.3"
    assert sock.wire_in
    assert sock.wire_out
    assert b"hello" not in b"".join(sock.wire_in)  # ...encrypted
    assert "tls handshake done: TLSv1.3" in result.transcript.format()


@pytest.mark.parametrize("chunking", ["bytewise", 7, "random"])
def test_run_handler_tls_chunking_splits_the_tls_bytes(chunking: Any) -> None:
    seed = 3 if chunking == "random" else None
    result = run_handler(Upper, b"hello\n", tls=True, chunking=chunking, seed=seed)
    assert result.sent == b"HELLO\n"
    sizes = {len(piece) for piece in result.socket.wire_in}
    if chunking == "bytewise":
        assert sizes == {1}
    elif chunking == 7:
        assert max(sizes) == 7
    assert "chunking of the tls bytes" in result.transcript.format()


def test_run_handler_tls_client_writes_are_records_a_buggy_handler_fails() -> None:
    # Two TLS writes of the client arrive as two records: one recv() sees only the first.
    assert run_handler(OneRecv, b"hello\n", tls=True).sent == b"HELLO\n"
    with pytest.raises(ValueError, match="partial line b'hel'"):
        run_handler(OneRecv, [b"hel", b"lo\n"], tls=True)


def test_script_runs_over_tls_and_fails_at_the_wrong_reply() -> None:
    script = Script().send_line("abc").expect_line("ABC").send_line("x").expect_line("X").close()
    assert script.run(Upper, tls=True).sent == b"ABC\nX\n"
    wrong = Script().send_line("abc").expect_line("abc")
    with pytest.raises(ExpectationFailed, match="expected"):
        wrong.run(Upper, tls=True)


def test_run_handler_tls_http_server_handler() -> None:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello over {self.request.version()} at {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    result = run_handler(Hello, b"GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n", tls=True)
    assert result.sent.startswith(b"HTTP/1.0 200 OK\r\n")
    assert result.sent.endswith(b"\r\n\r\nhello over TLSv1.3 at /x")


def test_run_handler_tls_quiet_reset_and_timeouts() -> None:
    class Timed(socketserver.StreamRequestHandler):
        timeout = 3

        def handle(self) -> None:
            self.rfile.readline()

    with pytest.raises(socket.timeout):
        run_handler(Timed, b"par", tls=True, then="quiet")
    with pytest.raises(HandlerWouldBlock):
        run_handler(OneRecv, b"", tls=True, then="quiet")
    result = run_handler(Timed, b"par", tls=True, then="reset", raise_errors=False)
    assert isinstance(result.error, ConnectionResetError)
    assert result.reset


def test_FakeTLSSocket_unwrap_exchanges_close_notify_then_speaks_plaintext() -> None:
    class StartStop(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(self.request.recv(10).upper())
            plain = self.request.unwrap()
            assert plain.version() is None
            plain.sendall(b" plain")

    assert run_handler(StartStop, b"abc", tls=True).sent == b"ABC plain"


def test_FakeTLSSocket_mutual_tls_and_alpn(netserve_ca: Any) -> None:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    netserve_ca.ca.issue_cert("localhost").configure_cert(server_context)
    netserve_ca.ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    client_context = netserve_ca.client_context(with_cert=True)
    client_context.set_alpn_protocols(["http/1.1"])
    sock = FakeTLSSocket(server_context=server_context, client_context=client_context)
    with sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        names = [value for _, value in sock.getpeercert()["subjectAltName"]]
        assert names == ["client@netserve.test"]
        assert sock.server_side
        assert sock.server_hostname is None
        assert sock.context is server_context
        assert sock.compression() is None
        assert sock.pending() == 0


def test_FakeTLSSocket_handshake_failure_raises_the_ssl_error() -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        FakeTLSSocket(client_context=session_ca().untrusting_client_context())
    with pytest.raises(ssl.SSLError):
        FakeTLSSocket(client_context=session_ca().client_context(), server_hostname="example.org")


def test_FakeTLSSocket_recv_flags_are_refused_as_by_SSLSocket() -> None:
    with FakeTLSSocket(b"x") as sock, pytest.raises(ValueError, match="non-zero flags"):
        sock.recv(1, socket.MSG_PEEK)


def test_run_handler_tls_unread_counts_plaintext_still_encrypted_or_queued() -> None:
    class FirstLine(socketserver.StreamRequestHandler):
        rbufsize = 0  # read byte by byte: nothing past the line is taken from the socket

        def handle(self) -> None:
            self.wfile.write(self.rfile.readline().upper())

    result = run_handler(FirstLine, [b"one\ntwo\n", b"three\n"], tls=True)
    assert result.sent == b"ONE\n"
    assert result.unread == b"two\nthree\n"

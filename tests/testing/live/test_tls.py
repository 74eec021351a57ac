"""TLS in the live wing: tls-* kinds, TLS and bad clients, mTLS, netserve_ca, check_liveness."""

from __future__ import annotations

import http.client
import http.server
import logging
import socketserver
import ssl
from typing import Any

import pytest

import netserve as netserve_module
from netserve_testing import (
    ExpectationFailed,
    ServerKind,
    ServerStalled,
    TLSClient,
    check_liveness,
    select_kinds,
    session_ca,
)

pytest_plugins = ["pytester"]


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        self.wfile.write(line.upper())


class Describe(socketserver.StreamRequestHandler):
    """Says what the handler saw: the request's type, TLS version, and the client's names."""

    def handle(self) -> None:
        cert = self.request.getpeercert() or {}
        names = ",".join(value for _, value in cert.get("subjectAltName", ()))
        reply = f"{type(self.request).__name__} {self.request.version()} {names or '-'}\n"
        self.wfile.write(reply.encode())


def test_tls_kinds_are_opt_in() -> None:
    assert [kind.id for kind in select_kinds("tls")] == [
        "tls-sync",
        "tls-threading",
        "tls-forking",
        "tls-pool",
    ]
    assert not [kind for kind in select_kinds() if kind.is_tls]
    assert not [kind for kind in select_kinds("stream") if kind.is_tls]
    assert [kind.id for kind in select_kinds("tcp,tls", "sync")] == ["tcp-sync", "tls-sync"]
    kind = ServerKind.parse("tls-pool")
    assert (kind.is_stream, kind.is_tls, kind.class_name) == (True, True, "ThreadPoolTLSTCPServer")


def test_tls_kind_needs_the_netserve_backend() -> None:
    with pytest.raises(ValueError, match="'tls-sync' needs netserve: socketserver has no tls"):
        ServerKind.parse("tls-sync").server_class("socketserver")


@pytest.mark.netserve_kinds("tls")
def test_tls_kind_real_handshake_and_verifying_client(netserve: Any, server_kind: Any) -> None:
    server = netserve.serve(Describe, server_kind)
    client = server.connect()
    assert isinstance(client, TLSClient)
    assert client.tls.version() == "TLSv1.3"
    reply = client.recv_line().decode()
    assert reply == "SSLSocket TLSv1.3 -\n"
    upper = netserve.serve(Upper, server_kind)
    upper.connect().send_line("hi").expect_line("HI")
    # close() sends close_notify and shuts down writing; the reply still arrives.
    assert upper.connect().send(b"half").close().recv_until_closed() == b"HALF"


@pytest.mark.netserve_kinds("tls")
def test_tls_kind_mutual_tls_accepted_and_refused(netserve: Any, server_kind: Any) -> None:
    server = netserve.serve(Describe, server_kind, mtls=True)
    server.connect().expect_line("SSLSocket TLSv1.3 client@netserve.test")
    refused = server.connect(tls="no-cert")
    with pytest.raises(ExpectationFailed, match="certificate required"):
        refused.recv_line()


@pytest.mark.netserve_kinds("tls")
def test_tls_kind_bad_clients_leave_the_server_serving(netserve: Any, server_kind: Any) -> None:
    server = netserve.serve(Upper, server_kind, handshake_timeout=30.0)
    plain = server.connect(tls="plaintext")
    plain.send_line("GET / HTTP/1.0")
    assert b"GET" not in plain.recv_until_closed()  # no handler ran
    with pytest.raises(ssl.SSLCertVerificationError):
        server.connect(tls="untrusted")
    if server_kind.concurrency != "sync":  # a sync server serves one client at a time
        server.connect(tls="silent")
        server.connect(tls="mid-handshake")
    server.connect().send_line("still").expect_line("STILL")


def test_connect_tls_errors(netserve: Any) -> None:
    with pytest.raises(ValueError, match="is not tls"):
        netserve.serve(Upper).connect(tls="plaintext")
    with pytest.raises(ValueError, match="unknown tls client 'rude'"):
        netserve.serve(Upper, "tls-threading").connect(tls="rude")
    with pytest.raises(ValueError, match="mtls=True needs a tls server, not ThreadingTCPServer"):
        netserve.serve(Upper, mtls=True)


def test_connect_tls_with_a_context_of_your_own(netserve: Any, netserve_ca: Any) -> None:
    server = netserve.serve(Upper, "tls-threading")
    context = netserve_ca.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    server.connect(tls=context).send_line("own").expect_line("OWN")


def test_netserve_ca_fixture_serves_http_client(netserve: Any, netserve_ca: Any) -> None:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello over {self.request.version()}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = netserve.serve(Hello, "tls-threading")
    for context in (
        netserve_ca.client_context(),
        ssl.create_default_context(cafile=netserve_ca.ca_bundle),
    ):
        connection = http.client.HTTPSConnection(
            "localhost", server.address[1], context=context, timeout=5
        )
        try:
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"hello over TLSv1.3"
        finally:
            connection.close()
    assert netserve_ca is session_ca()


@pytest.mark.netserve_kinds("tls")
def test_check_liveness_passes_with_TLSMixIn(
    netserve: Any, server_kind: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # No handshake_timeout given: the kit's default is half the client timeout, so even
    # tls-sync serves the new client after each stalled one times out (1 s each here).
    caplog.set_level(logging.INFO, logger="netserve")
    server = netserve.serve(Upper, server_kind, client_timeout=2.0)
    assert server.server.handshake_timeout == 1.0
    check_liveness(server, probe=lambda client: client.send_line("hi").expect_line("HI"))
    if server_kind.concurrency == "sync":  # the loop gave up on both before serving the probe
        timed_out = [r for r in caplog.records if "timed out after 1.0 s" in r.getMessage()]
        assert len(timed_out) == 2, caplog.text
        assert {r.levelname for r in timed_out} == {"INFO"}


def test_tls_sync_serves_the_next_client_after_a_silent_one_by_default(
    netserve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Default timeouts: the silent client holds the loop 2.5 s, the next client waits 5 s.
    caplog.set_level(logging.INFO, logger="netserve")
    server = netserve.serve(Upper, "tls-sync")
    assert server.server.handshake_timeout == 2.5
    silent = server.connect(tls="silent")
    server.connect().send_line("next").expect_line("NEXT")
    assert f"tls handshake with {silent.sock.getsockname()!r} timed out after 2.5 s" in caplog.text
    assert not server.errors  # a fact about the client, not a handler error


@pytest.mark.parametrize("where", ["test", "class"])
def test_tls_handshake_timeout_set_by_the_test_or_its_class_is_kept(
    netserve: Any, where: str
) -> None:
    class Patient(netserve_module.TLSTCPServer):
        handshake_timeout = 7.0

    if where == "test":
        server = netserve.serve(Upper, "tls-sync", handshake_timeout=None)
        assert server.server.handshake_timeout is None
    else:
        server = netserve.serve(Upper, server_class=Patient, client_timeout=1.0)
        assert server.server.handshake_timeout == 7.0
    assert (
        netserve.serve(Upper, server_class=netserve_module.TLSTCPServer).server.handshake_timeout
        == 2.5
    )


def test_check_liveness_passes_on_sync_with_a_short_handshake_timeout(netserve: Any) -> None:
    # Each stalled client holds the loop for 1 s, then the probe (5 s) is served.
    check_liveness(netserve.serve(Upper, "tls-sync", handshake_timeout=1.0))


def test_check_liveness_plaintext_threading_server_with_a_probe(netserve: Any) -> None:
    server = netserve.serve(Upper, "tcp-threading")
    check_liveness(server, stalls=["silent"], probe=lambda c: c.send_line("a").expect_line("A"))
    with pytest.raises(ValueError, match="plaintext server needs a probe"):
        check_liveness(server)
    with pytest.raises(ValueError, match="unknown stall 'rude'"):
        check_liveness(server, stalls=["rude"], probe=lambda c: None)


class WrappedListeningSocket(socketserver.ThreadingTCPServer):
    """The common pattern: the listening socket wrapped, so accept() runs every handshake."""

    def server_activate(self) -> None:
        super().server_activate()
        context = session_ca().server_context()
        self.socket = context.wrap_socket(self.socket, server_side=True)


@pytest.mark.parametrize("stall", ["silent", "mid-handshake"])
def test_check_liveness_fails_with_the_wrapped_listening_socket(netserve: Any, stall: str) -> None:
    server = netserve.serve(Upper, server_class=WrappedListeningSocket)
    with pytest.raises(ServerStalled) as failure:
        check_liveness(server, stalls=[stall], tls=True, timeout=0.5)
    assert failure.value.stall == stall
    host, port = failure.value.client_address
    assert f"the {stall} client from ('{host}', {port})" in str(failure.value)
    assert "did not complete in 0.5 s" in str(failure.value)


def test_check_liveness_fails_on_a_plaintext_sync_server(netserve: Any) -> None:
    server = netserve.serve(Upper, "tcp-sync")
    with pytest.raises(ServerStalled, match="the silent client from"):
        check_liveness(
            server,
            stalls=["silent"],
            timeout=0.5,
            probe=lambda c: c.send_line("x").expect_line("X"),
        )


def test_tls_kind_in_a_users_suite_across_plaintext_and_tls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socketserver
        import pytest

        class Upper(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline().upper())

        class Wrong(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"nope\\n")

        @pytest.mark.netserve_kinds("tcp,tls")
        def test_upper(netserve, server_kind):
            netserve.serve(Upper, server_kind).connect().send_line("hi").expect_line("HI")

        @pytest.mark.netserve_kinds("tls-threading")
        def test_wrong(netserve, server_kind):
            netserve.serve(Wrong, server_kind).connect().send_line("hi").expect_line("HI")

        def test_default_matrix_has_no_tls(server_kind):
            assert not server_kind.is_tls
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=8 + 16, failed=1)
    result.stdout.fnmatch_lines(["*expected b'HI\\n', received b'nope\\n'*"])


def _has_ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
@pytest.mark.netserve_kinds("tls6")
def test_tls6_kind_serves_on_ipv6_loopback(netserve: Any, server_kind: Any) -> None:
    server = netserve.serve(Upper, server_kind)
    assert server.address[0] == "::1"
    server.connect().send_line("six").expect_line("SIX")
    assert [kind.id for kind in select_kinds("tls6", "pool")] == ["tls6-pool"]


def test_tls_without_trustme_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from netserve_testing import SessionCA, TLSUnavailable

    monkeypatch.setitem(sys.modules, "trustme", None)  # as if it were not installed
    with pytest.raises(TLSUnavailable, match="tls testing needs trustme: pip install trustme"):
        SessionCA()

"""TLSMixIn and the TLS servers: real handshakes on loopback, stalled and bad clients, http.server.

Certificates come from a throw-away CA (trustme, ECDSA keys: fast to make) for
``localhost``, ``127.0.0.1`` and ``::1``. Nothing sleeps: a client that must be served
while another stalls proves it by being served, and every wait is bounded.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import queue
import socket
import ssl
from typing import Any, Optional

import pytest
import trustme

import netserve

from ._support import TIMEOUT, have_ipv6, open_fds, serving, start_serving, stop_serving
from .conftest import FORK_IN_THREAD_WARNING

pytestmark = pytest.mark.filterwarnings(FORK_IN_THREAD_WARNING)

TLS_KINDS = [
    "TLSTCPServer",
    "ThreadingTLSTCPServer",
    "ForkingTLSTCPServer",
    "ThreadPoolTLSTCPServer",
]
CONCURRENT_KINDS = [kind for kind in TLS_KINDS if kind != "TLSTCPServer"]
MIXINS = {
    "sync": None,
    "threading": netserve.ThreadingMixIn,
    "forking": netserve.ForkingMixIn,
    "pool": netserve.ThreadPoolMixIn,
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throw-away certificate authority for this module (``trustme.CA``, ECDSA)."""
    return trustme.CA(key_type=trustme.KeyType.ECDSA)


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for localhost, 127.0.0.1 and ::1, signed by ``ca``."""
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1", key_type=trustme.KeyType.ECDSA)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts ``ca`` and checks host names."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class UpperWithVersion(netserve.StreamRequestHandler):
    """Upper-cases one line and appends what the handler saw: the TLS version and socket type."""

    def handle(self) -> None:
        line = self.rfile.readline().strip()
        kind = type(self.request).__name__
        self.wfile.write(
            b"%s %s %s\n" % (line.upper(), self.request.version().encode(), kind.encode())
        )


class RecordingMixIn:
    """Puts each handshake failure, ``(client_address, exception type)``, on ``server.failures``."""

    failures: queue.Queue[tuple[Any, type]]

    def handle_handshake_error(self, request: Any, client_address: Any, exc: OSError) -> None:
        self.failures.put((client_address, type(exc)))
        super().handle_handshake_error(request, client_address, exc)  # type: ignore[misc]


def make_server(
    kind: str,
    context: ssl.SSLContext,
    handler: Any = UpperWithVersion,
    address: Any = ("127.0.0.1", 0),
    **attributes: Any,
) -> Any:
    base = getattr(netserve, kind)
    server_class = type(kind, (RecordingMixIn, base), attributes)
    server = server_class(address, handler, ssl_context=context)
    server.failures = queue.Queue()
    return server


def tls_connect(
    address: Any,
    context: ssl.SSLContext,
    family: int = socket.AF_INET,
    hostname: Optional[str] = "localhost",
) -> ssl.SSLSocket:
    raw = socket.socket(family, socket.SOCK_STREAM)
    try:
        raw.settimeout(TIMEOUT)
        raw.connect(address)
        return context.wrap_socket(raw, server_hostname=hostname)
    except BaseException:
        raw.close()
        raise


def round_trip(address: Any, context: ssl.SSLContext, family: int = socket.AF_INET) -> bytes:
    with tls_connect(address, context, family) as client:
        client.sendall(b"hello\n")
        return client.makefile("rb").readline()


def plain_connect(address: Any, family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def partial_client_hello(context: ssl.SSLContext) -> bytes:
    """The first half of a real ClientHello: a client that stops mid-handshake sends this."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


def read_to_end(sock: socket.socket) -> bytes:
    """Everything ``sock`` receives until EOF; a reset also counts as the end."""
    chunks = []
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


# -- real handshakes ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TLS_KINDS)
def test_TLS_server_kind_completes_a_real_handshake(
    kind: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = make_server(kind, server_context)
    with serving(server):
        reply = round_trip(server.server_address, client_context)
        assert reply.startswith(b"HELLO TLSv1.")
        assert reply.endswith(b" SSLSocket\n")
        assert round_trip(server.server_address, client_context) == reply
    assert server.failures.empty()


@pytest.mark.parametrize("concurrency", sorted(MIXINS))
@pytest.mark.parametrize("tls_first", [False, True], ids=["mixin-first", "tls-first"])
def test_TLSMixIn_combines_with_each_concurrency_mixin_on_tcp(
    concurrency: str,
    tls_first: bool,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    mixin = MIXINS[concurrency]
    mixins = [] if mixin is None else [mixin]
    order = [netserve.TLSMixIn, *mixins] if tls_first else [*mixins, netserve.TLSMixIn]
    server_class = type("Server", (*order, netserve.TCPServer), {})
    server = server_class(("127.0.0.1", 0), UpperWithVersion, ssl_context=server_context)
    with serving(server):
        assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")


@pytest.mark.parametrize("concurrency", sorted(MIXINS))
def test_TLSMixIn_combines_with_each_concurrency_mixin_on_unix_streams(
    concurrency: str, unix_path: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    mixin = MIXINS[concurrency]
    bases = ([] if mixin is None else [mixin]) + [netserve.TLSMixIn, netserve.UnixStreamServer]
    server_class = type("Server", tuple(bases), {"ssl_context": server_context})
    with server_class(unix_path, UpperWithVersion) as server, serving(server):
        reply = round_trip(unix_path, client_context, socket.AF_UNIX)
    assert reply.startswith(b"HELLO TLS")


def test_TLS_server_over_ipv6_loopback(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    if not have_ipv6():
        pytest.skip("no ipv6 loopback")
    server = make_server("ThreadingTLSTCPServer", server_context, address=("::1", 0))
    with serving(server):
        address = server.server_address[:2]
        with tls_connect(address, client_context, socket.AF_INET6, hostname="::1") as client:
            client.sendall(b"six\n")
            assert client.makefile("rb").readline().startswith(b"SIX TLS")


def test_TLS_handler_gets_the_sslsocket_with_the_accepted_timeout_restored(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    class Inspect(netserve.BaseRequestHandler):
        def handle(self) -> None:
            seen.put((type(self.request), self.request.gettimeout(), self.request.cipher()))
            self.request.sendall(b"ok")

    server = make_server(
        "ThreadingTLSTCPServer", server_context, Inspect, handshake_timeout=TIMEOUT
    )
    with serving(server), tls_connect(server.server_address, client_context) as client:
        assert client.recv(2) == b"ok"
    request_type, timeout, cipher = seen.get(timeout=TIMEOUT)
    assert issubclass(request_type, ssl.SSLSocket)
    assert timeout is None  # the handshake's timeout does not leak into the handler
    assert cipher is not None


def test_TLS_mutual_authentication_accepted_and_refused(ca: trustme.CA) -> None:
    cert = ca.issue_cert("localhost", key_type=trustme.KeyType.ECDSA)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    peers: queue.Queue[Any] = queue.Queue()

    class Peer(netserve.BaseRequestHandler):
        def handle(self) -> None:
            peers.put(self.request.getpeercert())
            self.request.sendall(b"welcome")

    with_cert = ssl.create_default_context()
    ca.configure_trust(with_cert)
    ca.issue_cert("client@example.org", key_type=trustme.KeyType.ECDSA).configure_cert(with_cert)
    without_cert = ssl.create_default_context()
    ca.configure_trust(without_cert)

    server = make_server("ThreadingTLSTCPServer", context, Peer)
    with serving(server):
        with tls_connect(server.server_address, with_cert) as client:
            assert client.recv(7) == b"welcome"
        names = [value for rdn in peers.get(timeout=TIMEOUT)["subjectAltName"] for value in rdn]
        assert "client@example.org" in names
        # TLS 1.3: the client's handshake ends before the server checks it; the refusal
        # shows on the client's first read.
        with tls_connect(server.server_address, without_cert) as client:
            try:
                data = client.recv(7)
            except (ssl.SSLError, ConnectionResetError):
                data = b""
            assert data == b""
        _, exc_type = server.failures.get(timeout=TIMEOUT)
        assert issubclass(exc_type, ssl.SSLError)
    assert peers.empty()


# -- stalled clients --------------------------------------------------------------------------


@pytest.mark.parametrize("stall", ["silent", "half-hello"])
@pytest.mark.parametrize("kind", CONCURRENT_KINDS)
def test_TLS_stalled_client_does_not_block_a_second_client(
    kind: str, stall: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    # The stalled client holds its own thread, worker or child for up to handshake_timeout
    # (far beyond this test); the second client is served meanwhile.
    server = make_server(kind, server_context, handshake_timeout=10 * TIMEOUT, max_workers=2)
    with serving(server):
        with plain_connect(server.server_address) as stalled:
            if stall == "half-hello":
                stalled.sendall(partial_client_hello(client_context))
            assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")
            assert server.failures.empty()
            # Ends the connection even where a forked child holds a copy of this socket.
            stalled.shutdown(socket.SHUT_RDWR)
        # The stalled client's end ends its handshake: a failure, not a handler error.
        if kind != "ForkingTLSTCPServer":  # a child's hook runs in the child
            _, exc_type = server.failures.get(timeout=TIMEOUT)
            assert issubclass(exc_type, OSError)


@pytest.mark.parametrize("stall", ["silent", "half-hello"])
def test_TLS_sync_server_bounds_a_stalled_client_by_handshake_timeout(
    stall: str,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One request at a time: the stalled client's handshake runs inside request processing
    # and is cut off after handshake_timeout, then the waiting client is served.
    caplog.set_level(logging.INFO, logger="netserve")

    def cut_short_once(server: Any, request: Any, client_address: Any, exc: OSError) -> None:
        RecordingMixIn.handle_handshake_error(server, request, client_address, exc)
        server.handshake_timeout = TIMEOUT  # the good client's handshake is never cut short

    server = make_server(
        "TLSTCPServer",
        server_context,
        handshake_timeout=0.2,
        handle_handshake_error=cut_short_once,
    )
    with serving(server), plain_connect(server.server_address) as stalled:
        if stall == "half-hello":
            stalled.sendall(partial_client_hello(client_context))
        assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")
        address, exc_type = server.failures.get(timeout=TIMEOUT)
        assert address == stalled.getsockname()
        assert issubclass(exc_type, socket.timeout)
        assert read_to_end(stalled) == b""  # closed by the server
    assert f"tls handshake with {address!r} timed out after 0.2 s" in caplog.text


# -- bad clients ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TLS_KINDS)
def test_TLS_plaintext_client_is_refused_and_the_server_goes_on(
    kind: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = make_server(kind, server_context)
    with serving(server):
        with plain_connect(server.server_address) as plain:
            plain.sendall(b"hello\n")
            assert b"HELLO" not in read_to_end(plain)  # the handler never ran
        if kind != "ForkingTLSTCPServer":
            _, exc_type = server.failures.get(timeout=TIMEOUT)
            assert issubclass(exc_type, ssl.SSLError)
        assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")


def test_TLS_client_that_does_not_trust_the_server_fails_on_both_sides(
    server_context: ssl.SSLContext,
) -> None:
    stranger = ssl.create_default_context()
    trustme.CA(key_type=trustme.KeyType.ECDSA).configure_trust(stranger)
    server = make_server("ThreadingTLSTCPServer", server_context)
    with serving(server):
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_connect(server.server_address, stranger).close()
        _, exc_type = server.failures.get(timeout=TIMEOUT)
        assert issubclass(exc_type, ssl.SSLError)


def test_TLS_handshake_failure_is_logged_at_info_not_as_a_handler_error(
    server_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="netserve")
    errors: list[Any] = []

    class Server(netserve.TLSTCPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            errors.append(client_address)

    server = Server(("127.0.0.1", 0), UpperWithVersion, ssl_context=server_context)
    with server, plain_connect(server.server_address) as plain:
        plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
        server.handle_request()
        read_to_end(plain)
    [record] = [r for r in caplog.records if "tls handshake" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "failed" in record.getMessage()
    assert errors == []


def test_TLS_handler_error_still_goes_to_handle_error(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    errors: queue.Queue[Any] = queue.Queue()

    class Boom(netserve.BaseRequestHandler):
        def handle(self) -> None:
            raise ValueError("boom")

    class Server(netserve.TLSTCPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            import sys

            errors.put(sys.exc_info()[0])

    server = Server(("127.0.0.1", 0), Boom, ssl_context=server_context)
    with serving(server), tls_connect(server.server_address, client_context) as client:
        assert read_to_end(client) == b""
    assert errors.get(timeout=TIMEOUT) is ValueError


def test_TLS_failed_handshakes_leak_no_file_descriptors(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = make_server("ThreadingTLSTCPServer", server_context)
    thread = start_serving(server)
    try:
        round_trip(server.server_address, client_context)  # warm up lazily opened files
        before = open_fds()
        for _ in range(5):
            with plain_connect(server.server_address) as plain:
                plain.sendall(b"nope\n")
                read_to_end(plain)
            round_trip(server.server_address, client_context)
        for _ in range(5):
            server.failures.get(timeout=TIMEOUT)
    finally:
        stop_serving(server, thread)  # server_close() joins the handler threads
    assert open_fds() - before == set()


# -- http.server over TLS -------------------------------------------------------------------


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello over {self.request.version()} at {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("kind", TLS_KINDS)
def test_TLS_http_server_handler_with_http_client(
    kind: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = make_server(kind, server_context, Hello)
    with serving(server):
        port = server.server_address[1]
        connection = http.client.HTTPSConnection(
            "localhost", port, context=client_context, timeout=TIMEOUT
        )
        try:
            connection.request("GET", "/index")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read().startswith(b"hello over TLSv1.")
        finally:
            connection.close()


# -- settings -------------------------------------------------------------------------------


def test_TLSMixIn_missing_ssl_context_is_a_clear_error_when_serving() -> None:
    with netserve.ThreadingTLSTCPServer(("127.0.0.1", 0), UpperWithVersion) as server:
        with pytest.raises(netserve.TLSConfigError, match="ssl_context is not set on Threading"):
            server.serve_forever()
        with pytest.raises(ValueError, match="PROTOCOL_TLS_SERVER"):
            server.handle_request()


def test_TLSMixIn_ssl_context_set_on_the_instance_before_serving(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    with netserve.ThreadPoolTLSTCPServer(("127.0.0.1", 0), UpperWithVersion) as server:
        server.ssl_context = server_context
        with serving(server):
            assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("cert.pem", "ssl_context must be an ssl.SSLContext, not str: 'cert.pem'"),
        (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), "is a client context"),
    ],
    ids=["not-a-context", "client-context"],
)
def test_TLSMixIn_wrong_ssl_context_fails_at_construction(context: Any, message: str) -> None:
    with pytest.raises(netserve.TLSConfigError, match=message):
        netserve.TLSTCPServer(("127.0.0.1", 0), UpperWithVersion, ssl_context=context)


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_TLSMixIn_bad_handshake_timeout_fails_when_serving(
    timeout: Any, server_context: ssl.SSLContext
) -> None:
    server_class = type("Server", (netserve.TLSTCPServer,), {"handshake_timeout": timeout})
    server = server_class(("127.0.0.1", 0), UpperWithVersion, ssl_context=server_context)
    with server, pytest.raises(netserve.TLSConfigError, match="handshake_timeout must be a posit"):
        server.handle_request()


def test_TLSMixIn_default_handshake_timeout_is_ten_seconds() -> None:
    assert netserve.TLSMixIn.handshake_timeout == 10.0


def test_TLSMixIn_refuses_a_datagram_server(server_context: ssl.SSLContext) -> None:
    server_class = type("Server", (netserve.TLSMixIn, netserve.UDPServer), {})
    with pytest.raises(TypeError, match="TLSMixIn needs a stream server, not Server"):
        server_class(("127.0.0.1", 0), netserve.DatagramRequestHandler, ssl_context=server_context)


def test_TLS_handshake_timeout_none_waits_for_the_client(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = make_server("ThreadingTLSTCPServer", server_context, handshake_timeout=None)
    with serving(server):
        assert round_trip(server.server_address, client_context).startswith(b"HELLO TLS")


@pytest.mark.parametrize("nodelay", [True, False])
def test_TLSMixIn_tcp_nodelay_on_accepted_connections(
    nodelay: bool, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    # Nagle's algorithm would hold a small reply after the TLS 1.3 session tickets until
    # the client's delayed ACK; TLSMixIn turns it off unless told not to.
    seen: queue.Queue[int] = queue.Queue()

    class Inspect(netserve.BaseRequestHandler):
        def handle(self) -> None:
            seen.put(self.request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.request.sendall(b"ok")

    server = make_server("TLSTCPServer", server_context, Inspect, tcp_nodelay=nodelay)
    with serving(server), tls_connect(server.server_address, client_context) as client:
        assert client.recv(2) == b"ok"
    assert bool(seen.get(timeout=TIMEOUT)) is nodelay

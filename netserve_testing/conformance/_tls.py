"""TLS conformance: does the in-memory TLS socket behave as a real ``ssl.SSLSocket``?

The same ``check_tls_*`` functions run on :func:`fake_tls_pair` (a
:class:`~netserve_testing.FakeTLSSocket` and its plaintext peer) and on
:func:`tls_stream_pair` (a real TLS connection on loopback: the server's
``ssl.SSLSocket`` under test, a TLS client as the peer). The peer speaks plaintext
through its own TLS end, with the :class:`StreamPeer` verbs; ``close()`` sends a
close_notify and shuts down its sending side.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading
from typing import Any, Callable, Iterator, List, Sequence, Tuple

from .._tls import session_ca
from ..memory._tls import FakeTLSSocket
from ._stream import PairFactory, StreamPeer, _raises, _recv_exactly, _require, check_eof

__all__ = [
    "check_tls_eof",
    "check_tls_makefile",
    "check_tls_reset",
    "check_tls_send_recv",
    "check_tls_socket",
    "check_tls_timeouts",
    "fake_tls_pair",
    "tls_stream_pair",
]

_PEER_TIMEOUT = 10.0


@contextlib.contextmanager
def fake_tls_pair() -> Iterator[Tuple[FakeTLSSocket, Any]]:
    """Yield a :class:`~netserve_testing.FakeTLSSocket` and its (plaintext) peer.

    Example:
        >>> check_tls_eof(fake_tls_pair)
    """
    sock = FakeTLSSocket()
    with sock:
        yield sock, sock.peer


class _TLSClientPeer:
    # The client end of a real TLS connection, as an SSLObject pumped over its socket,
    # so close() can send close_notify and keep reading (a TLS half-close).
    def __init__(self, raw: socket.socket, other: socket.socket) -> None:
        self._raw = raw
        self._other = other
        raw.settimeout(_PEER_TIMEOUT)
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = (
            session_ca()
            .shared_client_context()
            .wrap_bio(self._in, self._out, server_hostname="localhost")
        )

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self._raw.sendall(data)

    def _pull(self) -> None:
        data = self._raw.recv(65536)
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                self._pull()
                continue
            self._flush()
            return

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def recv(self, bufsize: int) -> bytes:
        while True:
            try:
                return self.tls.read(bufsize)
            except ssl.SSLWantReadError:
                self._pull()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def close(self) -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        self._flush()
        self._raw.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        self._raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._raw.close()
        select.select([self._other], [], [], _PEER_TIMEOUT)

    def stop_reading(self) -> None:
        return None


@contextlib.contextmanager
def tls_stream_pair() -> Iterator[Tuple[ssl.SSLSocket, StreamPeer]]:
    """Yield a real TLS connection on loopback: the server's ``ssl.SSLSocket``, and its peer.

    Certificates come from the session CA; the handshake is done on return.

    Example:
        >>> check_tls_eof(tls_stream_pair)
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname()[:2], timeout=_PEER_TIMEOUT)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client:
            accepted, _ = listener.accept()
            accepted.settimeout(_PEER_TIMEOUT)
            server = (
                session_ca()
                .server_context()
                .wrap_socket(accepted, server_side=True, do_handshake_on_connect=False)
            )
            with server:
                peer = _TLSClientPeer(client, server)
                failures: List[BaseException] = []

                def handshake() -> None:
                    try:
                        server.do_handshake()
                    except BaseException as exc:  # noqa: BLE001 - raised below
                        failures.append(exc)

                thread = threading.Thread(target=handshake, name="tls_stream_pair handshake")
                thread.start()
                try:
                    peer.handshake()
                finally:
                    thread.join(_PEER_TIMEOUT)
                if failures:
                    raise failures[0]
                server.settimeout(None)
                yield server, peer


def check_tls_send_recv(make_pair: PairFactory) -> None:
    """Plaintext goes both ways; the TLS accessors answer as on a server ``SSLSocket``.

    ``version()`` is ``"TLSv1.3"``, ``cipher()`` a 3-tuple, ``getpeercert()`` ``None``
    (no client certificate asked for), ``selected_alpn_protocol()`` ``None``,
    ``compression()`` ``None``; ``recv()`` with flags raises ``ValueError``.

    Example:
        >>> check_tls_send_recv(fake_tls_pair)
    """
    with make_pair() as (sock, peer):
        sock.sendall(b"hello")
        _require(_recv_exactly(peer.recv, 5, "peer") == b"hello", "peer got other bytes")
        peer.send(b"world")
        buffer = bytearray(10)
        count = sock.recv_into(buffer, 3)
        _require(1 <= count <= 3, f"recv_into(buffer, 3) returned {count}")
        rest = _recv_exactly(sock.recv, 5 - count, "socket")
        _require(bytes(buffer[:count]) + rest == b"world", "socket got other bytes")
        _require(sock.version() == "TLSv1.3", f"version() is {sock.version()!r}")
        cipher = sock.cipher()
        _require(isinstance(cipher, tuple) and len(cipher) == 3, f"cipher() is {cipher!r}")
        _require(sock.getpeercert() is None, f"getpeercert() is {sock.getpeercert()!r}")
        _require(sock.selected_alpn_protocol() is None, "an alpn protocol was selected")
        _require(sock.compression() is None, f"compression() is {sock.compression()!r}")
        _raises(ValueError, lambda: sock.recv(10, socket.MSG_PEEK), "recv() with flags")
        _require(sock.send(b"!") == 1, "send() of 1 byte did not return 1")
        _require(_recv_exactly(peer.recv, 1, "peer") == b"!", "peer got other bytes")


def check_tls_eof(make_pair: PairFactory) -> None:
    """After the peer's close_notify, reads give the data then ``b""``; writes still arrive.

    Example:
        >>> check_tls_eof(fake_tls_pair)
    """
    # The same promise as plain streams make, with the peer's close sending close_notify.
    check_eof(make_pair)


def check_tls_makefile(make_pair: PairFactory) -> None:
    """``makefile('rb')`` reads lines across TLS records; ``makefile('wb', 0)`` writes.

    Example:
        >>> check_tls_makefile(fake_tls_pair)
    """
    with make_pair() as (sock, peer):
        peer.send(b"one\r\ntw")
        peer.send(b"o\nrest")
        peer.close()
        with sock.makefile("rb") as rfile, sock.makefile("wb", 0) as wfile:
            lines = [rfile.readline(), rfile.readline(), rfile.read()]
            _require(lines == [b"one\r\n", b"two\n", b"rest"], f"makefile read {lines!r}")
            wfile.write(b"reply\n")
        _require(_recv_exactly(peer.recv, 6, "peer") == b"reply\n", "makefile write lost")


def check_tls_timeouts(make_pair: PairFactory) -> None:
    """A quiet peer times a read out (``socket.timeout``); later data still reads.

    Example:
        >>> check_tls_timeouts(fake_tls_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.gettimeout() is None, "a new tls socket is not blocking")
        sock.settimeout(0.01)
        exc = _raises(socket.timeout, lambda: sock.recv(10), "recv() from a quiet peer")
        _require("timed out" in str(exc), f"timeout message is {str(exc)!r}")
        peer.send(b"late")
        sock.settimeout(_PEER_TIMEOUT)
        _require(_recv_exactly(sock.recv, 4, "socket") == b"late", "read after a timeout failed")


def check_tls_reset(make_pair: PairFactory) -> None:
    """A peer that resets the connection ends the reads at once, without data.

    The read raises ``ConnectionResetError`` or returns ``b""``: OpenSSL may report
    a reset as an EOF without close_notify, which an ``SSLSocket`` (with its default
    ``suppress_ragged_eofs``) reads as ``b""``. A handler must take both as the end.

    Example:
        >>> check_tls_reset(fake_tls_pair)
    """
    with make_pair() as (sock, peer):
        peer.reset()
        try:
            data = sock.recv(10)
        except ConnectionResetError:
            data = b""
        _require(data == b"", f"recv() after a reset returned {data!r}")


TLS_CHECKS: Sequence[Callable[[PairFactory], None]] = (
    check_tls_send_recv,
    check_tls_eof,
    check_tls_makefile,
    check_tls_timeouts,
    check_tls_reset,
)


def check_tls_socket(make_pair: PairFactory) -> None:
    """Run every TLS conformance check against pairs from ``make_pair``.

    Raises:
        AssertionError: The first check that failed, named in the message.

    Example:
        >>> check_tls_socket(fake_tls_pair)
        >>> check_tls_socket(tls_stream_pair)
    """
    for check in TLS_CHECKS:
        try:
            check(make_pair)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__}: {exc}") from exc

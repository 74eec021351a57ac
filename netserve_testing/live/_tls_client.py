"""A scripted client that speaks TLS over a real socket, and the bad TLS clients of tests.

:class:`TLSClient` has every verb of :class:`~netserve_testing.StreamClient`; the TLS
session runs in an ``ssl.SSLObject`` over memory buffers, pumped through the client's
own plain socket. So ``close()`` sends a TLS close_notify and still reads the reply (a
real half-close), and a forked server child closes its copy of the socket as for any
kit client.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from typing import Any, List, Optional

from ._clients import DEFAULT_TIMEOUT, StreamClient, _client_socket, _family_of, _unix_path

__all__ = ["TLSClient", "client_hello"]

_RECV_SIZE = 65536


_hello_lock = threading.Lock()
_hello_contexts: List[ssl.SSLContext] = []


def _hello_context() -> ssl.SSLContext:
    # A client context that only writes ClientHellos: made once, never changed.
    with _hello_lock:
        if not _hello_contexts:
            _hello_contexts.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return _hello_contexts[0]


def client_hello(context: Optional[ssl.SSLContext] = None, hostname: str = "localhost") -> bytes:
    """Return the bytes of a real TLS ClientHello, as a client's first flight.

    Send part of it to act as a client that stops mid-handshake.

    Example:
        >>> client_hello()[:1]  # a TLS handshake record
        b'\\x16'
    """
    if context is None:
        context = _hello_context()
    outgoing = ssl.MemoryBIO()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=hostname)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


class TLSClient(StreamClient):
    """A scripted client of a TLS server: verifies it, then talks as a :class:`StreamClient`.

    The handshake runs in the constructor, within ``timeout``; a server the context
    does not trust raises ``ssl.SSLCertVerificationError`` there, after closing the
    socket. Bytes sent and expected are the plaintext of the TLS session.

    Args:
        address: ``(host, port)`` or a Unix socket path.
        context: The client ``ssl.SSLContext`` (see ``netserve_ca.client_context()``).
        timeout: Seconds to wait for any one thing, the handshake included (default 5).
        server_hostname: The name to verify the certificate against (default
            ``"localhost"``; ``None`` sends no SNI and needs ``check_hostname`` off).

    Attributes:
        tls: The client's ``ssl.SSLObject``: ``version()``, ``cipher()``,
            ``getpeercert()``, ``selected_alpn_protocol()``...

    Example:
        >>> context = netserve_ca.client_context()  # doctest: +SKIP
        >>> with TLSClient(server.address, context) as client:  # doctest: +SKIP
        ...     client.send_line("hi").expect_line("HI")
    """

    def __init__(
        self,
        address: Any,
        context: ssl.SSLContext,
        timeout: Optional[float] = None,
        server_hostname: Optional[str] = "localhost",
    ) -> None:
        family = _family_of(address)
        sock = _client_socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(DEFAULT_TIMEOUT if timeout is None else timeout)
            sock.connect(_unix_path(address) if family == socket.AF_UNIX else address)
            if family != socket.AF_UNIX:
                # TLS writes whole records; with Nagle the first write after the
                # handshake would wait for the server's delayed ACK of Finished (~40 ms).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, address, timeout)
            self._incoming = ssl.MemoryBIO()
            self._outgoing = ssl.MemoryBIO()
            self._close_notify_sent = False
            self.tls = context.wrap_bio(
                self._incoming, self._outgoing, server_hostname=server_hostname
            )
            self._handshake()
        except BaseException:
            sock.close()
            raise
        cipher = self.tls.cipher()
        self.transcript.event(f"tls handshake done: {self.tls.version()} {cipher and cipher[0]}")

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self.sock.sendall(data)

    def _pull_wire(self, deadline: float, what: str) -> bool:
        # One read of TLS bytes from the socket into the session; False at EOF.
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(what)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(_RECV_SIZE)
        except socket.timeout:
            raise self._timed_out(what) from None
        if data:
            self._incoming.write(data)
            return True
        self._incoming.write_eof()
        return False

    def _handshake(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                self._pull_wire(deadline, "the tls handshake")
                continue
            self._flush()
            return

    def _transmit(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def disconnect(self) -> None:
        """Send a TLS close_notify (without waiting) and close the socket. Safe to call twice.

        The handler's next read then ends cleanly (``b""``), as with a plain client.
        """
        if not self._closed:
            with contextlib.suppress(OSError):
                self._send_close_notify()
        super().disconnect()

    def _send_close_notify(self) -> None:
        # Send the close_notify once, without waiting (non-blocking: a peer that stopped
        # reading cannot hold the caller); a later close() or disconnect() sends nothing.
        if self._close_notify_sent:
            return
        self._close_notify_sent = True
        with contextlib.suppress(ssl.SSLError, ValueError):
            with contextlib.suppress(ssl.SSLWantReadError):
                self.tls.unwrap()
            data = self._outgoing.read()
            if data:
                self.sock.setblocking(False)
                self.sock.send(data)

    def close(self) -> TLSClient:
        """Send a TLS close_notify and shut down the sending side; the client can still read.

        Example:
            >>> client.send(b"data").close().expect_closed()  # doctest: +SKIP
        """
        self.transcript.event("client sent a tls close_notify and EOF (shutdown SHUT_WR)")
        self._close_notify_sent = True
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # The server's close_notify has not come yet: reading goes on.
        except (ssl.SSLError, ValueError) as exc:
            self.transcript.event(f"tls close_notify failed: {exc!r}")
        try:
            self._flush()
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self.transcript.event(f"shutdown failed: {exc!r}")
        return self

    def _fill(self, deadline: float, what: str) -> None:
        # Read plaintext into the buffer, pulling TLS bytes from the socket as needed.
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        while True:
            try:
                chunk = self.tls.read(_RECV_SIZE)
            except ssl.SSLWantReadError:
                try:
                    self._pull_wire(deadline, what)
                except ConnectionResetError:
                    self.transcript.event("connection reset by the server")
                    self._eof = True
                    return
                except OSError as exc:
                    self.transcript.event(f"recv failed: {exc!r}")
                    raise self._fail(f"recv failed while waiting for {what}: {exc}") from exc
                continue
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLEOFError:
                self.transcript.event("server closed the connection without a tls close_notify")
                chunk = b""
            except ssl.SSLError as exc:
                self.transcript.event(f"tls error: {exc!r}")
                raise self._fail(f"tls error while waiting for {what}: {exc}") from exc
            self._flush()  # a read may answer the server (a key update)
            if chunk:
                self.transcript.outbound(chunk)
                self._buffer += chunk
            else:
                self.transcript.event("server closed the connection (EOF)")
                self._eof = True
            return

"""TLS in memory: a real TLS session between a fake client and the handler, with no socket.

:class:`FakeTLSSocket` is what a handler gets as ``self.request`` from
``run_handler(Handler, inbound, tls=True)``. Both ends are ``ssl.SSLObject`` over
``ssl.MemoryBIO`` buffers, with certificates from the session CA: the client encrypts
what the test sends, the TLS bytes cross (split by the chunking, as TCP may split
records), and the handler's reads decrypt them; what the handler sends is encrypted,
crosses back, and the client decrypts it into :attr:`~FakeStreamSocket.sent`. So a
handler meets real TLS records, a real handshake and a real close_notify.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections import deque
from typing import Any, Callable, Deque, Iterable, List, Optional, Sequence, Union

from .._tls import session_ca
from ..script._script import Script
from ._chunks import Chunking, ChunkingLike
from ._socket_base import LOG_EVENT, Address
from ._stream import FakeStreamSocket

__all__ = ["FakeTLSSocket"]

# The most plaintext the fake client writes at once (one read of what the test sent).
_CLIENT_READ = 65536


class FakeTLSSocket(FakeStreamSocket):
    """An in-memory TLS connection that behaves as the ``ssl.SSLSocket`` a handler gets.

    Everything of :class:`FakeStreamSocket` (timeouts on a fake clock, EOF, resets,
    ``makefile()``, scripts in lockstep, the transcript of plaintext) plus the
    ``ssl.SSLSocket`` methods handlers use: ``getpeercert()``, ``version()``,
    ``cipher()``, ``shared_ciphers()``, ``compression()``,
    ``selected_alpn_protocol()``, ``pending()``, ``do_handshake()`` and
    ``unwrap()`` (a real close_notify exchange; afterwards the same object speaks
    plaintext). As on an ``SSLSocket``, ``recv()`` takes no flags. The handshake is
    done when the constructor returns, as a :class:`netserve.TLSMixIn` server does it
    before the handler runs; a handshake that fails raises its ``ssl.SSLError`` there.

    Args:
        inbound: What the client sends (plaintext): bytes, chunks (each one TLS write of
            the client), or a :class:`~netserve_testing.Script`.
        then: The client's end after ``inbound``: ``"eof"`` (a close_notify),
            ``"reset"`` or ``"quiet"``.
        chunking: How the client's TLS bytes split across the handler's reads (see
            :class:`~netserve_testing.Chunking`); ``"bytewise"`` feeds records a byte
            at a time.
        seed: Seed for ``chunking="random"``.
        server_context: The handler's side; default: the session CA's server context.
        client_context: The client's side; default: a client trusting the session CA.
        server_hostname: The name the client verifies (default ``"localhost"``).
        **kwargs: ``family``, ``sockname``, ``peername``, ``max_send``, ``transcript``,
            as for :class:`FakeStreamSocket`.

    Attributes:
        client: The client's ``ssl.SSLObject`` (``version()``, ``getpeercert()``...).
        wire_in: The TLS bytes the handler's side received, one item per chunk fed.
        wire_out: Every TLS byte the handler's side sent.

    Example:
        >>> sock = FakeTLSSocket(b"hello\\n", then="eof")
        >>> sock.version(), sock.recv(1024), sock.recv(1024)
        ('TLSv1.3', b'hello\\n', b'')
        >>> sock.sendall(b"HELLO\\n")
        >>> sock.sent
        b'HELLO\\n'
    """

    def __init__(
        self,
        inbound: Union[bytes, Iterable[bytes], Script, None] = None,
        *,
        then: str = "quiet",
        chunking: ChunkingLike = None,
        seed: Optional[int] = None,
        server_context: Optional[ssl.SSLContext] = None,
        client_context: Optional[ssl.SSLContext] = None,
        server_hostname: Optional[str] = "localhost",
        family: int = socket.AF_INET,
        sockname: Address = None,
        peername: Address = None,
        max_send: Optional[int] = None,
        transcript: Any = None,
    ) -> None:
        self._wire_split: Optional[Callable[[Sequence[bytes]], List[bytes]]] = None
        if chunking is not None or seed is not None:
            wire_chunking = Chunking.of(chunking, seed)
            self._wire_split = wire_chunking.splitter()
            self._header = f"chunking of the tls bytes: {wire_chunking.describe()}"
            if transcript is not None:
                transcript.add_header(self._header)
        FakeStreamSocket.__init__(
            self,
            inbound,
            then=then,
            family=family,
            sockname=sockname,
            peername=peername,
            max_send=max_send,
            transcript=transcript,
        )
        ca = session_ca()
        self._server_in, self._server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._client_in, self._client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._context = server_context or ca.server_context()
        self._tls = self._context.wrap_bio(self._server_in, self._server_out, server_side=True)
        self.client = (client_context or ca.shared_client_context()).wrap_bio(
            self._client_in, self._client_out, server_hostname=server_hostname
        )
        self._wire: Deque[bytes] = deque()  # the client's TLS bytes not yet fed to the server
        self._client_done = False  # the client sent its close_notify (and EOF)
        self._plain = False  # after unwrap(): plaintext both ways
        # TLS keeps order: what the handler read is a prefix of what the client wrote.
        self._client_wrote = bytearray()
        self._handler_read = 0
        self.wire_in: List[bytes] = []
        self.wire_out = bytearray()
        self._handshake()

    # -- moving TLS bytes -------------------------------------------------------------
    def _to_client(self) -> None:
        data = self._server_out.read()
        if data:
            self.wire_out += data
            self._client_in.write(data)

    def _from_client(self) -> None:
        data = self._client_out.read()
        if data:
            pieces = [data] if self._wire_split is None else self._wire_split([data])
            self._wire.extend(piece for piece in pieces if piece)

    def _feed_server(self) -> bool:
        # One chunk of the client's TLS bytes to the server; False when none is left.
        if not self._wire:
            return False
        chunk = self._wire.popleft()
        self.wire_in.append(chunk)
        self._server_in.write(chunk)
        return True

    def _handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                self._to_client()
                try:
                    self.client.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    self._from_client()  # the client's alert reaches the server
                    self._feed_all()
                    raise
                self._from_client()
                if not self._feed_server():
                    raise RuntimeError("in-memory tls handshake stalled") from None
                continue
            break
        self._to_client()
        self.client.do_handshake()
        self._drain_client()
        cipher = self._tls.cipher()
        self._log.append(
            (LOG_EVENT, f"tls handshake done: {self._tls.version()} {cipher and cipher[0]}")
        )

    def _feed_all(self) -> None:
        while self._feed_server():
            pass

    def _client_sends_more(self, size: int, name: str) -> bool:
        # The client encrypts the next plaintext the test sends; False once it has ended.
        # A quiet client, a reset or a script's expectation act here, as in a plain read.
        if self._client_done:
            return False
        plaintext = FakeStreamSocket._read(self, _CLIENT_READ, 0, name)
        if plaintext:
            self._client_wrote += plaintext
            self.client.write(plaintext)
        else:
            self._client_done = True
            with contextlib.suppress(ssl.SSLWantReadError):
                self.client.unwrap()  # sends close_notify
        self._from_client()
        return True

    def _drain_client(self) -> bytes:
        # The client decrypts what has reached it (and session tickets, alerts).
        received = b""
        while True:
            try:
                chunk = self.client.read(_CLIENT_READ)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return received
            if not chunk:
                return received
            received += chunk

    # -- the handler's side -----------------------------------------------------------
    def _read(self, size: int, flags: int, name: str) -> bytes:
        if self._plain:
            return FakeStreamSocket._read(self, size, flags, name)
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to {name}() on {type(self)}")
        while True:
            try:
                data = self._tls.read(size)
            except ssl.SSLWantReadError:
                self._to_client()
                if self._feed_server():
                    continue
                if self._client_sends_more(size, name):
                    continue
                self._server_in.write_eof()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            if data:
                self._idle_reads = 0
                self._handler_read += len(data)
            else:
                self._count_idle_read(name, size, "it read EOF")
            return data

    def _record(self, data: bytes) -> None:
        if self._plain:
            FakeStreamSocket._record(self, data)
            return
        self._tls.write(data)
        self._to_client()
        received = self._drain_client()
        FakeStreamSocket._record(self, received)

    @property
    def unread(self) -> bytes:
        """Plaintext the client sent that the handler has not read (encrypted or not yet)."""
        in_flight = bytes(self._client_wrote[self._handler_read :])
        return in_flight + b"".join(self._chunks)  # the rest, not yet encrypted

    # -- ssl.SSLSocket methods ------------------------------------------------------
    @property
    def context(self) -> ssl.SSLContext:
        """The server-side ``ssl.SSLContext``."""
        return self._context

    server_side = True
    """Always true: the handler's end of the connection."""
    server_hostname = None
    """Always ``None`` on the server side."""

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The client's certificate (``None`` when the server did not ask for one)."""
        return self._tls.getpeercert(binary_form)

    def version(self) -> Optional[str]:
        """The protocol version, such as ``"TLSv1.3"`` (``None`` after ``unwrap()``)."""
        return None if self._plain else self._tls.version()

    def cipher(self) -> Any:
        """``(name, protocol, secret bits)`` of the cipher in use."""
        return None if self._plain else self._tls.cipher()

    def shared_ciphers(self) -> Any:
        """The ciphers both sides offered."""
        return self._tls.shared_ciphers()

    def compression(self) -> Optional[str]:
        """The compression in use: ``None``, as for every modern TLS."""
        return self._tls.compression()

    def selected_alpn_protocol(self) -> Optional[str]:
        """The ALPN protocol the handshake chose, or ``None``."""
        return self._tls.selected_alpn_protocol()

    def pending(self) -> int:
        """Decrypted bytes ready to read without more TLS bytes."""
        return self._tls.pending()

    def do_handshake(self, block: bool = False) -> None:
        """Does nothing: the handshake is done before the handler runs."""

    def unwrap(self) -> FakeTLSSocket:
        """Exchange close_notify with the client; then this same socket speaks plaintext.

        A real ``SSLSocket.unwrap()`` returns the underlying plain socket; here that
        socket is this object, whose reads and writes no longer go through TLS.
        """
        self._check_open()
        try:
            self._tls.unwrap()
        except ssl.SSLWantReadError:
            self._to_client()
            self._drain_client()
            with contextlib.suppress(ssl.SSLWantReadError):
                self.client.unwrap()
            self._from_client()
            self._feed_all()
            self._tls.unwrap()
        self._to_client()
        self._plain = True
        self._log.append((LOG_EVENT, "tls closed by the handler (unwrap): plaintext from now"))
        return self

"""Scripted clients over real sockets, with the verbs of :class:`~netserve_testing.Script`.

Every expectation is checked by the same pure matchers as the in-memory fakes
(:mod:`netserve_testing._script`), so a conversation means the same thing over
both transports. Every wait has a deadline (``timeout``, 5 s unless told), and a
failure raises :class:`~netserve_testing.ExpectationFailed` with the transcript.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import sys
import threading
import time
import weakref
from typing import Any, Optional, Tuple, TypeVar, Union

from ..script._failure import ExpectationFailed
from ..script._report import details_of, script_failure, unmet_details
from ..script._steps import (
    Expect,
    Expectation,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    Matched,
    Mismatch,
)
from ..script._transcript import Transcript
from ._closing import close_gracefully
from ._stream_verbs import StreamProtocolVerbs

__all__ = [
    "DEFAULT_TIMEOUT",
    "DatagramClient",
    "StreamClient",
    "TCPClient",
    "UDPClient",
    "UnixDatagramClient",
    "UnixStreamClient",
    "connect",
]

#: Seconds a client waits for any one thing before failing (``--netserve-timeout``).
DEFAULT_TIMEOUT = 5.0

Address = Union[Tuple[Any, ...], str, bytes, "os.PathLike[str]"]
Pattern = Union[str, bytes, "re.Pattern[Any]"]

_RECV_SIZE = 65536
_C = TypeVar("_C", bound="_Client")


def _family_of(address: Address) -> int:
    if isinstance(address, tuple):
        return socket.AF_INET6 if ":" in str(address[0]) else socket.AF_INET
    if isinstance(address, (str, bytes, os.PathLike)):
        return socket.AF_UNIX
    raise TypeError(f"a client address is a (host, port) tuple or a unix path, not {address!r}")


def _unix_path(address: Address) -> Union[str, bytes]:
    return address if isinstance(address, (str, bytes)) else os.fspath(address)  # type: ignore[arg-type]


# A forked child (a ForkingMixIn server's, say) inherits the test process's client
# sockets. If it kept its copies open, closing a client in the test would never reach
# the server as EOF or a reset. So every os.fork() closes the child's copies. Sockets
# are registered as they are created, before they connect, and forks wait for the
# registry lock, so no fork can copy a client socket the registry does not know yet.
_live_sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
_registry_lock = threading.Lock()


def _client_socket(family: int, kind: int) -> socket.socket:
    with _registry_lock:
        sock = socket.socket(family, kind)
        _live_sockets.add(sock)
    return sock


def _close_inherited_sockets() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()  # The parent's may be held by a thread not copied.
    for sock in list(_live_sockets):
        sock.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=lambda: _registry_lock.acquire(),
        after_in_parent=lambda: _registry_lock.release(),
        after_in_child=_close_inherited_sockets,
    )


class _Client:
    # A connected or addressed socket plus a transcript; the subclasses add the verbs.
    kit_closed_at: Optional[float] = None  # when close_gracefully() ended the connection

    def __init__(self, sock: socket.socket, address: Any, timeout: Optional[float]) -> None:
        self.sock = sock
        self.address = address
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if self.timeout <= 0:
            sock.close()
            raise ValueError(f"client timeout must be > 0 seconds, not {timeout!r}")
        self.transcript = Transcript([f"client of {address!r} (timeout {self.timeout:g} s)"])
        self._closed = False
        self.newline: Optional[str] = None
        """The line ending ``send_line`` sends and line expectations require; None: either."""

    def _fail(self, message: str) -> ExpectationFailed:
        return ExpectationFailed(message, self.transcript)

    def _timed_out(self, what: str) -> ExpectationFailed:
        # The bytes buffered and not consumed are what came nearest (a datagram client has none).
        note = f"timed out after {self.timeout:g} s waiting for {what}"
        self.transcript.event(note)
        step, pending = getattr(self, "_awaiting", None), getattr(self, "_buffer", b"")
        return script_failure(unmet_details(what, step, pending, [note]), self.transcript)

    def _mismatch(
        self, expected: str, received: str, step: Any, pending: bytes
    ) -> ExpectationFailed:
        return script_failure(details_of(expected, received, step, pending), self.transcript)

    def _transmit(self, data: bytes) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no transport to send on")

    def send(self: _C, data: bytes) -> _C:
        """Send ``data``: all of it on a stream, as one datagram on a datagram socket.

        Returns the client, so calls chain.

        Example:
            >>> client.send(b"PING\\r\\n").expect(b"PONG\\r\\n")  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes bytes, not {type(data).__name__}: {data!r}")
        self.transcript.inbound(bytes(data))
        try:
            self._transmit(data)
        except OSError as exc:
            self.transcript.event(f"send failed: {exc!r}")
            raise self._fail(f"send of {bytes(data)!r} failed: {exc}") from exc
        return self

    def send_line(
        self: _C, text: str, newline: Optional[str] = None, encoding: str = "utf-8"
    ) -> _C:
        """Send ``text`` and ``newline`` (default: ``client.newline`` or ``\\n``), encoded.

        On a datagram socket it is one datagram.

        Example:
            >>> client.send_line("HELO x", newline="\\r\\n")  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if not isinstance(text, str):
            raise TypeError(f"send_line() takes str, not {type(text).__name__}: {text!r}")
        ending = newline if newline is not None else self.newline or "\n"
        return self.send((text + ending).encode(encoding))

    def disconnect(self) -> None:
        """Close the socket (both directions). Safe to call twice."""
        if not self._closed:
            self._closed = True
            self.sock.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`disconnect` (or :meth:`reset`) closed the socket."""
        return self._closed

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        close_gracefully(self)  # no reset for the handler to fail on, even after a failure

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} to {self.address!r} ({state})>"


class StreamClient(_Client, StreamProtocolVerbs):
    """A scripted client of a stream server (TCP or Unix stream), over a connected socket.

    Use :class:`TCPClient`, :class:`UnixStreamClient`, :func:`connect`, or a
    server handle's ``connect()``. Bytes the handler sent are buffered; each
    ``expect*`` consumes what it matched. ``close()`` only ends the client's
    sending side (the handler reads EOF, the client can still read);
    ``disconnect()`` closes the socket.

    Args:
        sock: A connected stream socket; the client owns it from now on.
        address: The server address, for messages.
        timeout: Seconds to wait for any one expectation (default 5).

    Example:
        >>> import socket
        >>> a, b = socket.socketpair()
        >>> with StreamClient(a, "pair") as client:
        ...     b.sendall(b"hello\\r\\n")
        ...     client.expect_line("hello")
        'hello'
        >>> b.close()
    """

    _awaiting: Optional[Expectation] = None  # the expectation _await waits for (_timed_out)

    def __init__(self, sock: socket.socket, address: Any, timeout: Optional[float] = None) -> None:
        super().__init__(sock, address, timeout)
        self._buffer = b""
        self._eof = False

    # -- sending --------------------------------------------------------------------------------

    def _transmit(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> StreamClient:
        """Shut down the sending side: the handler reads EOF; the client can still read.

        Example:
            >>> client.send(b"data").close().expect_closed()  # doctest: +SKIP
        """
        self.transcript.event("client sent EOF (shutdown SHUT_WR)")
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self.transcript.event(f"shutdown failed: {exc!r}")
        return self

    def reset(self) -> StreamClient:
        """Abort the connection with a TCP RST (``SO_LINGER`` 0), closing the socket.

        Example:
            >>> client.send(b"half a requ").reset()  # doctest: +SKIP
        """
        self.transcript.event("client reset the connection")
        if not self._closed:
            if self.sock.family != socket.AF_UNIX:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.disconnect()
        return self

    def go_quiet(self) -> StreamClient:
        """Send nothing more without closing: the handler's next read waits (and times out).

        Example:
            >>> client.go_quiet().expect_closed()  # handler has a timeout  # doctest: +SKIP
        """
        self.transcript.event("client goes quiet")
        return self

    # -- receiving ------------------------------------------------------------------------------

    @property
    def buffered(self) -> bytes:
        """Bytes already received from the handler that no expectation or read consumed.

        :meth:`Script.play <netserve_testing.Script.play>` fails when a script
        with expectations ends with bytes here. Bytes still on their way are
        not here: nothing waits for them.

        Example:
            >>> import socket
            >>> a, b = socket.socketpair()
            >>> with StreamClient(a, "pair") as client:
            ...     b.sendall(b"HI THERE")
            ...     client.expect(b"HI")
            ...     client.buffered
            b'HI'
            b' THERE'
            >>> b.close()
        """
        return self._buffer

    def _fill(self, deadline: float, what: str) -> None:
        # Read one chunk into the buffer, or note EOF; raise on the deadline.
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(what)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(_RECV_SIZE)
        except socket.timeout:
            raise self._timed_out(what) from None
        except ConnectionResetError:
            self.transcript.event("connection reset by the server")
            self._eof = True
            return
        except OSError as exc:
            self.transcript.event(f"recv failed: {exc!r}")
            raise self._fail(f"recv failed while waiting for {what}: {exc}") from exc
        if chunk:
            self.transcript.outbound(chunk)
            self._buffer += chunk
        else:
            self.transcript.event("server closed the connection (EOF)")
            self._eof = True

    def _await(self, expectation: Expectation) -> Any:
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if self._closed:
            raise ValueError(f"{expectation.describe()}: the client is closed")
        what = expectation.describe().replace("expect ", "", 1)
        deadline = time.monotonic() + self.timeout
        self._awaiting = expectation  # a timeout's failure names it (_timed_out)
        try:
            while True:
                outcome = expectation.match(self._buffer, self._eof)
                if isinstance(outcome, Matched):
                    self._buffer = self._buffer[outcome.consumed :]
                    return outcome.value
                if isinstance(outcome, Mismatch):
                    expected, received = outcome.expected, outcome.received
                    self.transcript.mismatch(expected, received)
                    raise self._mismatch(expected, received, expectation, self._buffer)
                self._fill(deadline, what)
        finally:
            self._awaiting = None

    def expect(self, data: bytes) -> bytes:
        """Wait for exactly ``data`` next; return it.

        Raises:
            ExpectationFailed: Other bytes, EOF, or the timeout came first.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expect() takes bytes, not {type(data).__name__}: {data!r}")
        return bytes(self._await(Expect(bytes(data))))

    def expect_line(self, text: str, encoding: str = "utf-8", newline: Optional[str] = None) -> str:
        """Wait for the line ``text`` next; return it.

        ``newline`` (default ``client.newline``): the ending required,
        ``"\\r\\n"`` or ``"\\n"``; ``None`` accepts either.

        Raises:
            ExpectationFailed: Another line or ending, EOF, or the timeout came first.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if not isinstance(text, str):
            raise TypeError(f"expect_line() takes str, not {type(text).__name__}: {text!r}")
        return str(self._await(ExpectLine(text, encoding, newline or self.newline)))

    def expect_regex(
        self, pattern: Pattern, flags: int = 0, newline: Optional[str] = None
    ) -> re.Match[bytes]:
        """Wait for the next line and ``re.search`` ``pattern`` in it; return the match.

        Example:
            >>> client.expect_regex(rb"^250 (\\S+)").group(1)  # doctest: +SKIP
            b'ok'
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        found: re.Match[bytes] = self._await(
            ExpectRegex.of(pattern, flags, newline or self.newline)
        )
        return found

    def expect_closed(self) -> None:
        """Wait for the server to close the connection with nothing more sent.

        Raises:
            ExpectationFailed: Bytes arrived, or the timeout came first.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        self._await(ExpectClosed())

    def recv_exactly(self, size: int) -> bytes:
        """Return the next ``size`` bytes the handler sends.

        Raises:
            ExpectationFailed: EOF or the timeout came before ``size`` bytes.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if size < 0:
            raise ValueError(f"recv_exactly() size must be >= 0, not {size}")
        deadline = time.monotonic() + self.timeout
        while len(self._buffer) < size:
            if self._eof:
                self.transcript.mismatch(f"{size} bytes", f"{len(self._buffer)} bytes then EOF")
                received = f"{self._buffer!r} then EOF"
                raise self._mismatch(f"{size} bytes", received, None, self._buffer)
            self._fill(deadline, f"{size} bytes")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def recv_line(self) -> bytes:
        """Return the next line the handler sends, with its ending (like ``readline()``).

        Raises:
            ExpectationFailed: EOF or the timeout came before a full line.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            if self._eof:
                self.transcript.mismatch("a line", f"{self._buffer!r} then EOF")
                raise self._mismatch("a line", f"{self._buffer!r} then EOF", None, self._buffer)
            self._fill(deadline, "a line")
        end = self._buffer.index(b"\n") + 1
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def recv_until_closed(self) -> bytes:
        """Return everything the handler sends until it closes the connection.

        For replies whose length is not known in advance and that have no line ending.

        Raises:
            ExpectationFailed: The timeout came before the handler closed the connection.

        Example:
            >>> client.send_line("hi").close().recv_until_closed()  # doctest: +SKIP
            b'HI'
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        deadline = time.monotonic() + self.timeout
        while not self._eof:
            self._fill(deadline, "the connection to close")
        data, self._buffer = self._buffer, b""
        return data


class TCPClient(StreamClient):
    """A scripted client connected to a TCP server at ``address`` (IPv4 or IPv6).

    Example:
        >>> with TCPClient(server.address) as client:  # doctest: +SKIP
        ...     client.send_line("hi").expect_line("HI")
    """

    def __init__(self, address: Tuple[Any, ...], timeout: Optional[float] = None) -> None:
        sock = _client_socket(_family_of(address), socket.SOCK_STREAM)
        try:
            sock.settimeout(DEFAULT_TIMEOUT if timeout is None else timeout)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, timeout)


class UnixStreamClient(StreamClient):
    """A scripted client connected to a Unix stream server at ``path``.

    Example:
        >>> with UnixStreamClient(server.address) as client:  # doctest: +SKIP
        ...     client.send_line("hi").expect_line("HI")
    """

    def __init__(
        self, path: Union[str, bytes, os.PathLike[str]], timeout: Optional[float] = None
    ) -> None:
        sock = _client_socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(DEFAULT_TIMEOUT if timeout is None else timeout)
            sock.connect(_unix_path(path))
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, path, timeout)


class DatagramClient(_Client):
    """A scripted client of a datagram server (UDP or Unix datagram).

    ``send`` sends one datagram; each ``expect*`` receives the next datagram and
    checks all of it (``expect_line`` accepts a reply with or without a final
    line ending). Use :class:`UDPClient`, :class:`UnixDatagramClient`,
    :func:`connect` or a server handle's ``connect()``.

    Example:
        >>> with UDPClient(server.address) as client:  # doctest: +SKIP
        ...     client.send(b"ping").expect(b"PING")
    """

    def _transmit(self, data: bytes) -> None:
        self.sock.sendto(data, self.address)

    def recv(self) -> bytes:
        """Return the next datagram the server sends.

        Raises:
            ExpectationFailed: No datagram came within the timeout.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        self.sock.settimeout(self.timeout)
        try:
            data, _ = self.sock.recvfrom(_RECV_SIZE)
        except socket.timeout:
            raise self._timed_out("a datagram") from None
        self.transcript.outbound(data)
        return data

    def _await_datagram(self, expectation: Expectation) -> Any:
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        data = self.recv()
        outcome = expectation.match_datagram(data)
        if isinstance(outcome, Matched):
            return outcome.value
        self.transcript.mismatch(outcome.expected, outcome.received, "one datagram")
        expected = f"the datagram {outcome.expected}"
        details = details_of(expected, repr(data), expectation, data, ["one datagram"])
        raise script_failure(details, self.transcript)

    def expect(self, data: bytes) -> bytes:
        """Receive the next datagram and check it is exactly ``data``."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        return bytes(self._await_datagram(Expect(bytes(data))))

    def expect_line(self, text: str, encoding: str = "utf-8", newline: Optional[str] = None) -> str:
        """Receive the next datagram and check it is the line ``text`` (ending optional)."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        return str(self._await_datagram(ExpectLine(text, encoding, newline or self.newline)))

    def expect_regex(
        self, pattern: Pattern, flags: int = 0, newline: Optional[str] = None
    ) -> re.Match[bytes]:
        """Receive the next datagram and ``re.search`` ``pattern`` in it (ending removed)."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        step = ExpectRegex.of(pattern, flags, newline or self.newline)
        found: re.Match[bytes] = self._await_datagram(step)
        return found

    def expect_closed(self) -> None:
        """Not available: a datagram server has no connection to close."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        raise NotImplementedError("expect_closed() on a datagram client: there is no connection")

    def close(self) -> DatagramClient:
        """Close the socket (a datagram client has no sending side to shut down alone)."""
        self.transcript.event("client closed")
        self.disconnect()
        return self

    def reset(self) -> DatagramClient:
        """Not available: a datagram server has no connection to reset."""
        raise NotImplementedError("reset() on a datagram client: there is no connection")

    def go_quiet(self) -> DatagramClient:
        """Send nothing more (the transcript notes it)."""
        self.transcript.event("client goes quiet")
        return self

    def pause(self, seconds: float) -> DatagramClient:
        """Send nothing for ``seconds``; datagrams that come meanwhile wait for ``recv``."""
        self.transcript.event(f"client pauses {seconds:g} s")
        threading.Event().wait(seconds)  # a pause is the user's wait, not a synchronisation
        return self


class UDPClient(DatagramClient):
    """A scripted client of a UDP server at ``address`` (IPv4 or IPv6).

    Example:
        >>> with UDPClient(server.address) as client:  # doctest: +SKIP
        ...     client.send(b"ping").expect(b"PING")
    """

    def __init__(self, address: Tuple[Any, ...], timeout: Optional[float] = None) -> None:
        family = _family_of(address)
        sock = _client_socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, timeout)


class UnixDatagramClient(DatagramClient):
    """A scripted client of a Unix datagram server at ``path``.

    The client binds its own address so the server can reply: an abstract name
    on Linux (no file), else ``bind_path``, which it removes when disconnected.

    Example:
        >>> with UnixDatagramClient(server.address) as client:  # doctest: +SKIP
        ...     client.send(b"ping").expect(b"PING")
    """

    def __init__(
        self,
        path: Union[str, bytes, os.PathLike[str]],
        timeout: Optional[float] = None,
        bind_path: Optional[str] = None,
    ) -> None:
        sock = _client_socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._bound_file: Optional[str] = None
        try:
            if bind_path is not None:
                sock.bind(bind_path)
                self._bound_file = bind_path
            elif sys.platform.startswith("linux"):
                sock.bind("")  # Linux autobind: a unique abstract name, no file to remove
            else:
                raise ValueError("a unix datagram client needs bind_path outside linux")
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, _unix_path(path), timeout)

    def disconnect(self) -> None:
        """Close the socket and remove the file it was bound to, if any."""
        super().disconnect()
        if self._bound_file is not None:
            path, self._bound_file = self._bound_file, None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def connect(
    address: Address, kind: str = "stream", timeout: Optional[float] = None
) -> Union[StreamClient, DatagramClient]:
    """Return a scripted client connected to ``address``.

    Args:
        address: ``(host, port)`` (IPv4 or IPv6) or a Unix socket path.
        kind: ``"stream"`` or ``"datagram"``, or a server kind such as ``"udp-threading"``.
        timeout: Seconds to wait for any one expectation (default 5).

    Example:
        >>> with connect(("127.0.0.1", port)) as client:  # doctest: +SKIP
        ...     client.send_line("hi").expect_line("HI")
    """
    transport = kind.partition("-")[0]
    if transport in ("stream", "tcp", "tcp6", "unix_stream"):
        stream = True
    elif transport in ("datagram", "udp", "udp6", "unix_dgram"):
        stream = False
    else:
        raise ValueError(f"unknown client kind {kind!r}, expected 'stream' or 'datagram'")
    if _family_of(address) == socket.AF_UNIX:
        path = _unix_path(address)
        return UnixStreamClient(path, timeout) if stream else UnixDatagramClient(path, timeout)
    assert isinstance(address, tuple)
    return TCPClient(address, timeout) if stream else UDPClient(address, timeout)

"""Conformance checks: does a stream socket behave like a connected socket?

Each ``check_*`` function takes a pair factory: a callable returning a context
manager that yields ``(sock, peer)``, where ``sock`` is the socket under test
and ``peer`` (a :class:`StreamPeer`) drives its other end. The checks use no
test framework: they raise :class:`AssertionError` with a message. The
project's :class:`~netserve_testing.FakeStreamSocket` passes them, and so do a
real ``socket.socketpair()`` and a real TCP connection on loopback, which is
what makes the fake trustworthy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import select
import shutil
import socket
import struct
import tempfile
from typing import Any, Callable, ContextManager, Iterator, List, Protocol, Sequence, Tuple

from ..memory._stream import FakeStreamSocket

__all__ = [
    "PairFactory",
    "StreamPeer",
    "check_closed_socket",
    "check_eof",
    "check_half_close",
    "check_large_transfer",
    "check_makefile_reads",
    "check_makefile_writes",
    "check_reset",
    "check_send_recv",
    "check_send_timeout",
    "check_socket_options",
    "check_timeouts",
    "fake_stream_pair",
    "socketpair_stream_pair",
    "tcp_stream_pair",
    "unix_stream_pair",
]

# Real-socket peers wait at most this long for bytes that are already on their way.
_PEER_TIMEOUT = 10.0


class StreamPeer(Protocol):
    """The other end of the socket under test, as the checks drive it.

    Example:
        >>> with socketpair_stream_pair() as (sock, peer):
        ...     peer.send(b"hi")
        ...     peer.close()
        ...     sock.recv(1024), sock.recv(1024)
        (b'hi', b'')
    """

    def send(self, data: bytes) -> None:
        """Send all of ``data`` to the socket under test."""

    def recv(self, bufsize: int) -> bytes:
        """Read up to ``bufsize`` bytes the socket sent (they are known to be there)."""

    def close(self) -> None:
        """Shut down the sending side: the socket under test reads EOF."""

    def reset(self) -> None:
        """Abort the connection; return once the socket under test can see it."""

    def stop_reading(self) -> None:
        """Read nothing more, so the socket under test's buffers fill up."""


#: A callable returning a context manager that yields ``(sock, peer)``.
PairFactory = Callable[[], ContextManager[Tuple[Any, StreamPeer]]]


def _wait_hangup(sock: socket.socket) -> None:
    # Until the connection is closed for ``sock`` (POLLHUP: a reset landed, or a Unix
    # peer closed) or an error is pending on it (POLLERR). Both are always reported.
    poller = select.poll()
    poller.register(sock, select.POLLHUP | select.POLLERR)
    poller.poll(_PEER_TIMEOUT * 1000)


class _SocketPeer:
    # A real socket as the peer. reset() closes it with SO_LINGER 0 (an RST on TCP;
    # a Unix socket just closes: only data it never read makes the other end see
    # ECONNRESET), then waits until the socket under test has noticed.
    def __init__(self, sock: socket.socket, other: socket.socket) -> None:
        self._sock = sock
        self._other = other
        sock.settimeout(_PEER_TIMEOUT)

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def recv(self, bufsize: int) -> bytes:
        return self._sock.recv(bufsize)

    def close(self) -> None:
        self._sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        if self._sock.family != socket.AF_UNIX:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._sock.close()
        _wait_hangup(self._other)

    def stop_reading(self) -> None:
        return None

    def settle(self) -> None:
        # After a send that the kernel answers with a reset: wait until it has landed.
        _wait_hangup(self._sock)


@contextlib.contextmanager
def fake_stream_pair(family: int = socket.AF_INET) -> Iterator[Tuple[FakeStreamSocket, Any]]:
    """Yield a :class:`~netserve_testing.FakeStreamSocket` of ``family`` and its peer.

    ``AF_INET``/``AF_INET6`` fakes follow Linux TCP, ``AF_UNIX`` ones Linux Unix
    stream sockets.

    Example:
        >>> check_eof(fake_stream_pair)
        >>> check_eof(lambda: fake_stream_pair(socket.AF_UNIX))
    """
    sock = FakeStreamSocket(family=family)
    with sock:
        yield sock, sock.peer


@contextlib.contextmanager
def socketpair_stream_pair() -> Iterator[Tuple[socket.socket, StreamPeer]]:
    """Yield the two ends of a real ``socket.socketpair()`` (Unix stream sockets).

    Example:
        >>> check_eof(socketpair_stream_pair)
    """
    a, b = socket.socketpair()
    with a, b:
        yield a, _SocketPeer(b, a)


@contextlib.contextmanager
def unix_stream_pair() -> Iterator[Tuple[socket.socket, StreamPeer]]:
    """Yield the two ends of a real Unix stream connection (accepted side first).

    The listening socket's file lives in a private temporary directory, removed
    on exit.

    Example:
        >>> check_eof(unix_stream_pair)
    """
    directory = tempfile.mkdtemp(prefix="netserve-")
    try:
        path = os.path.join(directory, "s")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(1)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(_PEER_TIMEOUT)
                client.connect(path)
                server, _ = listener.accept()
                with server:
                    yield server, _SocketPeer(client, server)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def tcp_stream_pair(host: str = "127.0.0.1") -> Iterator[Tuple[socket.socket, StreamPeer]]:
    """Yield the two ends of a real TCP connection on loopback (server side first).

    Example:
        >>> check_eof(tcp_stream_pair)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname()[:2], timeout=_PEER_TIMEOUT)
        with client:
            server, _ = listener.accept()
            with server:
                yield server, _SocketPeer(client, server)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _raises(expected: Any, call: Callable[[], object], what: str) -> BaseException:
    try:
        result = call()
    except expected as exc:
        return exc  # type: ignore[no-any-return]
    raise AssertionError(f"{what}: expected {expected!r} to be raised, got {result!r}")


def _recv_exactly(recv: Callable[[int], bytes], size: int, what: str) -> bytes:
    data = b""
    while len(data) < size:
        chunk = recv(size - len(data))
        _require(bool(chunk), f"{what}: EOF after {len(data)} of {size} bytes")
        data += chunk
    return data


def _peer_reads_eof(peer: StreamPeer) -> bool:
    try:
        return peer.recv(10) == b""
    except (BlockingIOError, socket.timeout):
        return False


def _recv_until_eof(sock: Any, what: str) -> bytes:
    data = b""
    for _ in range(100_000):
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"{what}: no EOF after {len(data)} bytes")


def _peek_exactly(sock: Any, size: int, what: str) -> bytes:
    # Peek until ``size`` bytes are queued, as code waiting for a whole header does.
    # On a real socket the bytes are already on their way: each peek blocks until some
    # arrive. A peek that never sees past what it saw first would loop forever.
    for _ in range(10_000):
        data = sock.recv(size, socket.MSG_PEEK)
        if len(data) >= size or not data:
            return bytes(data)
    raise AssertionError(f"{what}: MSG_PEEK never saw {size} bytes (it kept returning {data!r})")


def check_send_recv(make_pair: PairFactory) -> None:
    """Bytes go both ways; ``recv(0)`` is ``b""``; ``recv_into`` fills a buffer.

    ``MSG_PEEK`` sees every queued byte up to its size, across the peer's
    sends, and leaves them queued.

    Example:
        >>> check_send_recv(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.type == socket.SOCK_STREAM, f"type is {sock.type!r}, not SOCK_STREAM")
        sock.sendall(b"hello")
        _require(_recv_exactly(peer.recv, 5, "peer") == b"hello", "peer got other bytes")
        _require(sock.send(b"!") == 1, "send() of 1 byte did not return 1")
        _require(_recv_exactly(peer.recv, 1, "peer") == b"!", "peer got other bytes")
        peer.send(b"world")
        _require(sock.recv(0) == b"", "recv(0) did not return b''")
        buffer = bytearray(10)
        count = sock.recv_into(buffer, 3)
        _require(1 <= count <= 3, f"recv_into(buffer, 3) returned {count}")
        rest = _recv_exactly(sock.recv, 5 - count, "socket")
        _require(bytes(buffer[:count]) + rest == b"world", "socket got other bytes")
        _raises(ValueError, lambda: sock.recv(-1), "recv(-1)")
        _raises(TypeError, lambda: sock.send("text"), "send(str)")
        peer.send(b"ab")
        peer.send(b"cd")
        peeked = _peek_exactly(sock, 4, "peek across two sends")
        _require(peeked == b"abcd", f"MSG_PEEK after two sends returned {peeked!r}")
        _require(sock.recv(3, socket.MSG_PEEK) == b"abc", "MSG_PEEK ignored its size")
        _require(_recv_exactly(sock.recv, 4, "socket") == b"abcd", "MSG_PEEK consumed bytes")


def check_eof(make_pair: PairFactory) -> None:
    """After the peer's EOF, reads return the data, then ``b""`` every time; writes still work.

    Example:
        >>> check_eof(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        peer.send(b"last words")
        peer.close()
        _require(_recv_until_eof(sock, "socket") == b"last words", "data before EOF was lost")
        _require(sock.recv(10) == b"", "a second read after EOF did not return b''")
        sock.sendall(b"still open")
        _require(_recv_exactly(peer.recv, 10, "peer") == b"still open", "half-closed write lost")


def check_half_close(make_pair: PairFactory) -> None:
    """``shutdown(SHUT_WR)``: the peer reads EOF, writes fail with EPIPE, reads still work.

    ``shutdown(SHUT_RD)``: bytes already queued are still read, then reads return ``b""``.

    Example:
        >>> check_half_close(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        _require(_recv_exactly(peer.recv, 3, "peer") == b"bye", "data before SHUT_WR lost")
        _require(_peer_reads_eof(peer), "peer did not read EOF after SHUT_WR")
        exc = _raises(BrokenPipeError, lambda: sock.send(b"x"), "send() after SHUT_WR")
        _require(getattr(exc, "errno", None) == errno.EPIPE, f"errno is not EPIPE: {exc!r}")
        peer.send(b"reply")
        _require(_recv_exactly(sock.recv, 5, "socket") == b"reply", "read after SHUT_WR failed")
        peer.send(b"queued")
        _require(_peek_exactly(sock, 6, "socket") == b"queued", "queued bytes not readable")
        sock.shutdown(socket.SHUT_RD)
        got = _recv_exactly(sock.recv, 6, "recv() after SHUT_RD")
        _require(got == b"queued", f"bytes queued before SHUT_RD read as {got!r}")
        _require(sock.recv(10) == b"", "recv() after SHUT_RD did not return b''")
        _raises(OSError, lambda: sock.shutdown(99), "shutdown(99)")


def check_reset(make_pair: PairFactory) -> None:
    """A reset: queued data, then ``ConnectionResetError`` once, then ``b""`` and EPIPE.

    Example:
        >>> check_reset(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        sock.sendall(b"never read")
        peer.send(b"abc")
        peer.reset()
        _require(_recv_exactly(sock.recv, 3, "socket") == b"abc", "data before the reset lost")
        exc = _raises(ConnectionResetError, lambda: sock.recv(10), "recv() after a reset")
        _require(exc.args[0] == errno.ECONNRESET, f"errno is not ECONNRESET: {exc!r}")
        _require(sock.recv(10) == b"", "recv() after the reported reset did not return b''")
        _raises(BrokenPipeError, lambda: sock.send(b"x"), "send() after a reset")
    with make_pair() as (sock, peer):
        sock.sendall(b"never read")
        peer.reset()
        # TCP reports ECONNRESET to the first write; a Unix socket reports EPIPE.
        _raises((ConnectionResetError, BrokenPipeError), lambda: sock.send(b"x"), "first send")
        _raises(BrokenPipeError, lambda: sock.send(b"x"), "second send() after a reset")


def check_timeouts(make_pair: PairFactory) -> None:
    """``settimeout``, ``setblocking`` and ``gettimeout`` agree; a quiet peer times reads out.

    Example:
        >>> check_timeouts(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.gettimeout() is None, "a new socket is not blocking")
        sock.settimeout(0.01)
        _require(sock.gettimeout() == 0.01, f"gettimeout() is {sock.gettimeout()!r}")
        exc = _raises(socket.timeout, lambda: sock.recv(10), "recv() from a quiet peer")
        _require(str(exc) == "timed out", f"timeout message is {str(exc)!r}")
        peer.send(b"late")
        _require(_recv_exactly(sock.recv, 4, "socket") == b"late", "read after a timeout failed")
        sock.setblocking(False)
        _require(sock.gettimeout() == 0.0, "setblocking(False) is not timeout 0.0")
        _require(sock.getblocking() is False, "getblocking() is not False")
        _raises(BlockingIOError, lambda: sock.recv(10), "non-blocking recv() with no data")
        sock.setblocking(True)
        _require(sock.gettimeout() is None, "setblocking(True) is not timeout None")
        _raises(BlockingIOError, lambda: sock.recv(10, socket.MSG_DONTWAIT), "MSG_DONTWAIT")
        _raises(ValueError, lambda: sock.settimeout(-1), "settimeout(-1)")


def check_makefile_reads(make_pair: PairFactory) -> None:
    """``makefile('rb')`` with default, small and no buffering reads lines and the rest.

    Example:
        >>> check_makefile_reads(fake_stream_pair)
    """
    for buffering in (-1, 3, 0):
        with make_pair() as (sock, peer):
            peer.send(b"one\r\ntwo\n")
            peer.send(b"rest")
            peer.close()
            with sock.makefile("rb", buffering) as rfile:
                _require(rfile.readline() == b"one\r\n", f"buffering={buffering}: line 1")
                _require(rfile.readline() == b"two\n", f"buffering={buffering}: line 2")
                _require(rfile.read() == b"rest", f"buffering={buffering}: rest")
                _require(rfile.read() == b"", f"buffering={buffering}: EOF")
    with make_pair() as (sock, peer):
        rfile = sock.makefile("rb")
        sock.close()  # the file keeps the socket open
        sock.getsockname()  # still open: no EBADF
        peer.send(b"kept\n")
        _require(rfile.readline() == b"kept\n", "makefile() did not keep the socket open")
        rfile.close()
        _require(sock.fileno() == -1, "fileno() is not -1 once the last file is closed")
    with make_pair() as (sock, peer):
        sock.settimeout(0.01)
        with sock.makefile("rb") as rfile:
            _raises(socket.timeout, rfile.readline, "readline() from a quiet peer")
            exc = _raises(OSError, rfile.readline, "readline() after a timeout")
            _require("timed out" in str(exc), f"read after a timeout raised {exc!r}")


def check_makefile_writes(make_pair: PairFactory) -> None:
    """``makefile('wb')`` sends on flush; ``makefile('wb', 0)`` sends at once.

    Example:
        >>> check_makefile_writes(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        with sock.makefile("wb") as wfile:
            wfile.write(b"buffered ")
            wfile.write(b"write")
            wfile.flush()
            _require(_recv_exactly(peer.recv, 14, "peer") == b"buffered write", "flush lost data")
        with sock.makefile("wb", 0) as raw:
            count = raw.write(b"raw")
            _require(count == 3, f"unbuffered write() returned {count}")
            _require(_recv_exactly(peer.recv, 3, "peer") == b"raw", "unbuffered write lost")
        with sock.makefile("rwb") as both:
            both.write(b"rw")
            both.flush()
            _require(_recv_exactly(peer.recv, 2, "peer") == b"rw", "rwb write lost")
        _raises(ValueError, lambda: sock.makefile("w", 0), "makefile('w', 0)")


def check_large_transfer(make_pair: PairFactory, total: int = 1 << 20, seed: int = 0) -> None:
    """Move ``total`` bytes each way in random chunks and random read sizes (seeded).

    Example:
        >>> check_large_transfer(fake_stream_pair, total=10_000)
    """
    rng = random.Random(seed)
    with make_pair() as (sock, peer):
        moved = 0
        while moved < total:
            size = min(total - moved, rng.choice((1, 7, 100, 1500, 8192, 16384)))
            inbound = rng.randbytes(size)
            peer.send(inbound)
            got = b""
            while len(got) < size:
                chunk = sock.recv(rng.randint(1, 20000))
                _require(bool(chunk), f"seed={seed}: EOF after {moved + len(got)} bytes")
                got += chunk
            _require(got == inbound, f"seed={seed}: inbound bytes differ at offset {moved}")
            outbound = inbound[::-1]
            sock.sendall(outbound)
            echoed = _recv_exactly(peer.recv, size, f"seed={seed}: peer")
            _require(echoed == outbound, f"seed={seed}: outbound bytes differ at offset {moved}")
            moved += size


def check_send_timeout(make_pair: PairFactory) -> None:
    """A peer that stops reading makes ``sendall()`` time out once the buffers are full.

    Example:
        >>> check_send_timeout(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        peer.stop_reading()
        sock.settimeout(0.05)
        block = b"x" * 65536
        for _ in range(2000):
            try:
                sock.sendall(block)
            except socket.timeout:
                return
        raise AssertionError("sendall() never timed out although the peer stopped reading")


def check_closed_socket(make_pair: PairFactory) -> None:
    """After ``close()``: ``fileno()`` is -1 and operations raise ``OSError(EBADF)``.

    What CPython answers without the descriptor still answers: ``gettimeout()``,
    ``getblocking()`` and ``recv(0)``.

    Example:
        >>> check_closed_socket(fake_stream_pair)
    """
    with make_pair() as (sock, _peer):
        sock.close()
        sock.close()  # closing twice is allowed
        _require(sock.fileno() == -1, f"fileno() after close() is {sock.fileno()}")
        calls: List[Tuple[str, Callable[[], object]]] = [
            ("recv", lambda: sock.recv(1)),
            ("send", lambda: sock.send(b"x")),
            ("sendall", lambda: sock.sendall(b"x")),
            ("shutdown", lambda: sock.shutdown(socket.SHUT_RDWR)),
            ("getpeername", sock.getpeername),
            ("getsockname", sock.getsockname),
            ("settimeout", lambda: sock.settimeout(1)),
            ("setsockopt", lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)),
        ]
        for name, call in calls:
            exc = _raises(OSError, call, f"{name}() after close()")
            _require(getattr(exc, "errno", None) == errno.EBADF, f"{name}(): {exc!r}, not EBADF")
        sock.gettimeout()  # still answers after close()
        _require(sock.getblocking() is True, "getblocking() after close() is not True")
    with make_pair() as (sock, _peer):
        sock.setblocking(False)
        sock.close()
        _require(sock.getblocking() is False, "getblocking() after close() forgot non-blocking")
        _require(sock.recv(0) == b"", "recv(0) after close() is not b''")


def check_socket_options(make_pair: PairFactory) -> None:
    """Options read back as set; ``SO_TYPE`` is ``SOCK_STREAM``; ``SO_LINGER`` as bytes.

    Example:
        >>> check_socket_options(fake_stream_pair)
    """
    with make_pair() as (sock, _peer):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        keepalive = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        _require(keepalive == 1, f"SO_KEEPALIVE reads {keepalive!r}")
        kind = sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        _require(kind == socket.SOCK_STREAM, f"SO_TYPE reads {kind!r}")
        linger = struct.pack("ii", 1, 5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
        _require(got == linger, f"SO_LINGER reads {got!r}")
        _require(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0, "SO_ERROR is not 0")
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            _require(nodelay == 1, f"TCP_NODELAY reads {nodelay!r}")


def _run_checks(checks: Sequence[Callable[[Any], None]], make_pair: Any) -> None:
    # Runs each check in turn; the first failure is re-raised with the check's name.
    for check in checks:
        try:
            check(make_pair)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__}: {exc}") from exc

"""Conformance checks at the kernel's edges: flags, resets, closes with unread data, shutdown.

Linux TCP and Linux Unix stream sockets differ here, so each check reads the
family of the socket under test and asserts what that family does: a fake of
``AF_INET``/``AF_INET6`` must behave as TCP, a fake of ``AF_UNIX`` as a Unix
stream socket. The checks take the same pair factories as the other stream checks.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Callable, Tuple

from ._stream import (
    _PEER_TIMEOUT,
    PairFactory,
    StreamPeer,
    _peek_exactly,
    _peer_reads_eof,
    _raises,
    _recv_exactly,
    _require,
    fake_stream_pair,  # noqa: F401 - the examples use it
)

__all__ = [
    "check_close_with_unread_data",
    "check_data_after_shutdown",
    "check_dontwait_with_timeout",
    "check_names_after_reset",
    "check_peer_send_after_close",
    "check_reset_after_eof",
    "check_reset_after_shutdown_read",
    "check_send_after_reset",
    "check_settimeout_values",
    "check_so_error_after_reset",
    "check_waitall",
]


def _is_tcp(sock: Any) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _settle(peer: StreamPeer) -> None:
    # A real peer waits until the reset its last send provoked has landed; a fake one
    # has nothing to wait for.
    settle: Callable[[], None] = getattr(peer, "settle", lambda: None)
    settle()


def _errno_of(expected: Any, call: Callable[[], object], what: str, code: int) -> None:
    exc = _raises(expected, call, what)
    _require(getattr(exc, "errno", None) == code, f"{what}: {exc!r}, not errno {code}")


def check_dontwait_with_timeout(make_pair: PairFactory) -> None:
    """``recv(n, MSG_DONTWAIT)`` waits out a timeout (``socket.timeout``); blocking: EAGAIN.

    CPython waits for a socket with a timeout to be readable before it calls
    ``recv``, flag or not; only a socket without a timeout turns the flag into
    ``BlockingIOError``.

    Example:
        >>> check_dontwait_with_timeout(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        sock.settimeout(0.01)
        _raises(socket.timeout, lambda: sock.recv(1, socket.MSG_DONTWAIT), "MSG_DONTWAIT")
        peer.send(b"x")
        sock.settimeout(_PEER_TIMEOUT)
        got = sock.recv(1, socket.MSG_DONTWAIT)
        _require(got == b"x", f"MSG_DONTWAIT with a byte queued returned {got!r}")
        sock.settimeout(None)
        _raises(BlockingIOError, lambda: sock.recv(1, socket.MSG_DONTWAIT), "blocking")


def check_waitall(make_pair: PairFactory) -> None:
    """``MSG_WAITALL`` reads all it asks for, short only at EOF or with a timeout set.

    With a timeout CPython reads a non-blocking socket, so a short read returns
    what is queued. Without one it waits for the rest (a fake raises
    :class:`~netserve_testing.HandlerWouldBlock` when nothing more can come).

    Example:
        >>> check_waitall(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        peer.send(b"a")
        sock.settimeout(_PEER_TIMEOUT)
        got = sock.recv(2, socket.MSG_WAITALL)
        _require(got == b"a", f"MSG_WAITALL with a timeout and 1 of 2 bytes returned {got!r}")
        sock.settimeout(None)
        peer.send(b"bc")
        got = sock.recv(2, socket.MSG_WAITALL)
        _require(got == b"bc", f"MSG_WAITALL with 2 bytes queued returned {got!r}")
        peer.send(b"d")
        peer.close()
        got = sock.recv(3, socket.MSG_WAITALL)
        _require(got == b"d", f"MSG_WAITALL at EOF returned {got!r}, not the short b'd'")


def check_send_after_reset(make_pair: PairFactory) -> None:
    """After a reset: TCP writes raise ``ECONNRESET`` at once, then ``EPIPE``; Unix ``EPIPE``.

    On TCP the first write fails even while data sent before the reset is still
    queued for reading; the reads still get that data.

    Example:
        >>> check_send_after_reset(fake_stream_pair)
    """
    for queued in (b"", b"abc"):
        with make_pair() as (sock, peer):
            if queued:
                peer.send(queued)
            peer.reset()
            first = ConnectionResetError if _is_tcp(sock) else BrokenPipeError
            _raises(first, lambda: sock.send(b"x"), f"first send() after a reset ({queued!r})")
            _raises(BrokenPipeError, lambda: sock.send(b"x"), "second send() after a reset")
            got = _recv_exactly(sock.recv, len(queued), "socket") if queued else b""
            _require(got == queued, f"data queued before the reset read as {got!r}")
            _require(sock.recv(10) == b"", "recv() after the reported reset is not b''")


def check_reset_after_shutdown_read(make_pair: PairFactory) -> None:
    """``shutdown(SHUT_RD)``, then a reset: the next ``recv()`` raises ``ECONNRESET``.

    The socket sent data first, so a Unix peer closing unread resets it too.

    Example:
        >>> check_reset_after_shutdown_read(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        sock.sendall(b"unread")
        sock.shutdown(socket.SHUT_RD)
        peer.reset()
        _errno_of(ConnectionResetError, lambda: sock.recv(1), "recv()", errno.ECONNRESET)
        _require(sock.recv(1) == b"", "recv() after the reported reset is not b''")


def check_reset_after_eof(make_pair: PairFactory) -> None:
    """The peer sends EOF, then resets: writes raise ``EPIPE`` (not ``ECONNRESET``), reads EOF.

    Example:
        >>> check_reset_after_eof(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        peer.close()
        _require(sock.recv(10) == b"", "recv() after the peer's EOF is not b''")
        peer.reset()
        _errno_of(BrokenPipeError, lambda: sock.send(b"x"), "send()", errno.EPIPE)
        _errno_of(BrokenPipeError, lambda: sock.send(b"x"), "second send()", errno.EPIPE)
        _require(sock.recv(10) == b"", "recv() after EOF and a reset is not b''")


def check_so_error_after_reset(make_pair: PairFactory) -> None:
    """``getsockopt(SO_ERROR)`` after a reset is ``ECONNRESET`` once, then 0; it clears it.

    The socket sent data first, so a Unix peer closing unread resets it too.

    Example:
        >>> check_so_error_after_reset(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        sock.sendall(b"unread")
        peer.reset()
        first = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        _require(first == errno.ECONNRESET, f"SO_ERROR after a reset is {first}, not 104")
        again = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        _require(again == 0, f"SO_ERROR read twice is {again}, not 0")
        _require(sock.recv(10) == b"", "recv() after SO_ERROR took the reset is not b''")
        _raises(BrokenPipeError, lambda: sock.send(b"x"), "send() after a reset")


def check_close_with_unread_data(make_pair: PairFactory) -> None:
    """Closing with unread inbound data resets: the peer reads the reply, then ``ECONNRESET``.

    When the socket shut down writing first (as ``TCPServer.shutdown_request()``
    does), a TCP peer reads EOF instead and its next send fails with ``EPIPE``;
    a Unix peer still reads ``ECONNRESET``.

    Example:
        >>> check_close_with_unread_data(fake_stream_pair)
    """
    for shut_first in (False, True):
        with make_pair() as (sock, peer):
            peer.send(b"request")
            _peek_exactly(sock, 7, "request")
            sock.sendall(b"reply")
            if shut_first:
                sock.shutdown(socket.SHUT_WR)
            sock.close()
            _settle(peer)
            got = _recv_exactly(peer.recv, 5, "peer")
            _require(got == b"reply", f"the peer read {got!r} before the reset")
            if shut_first and _is_tcp(sock):
                _require(peer.recv(10) == b"", "after SHUT_WR and close, TCP peer read no EOF")
                _raises(BrokenPipeError, lambda: peer.send(b"x"), "peer send() after the reset")
                continue
            what = f"peer recv() after the reply (shutdown first: {shut_first})"
            _errno_of(ConnectionResetError, lambda: peer.recv(10), what, errno.ECONNRESET)
            _require(peer.recv(10) == b"", "peer recv() after the reported reset is not b''")


def check_peer_send_after_close(make_pair: PairFactory) -> None:
    """Sends to a closed socket fail: TCP drops one and answers with a reset; Unix ``EPIPE``.

    A clean close (nothing unread): a TCP peer's first send succeeds and the
    next raises ``EPIPE``. A close with unread data: a TCP peer's send raises
    ``ECONNRESET``, then ``EPIPE``; a Unix peer's sends raise ``EPIPE`` and its
    read after them ``ECONNRESET``.

    Example:
        >>> check_peer_send_after_close(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        tcp = _is_tcp(sock)
        sock.close()
        if tcp:
            peer.send(b"x")
            _settle(peer)
        _raises(BrokenPipeError, lambda: peer.send(b"y"), "peer send() to a closed socket")
        _require(peer.recv(10) == b"", "peer recv() after the socket closed is not b''")
    with make_pair() as (sock, peer):
        tcp = _is_tcp(sock)
        peer.send(b"unread")
        _peek_exactly(sock, 6, "unread")
        sock.close()
        _settle(peer)
        first: Tuple[type, ...] = (ConnectionResetError,) if tcp else (BrokenPipeError,)
        _raises(first, lambda: peer.send(b"y"), "peer send() after a reset-close")
        _raises(BrokenPipeError, lambda: peer.send(b"y"), "second peer send()")
        if not tcp:
            _raises(ConnectionResetError, lambda: peer.recv(10), "Unix peer recv()")
        _require(peer.recv(10) == b"", "peer recv() after the reset is not b''")


def check_data_after_shutdown(make_pair: PairFactory) -> None:
    """Data arriving after ``SHUT_RDWR``: TCP resets both ends; Unix refuses it (``EPIPE``).

    After ``SHUT_RD`` alone a TCP socket still reads what arrives; a Unix peer's
    send fails with ``EPIPE``.

    Example:
        >>> check_data_after_shutdown(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        tcp = _is_tcp(sock)
        sock.shutdown(socket.SHUT_RDWR)
        _require(_peer_reads_eof(peer), "peer did not read EOF after SHUT_RDWR")
        if tcp:
            peer.send(b"late")
            _settle(peer)
            _raises(BrokenPipeError, lambda: peer.send(b"x"), "peer send() after the reset")
            _raises(ConnectionResetError, lambda: sock.recv(10), "recv() after the reset")
        else:
            _raises(BrokenPipeError, lambda: peer.send(b"late"), "Unix peer send()")
            _require(sock.recv(10) == b"", "recv() after SHUT_RDWR is not b''")
        _raises(BrokenPipeError, lambda: sock.send(b"x"), "send() after SHUT_RDWR")
    with make_pair() as (sock, peer):
        tcp = _is_tcp(sock)
        sock.shutdown(socket.SHUT_RD)
        if tcp:
            peer.send(b"late")
            got = _recv_exactly(sock.recv, 4, "TCP recv() after SHUT_RD")
            _require(got == b"late", f"TCP read {got!r} after SHUT_RD")
        else:
            _raises(BrokenPipeError, lambda: peer.send(b"late"), "Unix peer send() after SHUT_RD")
        _require(sock.recv(10) == b"", "recv() after SHUT_RD with nothing queued is not b''")
        sock.sendall(b"still")
        _require(_recv_exactly(peer.recv, 5, "peer") == b"still", "send() after SHUT_RD lost")


def check_names_after_reset(make_pair: PairFactory) -> None:
    """After a reset, TCP ``getpeername()``/``shutdown()`` raise ``ENOTCONN``; Unix work on.

    Example:
        >>> check_names_after_reset(fake_stream_pair)
    """
    with make_pair() as (sock, peer):
        peer.reset()
        if _is_tcp(sock):
            _errno_of(OSError, sock.getpeername, "getpeername()", errno.ENOTCONN)
            shut = lambda: sock.shutdown(socket.SHUT_WR)  # noqa: E731
            _errno_of(OSError, shut, "shutdown()", errno.ENOTCONN)
            _raises(ConnectionResetError, lambda: sock.recv(1), "recv() after a reset")
        else:
            sock.getpeername()
            sock.shutdown(socket.SHUT_WR)
            _require(sock.recv(1) == b"", "Unix recv() after the peer closed is not b''")


def check_settimeout_values(make_pair: PairFactory) -> None:
    """``settimeout`` takes what CPython takes: ``True`` is 1 s; NaN and infinity fail.

    Example:
        >>> check_settimeout_values(fake_stream_pair)
    """
    with make_pair() as (sock, _peer):
        for value, expected in ((True, 1.0), (False, 0.0), (2, 2.0), (0.5, 0.5)):
            sock.settimeout(value)
            got = sock.gettimeout()
            _require(got == expected, f"settimeout({value!r}) gave {got!r}, not {expected!r}")
        _raises(TypeError, lambda: sock.settimeout("1"), "settimeout('1')")
        _raises(ValueError, lambda: sock.settimeout(float("nan")), "settimeout(nan)")
        _raises(OverflowError, lambda: sock.settimeout(float("inf")), "settimeout(inf)")


#: The edge checks, in the order :func:`~netserve_testing.check_stream_socket` runs them.
EDGE_CHECKS: Tuple[Callable[[PairFactory], None], ...] = (
    check_dontwait_with_timeout,
    check_waitall,
    check_send_after_reset,
    check_reset_after_shutdown_read,
    check_reset_after_eof,
    check_so_error_after_reset,
    check_close_with_unread_data,
    check_peer_send_after_close,
    check_data_after_shutdown,
    check_names_after_reset,
    check_settimeout_values,
)

"""Conformance checks: does a datagram socket behave like an unconnected UDP or Unix one?

The datagram counterpart of the stream checks. Each ``check_datagram_*``
function takes a pair factory: a callable returning a context manager that
yields ``(sock, peer)``, where ``sock`` is the unconnected socket under test
(what a datagram handler gets in ``self.request[1]``) and ``peer`` (a
:class:`DatagramPeer`) is a client exchanging datagrams with it. The checks
use no test framework: they raise :class:`AssertionError` with a message.
:class:`~netserve_testing.FakeDatagramSocket` passes them, and so do a real
UDP socket pair and a real Unix datagram pair on this machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import tempfile
from typing import Any, Callable, ContextManager, Iterator, List, Protocol, Tuple

from ..memory._datagram import FakeDatagramSocket
from ..memory._socket_base import Address
from ._stream import _raises, _require, _run_checks

__all__ = [
    "DatagramPairFactory",
    "DatagramPeer",
    "check_datagram_addresses",
    "check_datagram_closed_socket",
    "check_datagram_dontwait_with_timeout",
    "check_datagram_send_recv",
    "check_datagram_socket",
    "check_datagram_timeouts",
    "check_datagram_truncation",
    "fake_datagram_pair",
    "udp_datagram_pair",
    "unix_datagram_pair",
]

# Real peers wait at most this long for a datagram that is already on its way.
_PEER_TIMEOUT = 10.0


class DatagramPeer(Protocol):
    """A client of the socket under test, as the checks drive it.

    Example:
        >>> with fake_datagram_pair() as (sock, peer):
        ...     peer.send(b"ping")
        ...     data, address = sock.recvfrom(1024)
        ...     _ = sock.sendto(data.upper(), address)
        ...     address == peer.address, peer.recv()
        (True, b'PING')
    """

    @property
    def address(self) -> Address:
        """The peer's address, as the socket under test reports it in ``recvfrom()``."""

    @property
    def target(self) -> Address:
        """Where the peer sends: the socket under test's ``getsockname()``."""

    def send(self, data: bytes) -> None:
        """Send ``data`` as one datagram; return once the socket under test can read it."""

    def recv(self) -> bytes:
        """Return the next datagram the socket under test sent to the peer (it is there)."""


#: A callable returning a context manager that yields ``(sock, peer)``.
DatagramPairFactory = Callable[[], ContextManager[Tuple[Any, DatagramPeer]]]


class _FakePeer:
    # Delivers straight into the fake's queue and reads back what it sent to this
    # address, in order.
    def __init__(self, sock: FakeDatagramSocket, address: Address) -> None:
        self._sock = sock
        self._read = 0
        self.address = address
        self.target = sock.getsockname()

    def send(self, data: bytes) -> None:
        self._sock.deliver(data, self.address)

    def recv(self) -> bytes:
        sent = self._sock.sent
        while self._read < len(sent):
            data, address = sent[self._read]
            self._read += 1
            if address == self.address:
                return data
        raise AssertionError(f"no datagram was sent to {self.address!r}")


class _SocketPeer:
    # A real socket as the peer. Local datagrams are queued on the receiving socket
    # before sendto() returns (Linux loopback and Unix sockets), so send() needs no wait.
    def __init__(self, sock: socket.socket, target: Address) -> None:
        sock.settimeout(_PEER_TIMEOUT)
        self._sock = sock
        self.address = sock.getsockname()
        self.target = target

    def send(self, data: bytes) -> None:
        self._sock.sendto(data, self.target)

    def recv(self) -> bytes:
        data, _ = self._sock.recvfrom(65536)
        return data


_FAKE_CLIENTS = {
    int(socket.AF_INET): ("127.0.0.1", 50000),
    int(socket.AF_INET6): ("::1", 50000, 0, 0),
    int(getattr(socket, "AF_UNIX", -1)): "/tmp/netserve-fake-client.sock",
}


@contextlib.contextmanager
def fake_datagram_pair(
    family: int = socket.AF_INET,
) -> Iterator[Tuple[FakeDatagramSocket, Any]]:
    """Yield a :class:`~netserve_testing.FakeDatagramSocket` and a client of it.

    Args:
        family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.

    Example:
        >>> check_datagram_truncation(fake_datagram_pair)
    """
    with FakeDatagramSocket(family=family) as sock:
        yield sock, _FakePeer(sock, _FAKE_CLIENTS[int(family)])


@contextlib.contextmanager
def udp_datagram_pair(host: str = "127.0.0.1") -> Iterator[Tuple[socket.socket, DatagramPeer]]:
    """Yield a bound UDP socket on loopback and a client bound beside it.

    Example:
        >>> check_datagram_truncation(udp_datagram_pair)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        with socket.socket(family, socket.SOCK_DGRAM) as client:
            client.bind((host, 0))
            yield sock, _SocketPeer(client, sock.getsockname())


@contextlib.contextmanager
def unix_datagram_pair() -> Iterator[Tuple[socket.socket, DatagramPeer]]:
    """Yield a Unix datagram socket and a client, both bound in a private directory.

    The directory and both socket files are removed afterwards.

    Example:
        >>> check_datagram_truncation(unix_datagram_pair)
    """
    directory = tempfile.mkdtemp(prefix="ns-")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(os.path.join(directory, "server"))
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
                client.bind(os.path.join(directory, "client"))
                yield sock, _SocketPeer(client, sock.getsockname())
    finally:
        shutil.rmtree(directory)


def check_datagram_send_recv(make_pair: DatagramPairFactory) -> None:
    """Datagrams go both ways whole; boundaries are kept; an empty datagram is one too.

    Example:
        >>> check_datagram_send_recv(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.type == socket.SOCK_DGRAM, f"type is {sock.type!r}, not SOCK_DGRAM")
        peer.send(b"hello")
        got = sock.recvfrom(100)
        _require(got == (b"hello", peer.address), f"recvfrom(100) returned {got!r}")
        count = sock.sendto(b"reply", peer.address)
        _require(count == 5, f"sendto() of 5 bytes returned {count!r}")
        _require(peer.recv() == b"reply", "the peer did not get the reply")
        peer.send(b"one")
        peer.send(b"two")
        _require(sock.recv(100) == b"one", "two datagrams were not kept apart")
        _require(sock.recv(100) == b"two", "the second datagram was lost")
        peer.send(b"")
        got = sock.recvfrom(100)
        _require(got == (b"", peer.address), f"an empty datagram read as {got!r}")
        peer.send(b"into")
        buffer = bytearray(10)
        got_into = sock.recvfrom_into(buffer)
        _require(got_into == (4, peer.address), f"recvfrom_into() returned {got_into!r}")
        _require(bytes(buffer[:4]) == b"into", f"recvfrom_into() wrote {bytes(buffer)!r}")
        _raises(TypeError, lambda: sock.sendto("text", peer.address), "sendto(str)")


def check_datagram_truncation(make_pair: DatagramPairFactory) -> None:
    """A read shorter than the datagram truncates it and drops the rest; ``MSG_TRUNC``.

    With ``MSG_TRUNC`` (Linux), ``recvfrom_into``/``recv_into`` return the
    datagram's real length and write only what fits; ``recvfrom`` returns
    bytes of the real length whose first part is the data. ``MSG_PEEK``
    leaves the whole datagram queued. ``recv(0)`` and ``recv_into()`` of an
    empty buffer read nothing (CPython answers them at once); ``recvfrom(0)``
    receives the datagram, truncated to nothing.

    Example:
        >>> check_datagram_truncation(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        peer.send(b"0123456789")
        peer.send(b"next")
        got = sock.recvfrom(4)
        _require(got == (b"0123", peer.address), f"recvfrom(4) returned {got!r}")
        got = sock.recvfrom(100)
        _require(got == (b"next", peer.address), f"the truncated rest was not dropped: {got!r}")
        peer.send(b"peekaboo")
        _require(sock.recv(4, socket.MSG_PEEK) == b"peek", "MSG_PEEK did not truncate")
        _require(sock.recv(100) == b"peekaboo", "MSG_PEEK consumed the datagram")
        peer.send(b"kept")
        peer.send(b"gone")
        peer.send(b"last")
        _require(sock.recv(0) == b"", "recv(0) did not return b''")
        _require(sock.recv_into(bytearray(0)) == 0, "recv_into(empty buffer) did not return 0")
        got = sock.recvfrom(100)
        _require(got == (b"kept", peer.address), f"recv(0) consumed the datagram: {got!r}")
        got = sock.recvfrom(0)
        _require(got == (b"", peer.address), f"recvfrom(0) returned {got!r}")
        _require(sock.recv(100) == b"last", "recvfrom(0) did not receive the datagram")
        if not hasattr(socket, "MSG_TRUNC"):
            return
        peer.send(b"0123456789")
        data, address = sock.recvfrom(4, socket.MSG_TRUNC)
        _require(address == peer.address, f"MSG_TRUNC: address {address!r}")
        _require(
            len(data) == 10 and data[:4] == b"0123",
            f"recvfrom(4, MSG_TRUNC) returned {data!r}, not 10 bytes starting b'0123'",
        )
        peer.send(b"0123456789")
        buffer = bytearray(b"#" * 8)
        got_into = sock.recvfrom_into(buffer, 4, socket.MSG_TRUNC)
        _require(got_into == (10, peer.address), f"recvfrom_into MSG_TRUNC: {got_into!r}")
        _require(buffer == b"0123####", f"recvfrom_into(buffer, 4) wrote {bytes(buffer)!r}")
        peer.send(b"abcdef")
        count = sock.recv_into(buffer, 2, socket.MSG_TRUNC)
        _require(count == 6, f"recv_into(buffer, 2, MSG_TRUNC) returned {count}, not 6")
        _require(buffer == b"ab23####", f"recv_into(buffer, 2) wrote {bytes(buffer)!r}")


def check_datagram_addresses(make_pair: DatagramPairFactory) -> None:
    """Senders are reported; ``getsockname()`` is where peers send; no peer, no ``send()``.

    Example:
        >>> check_datagram_addresses(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.getsockname() == peer.target, f"getsockname() is {sock.getsockname()!r}")
        peer.send(b"who")
        _, address = sock.recvfrom(10)
        _require(address == peer.address, f"recvfrom() reported {address!r}")
        exc = _raises(OSError, sock.getpeername, "getpeername() on an unconnected socket")
        _require(exc.args[0] == errno.ENOTCONN, f"getpeername(): {exc!r}, not ENOTCONN")
        # With no destination, Linux says EDESTADDRREQ for UDP and ENOTCONN for Unix.
        unix = sock.family == getattr(socket, "AF_UNIX", None)
        wanted = errno.ENOTCONN if unix else errno.EDESTADDRREQ
        exc = _raises(OSError, lambda: sock.send(b"x"), "send() on an unconnected socket")
        _require(exc.args[0] == wanted, f"send(): {exc!r}, not {errno.errorcode[wanted]}")
        kind = sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        _require(kind == socket.SOCK_DGRAM, f"SO_TYPE reads {kind!r}")


def check_datagram_timeouts(make_pair: DatagramPairFactory) -> None:
    """A timeout expires on an empty queue; non-blocking reads raise ``BlockingIOError``.

    Example:
        >>> check_datagram_timeouts(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        _require(sock.gettimeout() is None, "a new socket is not blocking")
        sock.settimeout(0.01)
        exc = _raises(socket.timeout, lambda: sock.recvfrom(10), "recvfrom() with nothing sent")
        _require(str(exc) == "timed out", f"timeout message is {str(exc)!r}")
        peer.send(b"late")
        _require(sock.recvfrom(10)[0] == b"late", "read after a timeout failed")
        sock.setblocking(False)
        exc = _raises(BlockingIOError, lambda: sock.recvfrom(10), "non-blocking recvfrom()")
        _require(exc.args[0] == errno.EAGAIN, f"non-blocking recvfrom(): {exc!r}, not EAGAIN")
        sock.setblocking(True)
        _raises(BlockingIOError, lambda: sock.recv(10, socket.MSG_DONTWAIT), "MSG_DONTWAIT")


def check_datagram_dontwait_with_timeout(make_pair: DatagramPairFactory) -> None:
    """With a timeout set, ``recv(n, MSG_DONTWAIT)`` waits the timeout: ``socket.timeout``.

    CPython waits for the socket to be readable before it calls ``recv``, flag or
    not; only a blocking socket (no timeout) turns ``MSG_DONTWAIT`` into
    ``BlockingIOError``.

    Example:
        >>> check_datagram_dontwait_with_timeout(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        sock.settimeout(0.01)
        _raises(socket.timeout, lambda: sock.recv(10, socket.MSG_DONTWAIT), "MSG_DONTWAIT")
        peer.send(b"now")
        got = sock.recv(10, socket.MSG_DONTWAIT)
        _require(got == b"now", f"MSG_DONTWAIT with a datagram queued returned {got!r}")


def check_datagram_closed_socket(make_pair: DatagramPairFactory) -> None:
    """After ``close()``: ``fileno()`` is -1 and operations raise ``OSError(EBADF)``.

    Example:
        >>> check_datagram_closed_socket(fake_datagram_pair)
    """
    with make_pair() as (sock, peer):
        sock.close()
        sock.close()  # closing twice is allowed
        _require(sock.fileno() == -1, f"fileno() after close() is {sock.fileno()}")
        calls: List[Tuple[str, Callable[[], object]]] = [
            ("recvfrom", lambda: sock.recvfrom(1)),
            ("recv", lambda: sock.recv(1)),
            ("recvfrom_into", lambda: sock.recvfrom_into(bytearray(1))),
            ("sendto", lambda: sock.sendto(b"x", peer.address)),
            ("getsockname", sock.getsockname),
            ("settimeout", lambda: sock.settimeout(1)),
            ("setsockopt", lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)),
        ]
        for name, call in calls:
            exc = _raises(OSError, call, f"{name}() after close()")
            _require(getattr(exc, "errno", None) == errno.EBADF, f"{name}(): {exc!r}, not EBADF")


#: Every datagram check, in the order :func:`check_datagram_socket` runs them.
ALL_DATAGRAM_CHECKS: Tuple[Callable[[DatagramPairFactory], None], ...] = (
    check_datagram_send_recv,
    check_datagram_truncation,
    check_datagram_addresses,
    check_datagram_timeouts,
    check_datagram_dontwait_with_timeout,
    check_datagram_closed_socket,
)


def check_datagram_socket(make_pair: DatagramPairFactory) -> None:
    """Run every datagram conformance check against pairs from ``make_pair``.

    Args:
        make_pair: A callable returning a context manager that yields
            ``(sock, peer)``: see :func:`fake_datagram_pair`.

    Raises:
        AssertionError: The first check that failed, named in the message.

    Example:
        >>> check_datagram_socket(fake_datagram_pair)
        >>> check_datagram_socket(udp_datagram_pair)
        >>> check_datagram_socket(unix_datagram_pair)
    """
    _run_checks(ALL_DATAGRAM_CHECKS, make_pair)

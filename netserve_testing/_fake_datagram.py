"""An in-memory datagram socket: what a UDP or Unix datagram handler gets in ``self.request``."""

from __future__ import annotations

import errno
import os
import socket
from collections import deque
from typing import Any, Deque, Iterable, List, Optional, Tuple

from ._fakes import _as_bytes
from ._socket_base import (
    LOG_EVENT,
    LOG_IN,
    LOG_OUT,
    MSG_DONTWAIT,
    MSG_PEEK,
    Address,
    FakeSocketBase,
    default_address,
    os_error,
)
from ._transcript import Transcript

__all__ = ["FakeDatagramSocket"]

# The largest UDP payload: 65535 minus the IPv4 (20) or the UDP (8) header; IPv6 has
# no header in the length field.
_UDP_MAX = {int(socket.AF_INET): 65507, int(socket.AF_INET6): 65527}


def _check_address(family: int, address: Any) -> None:
    # Reject what the socket module rejects, with its words.
    if family in (socket.AF_INET, socket.AF_INET6):
        if not isinstance(address, tuple):
            name = "AF_INET" if family == socket.AF_INET else "AF_INET6"
            raise TypeError(f"sendto(): {name} address must be tuple, not {type(address).__name__}")
        if len(address) < 2 or not isinstance(address[1], int):
            raise TypeError("AF_INET address must be a pair (host, port)")
        return
    if address is None or not isinstance(address, (str, bytes, os.PathLike)):
        raise TypeError(f"a bytes-like object is required, not '{type(address).__name__}'")
    if not address:
        raise os_error(errno.EINVAL)


class FakeDatagramSocket(FakeSocketBase):
    """An in-memory, unconnected datagram socket (UDP or Unix datagram).

    Received datagrams come from ``inbound``; ``recvfrom(bufsize)`` truncates
    a longer datagram and drops the rest, as a real one does. Everything sent
    with ``sendto()`` is kept in :attr:`sent` as ``(data, address)`` pairs.
    An empty queue behaves as on a fake clock: a timeout expires at once, no
    timeout raises :class:`~netserve_testing.HandlerWouldBlock`.

    Args:
        inbound: ``(data, address)`` datagrams, in the order they arrive.
        family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
        proto: The protocol number.
        sockname: What ``getsockname()`` returns (a default per family).
        transcript: Record into this transcript instead of a new one.

    Example:
        >>> sock = FakeDatagramSocket([(b"ping", ("127.0.0.1", 5000))])
        >>> sock.recvfrom(2)
        (b'pi', ('127.0.0.1', 5000))
        >>> sock.sendto(b"PONG", ("127.0.0.1", 5000))
        4
        >>> sock.sent
        [(b'PONG', ('127.0.0.1', 5000))]
    """

    _kind = socket.SOCK_DGRAM

    def __init__(
        self,
        inbound: Iterable[Tuple[bytes, Address]] = (),
        *,
        family: int = socket.AF_INET,
        proto: int = 0,
        sockname: Address = None,
        transcript: Optional[Transcript] = None,
    ) -> None:
        super().__init__(
            family,
            proto,
            sockname if sockname is not None else default_address(family, local=True),
            transcript,
        )
        self._inbound: Deque[Tuple[bytes, Address]] = deque()
        self.sent: List[Tuple[bytes, Address]] = []
        """Every datagram sent, as ``(data, address)``."""
        for data, address in inbound:
            self.deliver(data, address)

    def deliver(self, data: bytes, address: Address) -> None:
        """Queue one datagram from ``address`` for the socket to receive.

        Example:
            >>> sock = FakeDatagramSocket()
            >>> sock.deliver(b"hi", ("127.0.0.1", 9))
            >>> sock.recv(10)
            b'hi'
        """
        payload = _as_bytes(data)
        self._inbound.append((payload, address))
        self._log.append((LOG_IN, payload))

    def recvfrom(self, bufsize: int, flags: int = 0) -> Tuple[bytes, Address]:
        """Receive one datagram, truncated to ``bufsize``; return ``(data, address)``."""
        self._check_open()
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        if flags & ~(MSG_PEEK | MSG_DONTWAIT):
            self._unmodelled(f"recvfrom flags {flags:#x}")
        if not self._inbound:
            timeout = 0.0 if flags & MSG_DONTWAIT else self._timeout
            self._would_block(f"recvfrom({bufsize})", "no datagram is queued", timeout=timeout)
        data, address = self._inbound[0] if flags & MSG_PEEK else self._inbound.popleft()
        if len(data) > bufsize:
            self._log.append((LOG_EVENT, f"datagram of {len(data)} bytes truncated to {bufsize}"))
        return data[:bufsize], address

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive one datagram, truncated to ``bufsize``."""
        return self.recvfrom(bufsize, flags)[0]

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> Tuple[int, Address]:
        """Receive one datagram into ``buffer``; return ``(count, address)``."""
        with memoryview(buffer) as view, view.cast("B") as target:
            size = nbytes or target.nbytes
            if size > target.nbytes:
                raise ValueError("nbytes is greater than the length of the buffer")
            data, address = self.recvfrom(size, flags)
            target[: len(data)] = data
        return len(data), address

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one datagram into ``buffer``; return the count."""
        return self.recvfrom_into(buffer, nbytes, flags)[0]

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        """Send one datagram: ``sendto(data, address)`` or ``sendto(data, flags, address)``.

        Raises:
            OSError: ``EMSGSIZE`` for a UDP datagram over 65507 bytes (65527 on IPv6).
            TypeError: An address of the wrong type for the family.
        """
        if address is None:
            address, flags = flags_or_address, 0
        else:
            flags = flags_or_address
        payload = _as_bytes(data)
        self._check_open()
        if flags & ~MSG_DONTWAIT:
            self._unmodelled(f"sendto flags {flags:#x}")
        _check_address(self._family, address)
        limit = _UDP_MAX.get(self._family)
        if limit is not None and len(payload) > limit:
            raise os_error(errno.EMSGSIZE)
        self.sent.append((payload, address))
        self._log.append((LOG_OUT, payload))
        return len(payload)

    def send(self, data: Any, flags: int = 0) -> int:
        """An unconnected datagram socket cannot ``send()``: ``EDESTADDRREQ``."""
        _as_bytes(data)
        self._check_open()
        raise os_error(errno.EDESTADDRREQ)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """An unconnected datagram socket cannot ``sendall()``: ``EDESTADDRREQ``."""
        self.send(data, flags)

    def getpeername(self) -> Address:
        """An unconnected datagram socket has no peer: ``ENOTCONN``."""
        self._check_open()
        raise os_error(errno.ENOTCONN)

    def shutdown(self, how: int) -> None:
        """An unconnected datagram socket cannot shut down: ``ENOTCONN``."""
        self._check_open()
        raise os_error(errno.ENOTCONN)

    def makefile(self, *args: object, **kwargs: object) -> Any:
        """Not modelled for datagrams: raises :class:`NotImplementedError`."""
        self._unmodelled("makefile() on a datagram socket")

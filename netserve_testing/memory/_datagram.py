"""An in-memory datagram socket: what a UDP or Unix datagram handler gets in ``self.request``."""

from __future__ import annotations

import errno
import os
import socket
from collections import deque
from typing import Any, Deque, Iterable, List, Optional, Tuple

from ..script._transcript import Transcript
from ._socket_base import (
    LOG_EVENT,
    LOG_IN,
    LOG_OUT,
    MSG_DONTWAIT,
    MSG_PEEK,
    MSG_TRUNC,
    Address,
    FakeSocketBase,
    _as_bytes,
    default_address,
    os_error,
)

__all__ = ["FakeDatagramSocket"]

# The largest UDP payload: 65535 minus the IPv4 (20) or the UDP (8) header; IPv6 has
# no header in the length field.
_UDP_MAX = {int(socket.AF_INET): 65507, int(socket.AF_INET6): 65527}
_AF_UNIX = int(getattr(socket, "AF_UNIX", -1))


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

    def _receive(self, bufsize: int, flags: int, call: str) -> Tuple[bytes, int, Address]:
        # One datagram: (the bytes that fit in bufsize, its real length, its sender).
        self._check_open()
        if flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC):
            self._unmodelled(f"{call} flags {flags:#x}")
        if not self._inbound:
            timeout = self._timeout
            if timeout is None and flags & MSG_DONTWAIT:
                timeout = 0.0  # with a timeout, CPython waits for data first, flag or not
            self._would_block(f"{call}({bufsize})", "no datagram is queued", timeout=timeout)
        data, address = self._inbound[0] if flags & MSG_PEEK else self._inbound.popleft()
        if len(data) > bufsize:
            self._log.append((LOG_EVENT, f"datagram of {len(data)} bytes truncated to {bufsize}"))
            return data[:bufsize], len(data), address
        return data, len(data), address

    def recvfrom(self, bufsize: int, flags: int = 0) -> Tuple[bytes, Address]:
        """Receive one datagram, truncated to ``bufsize``; return ``(data, address)``.

        The rest of a longer datagram is lost, as on a real socket. With
        ``MSG_TRUNC`` the result has the datagram's real length, as the socket
        module returns it on Linux: the first ``bufsize`` bytes are the data,
        the rest is padding (zeros here; unspecified on a real socket).
        """
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        data, length, address = self._receive(bufsize, flags, "recvfrom")
        if flags & MSG_TRUNC and length > len(data):
            data += bytes(length - len(data))
        return data, address

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive one datagram, truncated to ``bufsize`` (``MSG_TRUNC``: see :meth:`recvfrom`).

        As in CPython, ``recv(0)`` returns ``b""`` at once and leaves the queue
        alone (``recvfrom(0)`` does receive the datagram, truncated to nothing).
        """
        if bufsize == 0:
            return b""
        return self.recvfrom(bufsize, flags)[0]

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> Tuple[int, Address]:
        """Receive one datagram into ``buffer``; return ``(count, address)``.

        With ``MSG_TRUNC`` the count is the datagram's real length, which may be
        more than was written into ``buffer`` (Linux semantics).
        """
        if nbytes < 0:
            raise ValueError("negative buffersize in recvfrom_into")
        with memoryview(buffer) as view, view.cast("B") as target:
            size = nbytes or target.nbytes
            if size > target.nbytes:
                raise ValueError("nbytes is greater than the length of the buffer")
            data, length, address = self._receive(size, flags, "recvfrom_into")
            target[: len(data)] = data
        return (length if flags & MSG_TRUNC else len(data)), address

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one datagram into ``buffer``; return the count.

        As in CPython, an empty ``buffer`` returns ``0`` at once and leaves the queue alone.
        """
        if nbytes >= 0 and not len(buffer):
            return 0
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
        """An unconnected datagram socket cannot ``send()``.

        Raises:
            OSError: ``EDESTADDRREQ`` for UDP, ``ENOTCONN`` for a Unix socket (as on Linux).
        """
        _as_bytes(data)
        self._check_open()
        raise os_error(errno.ENOTCONN if self._family == _AF_UNIX else errno.EDESTADDRREQ)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """An unconnected datagram socket cannot ``sendall()``: as :meth:`send`."""
        self.send(data, flags)

    def getpeername(self) -> Address:
        """An unconnected datagram socket has no peer: ``ENOTCONN``."""
        self._check_open()
        raise os_error(errno.ENOTCONN)

    def shutdown(self, how: int) -> None:
        """An unconnected UDP socket cannot shut down: ``ENOTCONN``.

        Raises:
            NotImplementedError: On a Unix datagram socket, where Linux accepts
                the call; what it changes is not modelled.
        """
        self._check_open()
        if self._family == _AF_UNIX:
            self._unmodelled("shutdown() on a Unix datagram socket")
        raise os_error(errno.ENOTCONN)

    def makefile(self, *args: object, **kwargs: object) -> Any:
        """Not modelled for datagrams: raises :class:`NotImplementedError`."""
        self._unmodelled("makefile() on a datagram socket")

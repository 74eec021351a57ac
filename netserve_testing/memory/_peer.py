"""The test's end of an in-memory stream connection: the client, for a handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._socket_base import LOG_EVENT, _as_bytes

if TYPE_CHECKING:
    from ._stream import FakeStreamSocket

__all__ = ["FakePeer"]


class FakePeer:
    """The test's end of a :class:`FakeStreamSocket`: the client, for a handler.

    Example:
        >>> from netserve_testing import FakeStreamSocket
        >>> sock = FakeStreamSocket()
        >>> sock.peer.send(b"ping\\n")
        >>> sock.recv(100)
        b'ping\\n'
        >>> sock.sendall(b"pong\\n")
        >>> sock.peer.recv(100)
        b'pong\\n'
        >>> sock.peer.close()
        >>> sock.recv(100)
        b''
    """

    def __init__(self, sock: FakeStreamSocket) -> None:
        # The peer keeps no state of its own: it lives in the socket, which holds its
        # peer only weakly (see FakeStreamSocket.peer).
        self._sock = sock

    def send(self, data: bytes) -> None:
        """Send ``data`` to the socket (split by its chunking), as the kernel of its family would.

        Raises:
            BrokenPipeError: The peer shut down its sending side; or the socket
                closed, or shut down reading (``AF_UNIX``); or, on TCP, the
                connection was closed (data sent to a closed TCP socket, or after
                its ``SHUT_RDWR``, is dropped once and answered with a reset).
            ConnectionResetError: TCP: the socket closed with unread data (a reset).
            OSError: ``EBADF`` after :meth:`reset` (the peer's socket is closed).
        """
        self._sock._peer_send(_as_bytes(data))

    def close(self) -> None:
        """Shut down the peer's sending side: after the queued data, reads return ``b""``.

        Raises:
            OSError: ``EBADF`` after :meth:`reset`.
        """
        self._sock._peer_close()

    def reset(self) -> None:
        """Abort the connection: an RST on TCP, a close on ``AF_UNIX``.

        TCP (``AF_INET``/``AF_INET6``): the socket's reads return the queued
        data, then raise ``ConnectionResetError`` once (unless the peer had
        sent EOF first), then return ``b""``; its next write raises
        ``ConnectionResetError`` at once and later ones ``BrokenPipeError``;
        ``getsockopt(SO_ERROR)`` reports 104 once; ``getpeername()`` and
        ``shutdown()`` raise ``OSError(ENOTCONN)``. ``AF_UNIX`` has no RST: the
        socket reads EOF and its writes raise ``BrokenPipeError``; only if the
        peer had not read everything the socket sent does the socket's next read
        raise ``ConnectionResetError``. The reset comes in order, after the data
        sent before it, so conversations stay deterministic. The peer is closed
        afterwards.
        """
        self._sock._peer_reset()

    def go_quiet(self) -> None:
        """Send nothing more without closing: the socket's reads time out (or would block)."""
        self._sock._peer_go_quiet()

    def stop_reading(self, after: int = 0) -> None:
        """Stop reading after ``after`` more bytes: then the socket's sends block.

        A blocked send with a timeout raises ``socket.timeout`` at once (fake
        clock); with no timeout it raises :class:`~netserve_testing.HandlerWouldBlock`.
        """
        if after < 0:
            raise ValueError(f"after must be at least 0, not {after!r}")
        self._sock._window = after
        self._sock._log.append((LOG_EVENT, f"client stopped reading (after {after} more bytes)"))

    def resume_reading(self) -> None:
        """Read everything again after :meth:`stop_reading`."""
        self._sock._window = None

    def recv(self, bufsize: int) -> bytes:
        """Read what the socket sent: up to ``bufsize`` bytes, ``b""`` after its EOF.

        Raises:
            BlockingIOError: Nothing to read yet and the socket's side is still open.
            ConnectionResetError: Everything was read and the socket closed with
                unread inbound data (the kernel then resets the connection; on
                TCP only when the socket had not shut down writing first).
        """
        return self._sock._peer_recv(bufsize)

    @property
    def received(self) -> bytes:
        """Everything the socket sent (same as ``sock.sent``)."""
        return self._sock.sent

    @property
    def eof(self) -> bool:
        """Whether the socket shut down its sending side or closed (the peer reads EOF)."""
        return self._sock.write_shut

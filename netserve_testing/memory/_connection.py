"""The state of an in-memory stream connection: ends, resets and pending errors, per family.

Linux is the spec, and it differs per family; the fake follows the family it models:

* ``AF_INET``/``AF_INET6`` as Linux TCP. A reset (RST) closes the connection (the
  ``CLOSE`` state: ``getpeername()`` and ``shutdown()`` fail with ``ENOTCONN``) and
  leaves one pending error on the socket: ``ECONNRESET``, or ``EPIPE`` when the socket
  had read the peer's FIN and not sent its own. A read reports the error after the
  queued data unless the peer's FIN came first; a write or ``SO_ERROR`` reports it at
  once. Closing with unread inbound data sends an RST instead of a FIN; so does data
  arriving after ``SHUT_RDWR`` or after close (there the RST comes back to the sender).
  FIN both ways closes the connection too.
* ``AF_UNIX`` as Linux Unix stream sockets. There is no RST: a peer that closes with
  data it never read leaves ``ECONNRESET`` pending on the other end; a closed peer
  makes writes fail with ``EPIPE`` (never ``ECONNRESET``); a write to a peer that shut
  down reading fails with ``EPIPE``; names and ``shutdown()`` keep working.

The peer here is the test's end (:class:`~netserve_testing.FakePeer`, the lockstep
player): its state lives in the socket too, so a run makes one object.
"""

from __future__ import annotations

import errno
import socket
from typing import Callable, Deque, List, Optional, Sequence, Tuple, Union

from ._chunks import _EXACT, Chunking
from ._socket_base import LOG_EVENT, LOG_IN, Address, _WriteThrough, os_error

__all__ = ["StreamConnection"]

_SHUT_RD, _SHUT_WR, _SHUT_RDWR = int(socket.SHUT_RD), int(socket.SHUT_WR), int(socket.SHUT_RDWR)
_SHUT_NAMES = {_SHUT_RD: "SHUT_RD", _SHUT_WR: "SHUT_WR", _SHUT_RDWR: "SHUT_RDWR"}
_SHUT_WR_EVENTS = {
    how: f"handler shut down its sending side ({_SHUT_NAMES[how]})"
    for how in (_SHUT_WR, _SHUT_RDWR)
}
_ECONNRESET, _EPIPE, _EBADF, _ENOTCONN = errno.ECONNRESET, errno.EPIPE, errno.EBADF, errno.ENOTCONN


class StreamConnection:
    """Mixin of :class:`~netserve_testing.FakeStreamSocket`: both ends of the connection.

    Invariants: ``_err``/``_peer_err`` hold at most one pending errno per end, taken
    (and cleared) by whoever reports it; ``_down`` is the TCP ``CLOSE`` state or, on a
    Unix socket, a peer whose socket is closed; ``_fin_in`` is the end of the peer's
    direction (on Unix also set by the peer's close), :meth:`_fin_out` of ours.
    """

    # Declared for the type checker; FakeStreamSocket and FakeSocketBase set them.
    _fd: int
    _chunks: Deque[bytes]
    _out: bytearray
    _log: Union[List[Tuple[int, object]], _WriteThrough]
    _peername: Address
    chunking: Chunking
    _split: Callable[[Sequence[bytes]], List[bytes]]
    shutdowns: List[int]

    # Per-connection state, as class defaults (assigning them all per run costs more
    # than a short exchange); assignment shadows them per instance.
    _tcp = True  # the family's rules: Linux TCP (AF_INET, AF_INET6) or Unix stream
    _fin_in = False  # the peer's direction ended (its FIN; on Unix its close too)
    _down = False  # TCP: the connection is CLOSED; Unix: the peer's socket is closed
    _err = 0  # this socket's pending error (SO_ERROR)
    _shut_rd = False
    _shut_wr = False
    _peer_err = 0  # the peer's pending error
    _peer_closed = False  # the peer's socket is closed (after reset()): its calls fail EBADF
    _peer_read = 0  # how much of the output the peer has read
    _rst_sent = False  # this socket's close sent a reset (it left inbound bytes unread)

    # -- this socket's side -------------------------------------------------------------
    def _fin_out(self) -> bool:
        # Whether our direction ended for the peer: shutdown(SHUT_WR), or a close (on
        # TCP one that sent a FIN, not a reset).
        return self._shut_wr or (self._fd < 0 and not (self._rst_sent and self._tcp))

    def _take_error(self) -> OSError:
        code, self._err = self._err, 0
        return os_error(code)

    def _send_error(self) -> Optional[OSError]:
        # What a write reports, or None when it may go on.
        if self._tcp:
            if self._err:  # TCP reports (and clears) a pending error on write
                return self._take_error()
            if self._shut_wr or self._down:
                return os_error(_EPIPE)
            return None
        if self._shut_wr or self._down:
            return os_error(_EPIPE)  # Unix: a closed peer is EPIPE; the error stays pending
        return None

    def _read_end(self, partial: bool) -> Optional[str]:
        # A read found the queue empty: why it ends now (its result is b"", or the
        # partial data of MSG_WAITALL), raising a pending error where the kernel does;
        # None when it would wait for the peer.
        if self._tcp:
            if self._fin_in:
                return "it read EOF"  # TCP: the peer's FIN comes before a later reset
            if self._err:
                if partial:
                    return "a reset"  # data first; the error waits for the next call
                raise self._take_error()
            if self._shut_rd:
                return "it read after shutting down reading"
            return "it read after a reset" if self._down else None
        if self._err:
            if partial:  # Unix returns the data, and the error is gone
                self._err = 0
                return "a reset"
            raise self._take_error()
        if self._fin_in:
            return "it read EOF"
        return "it read after shutting down reading" if self._shut_rd else None

    def _so_error(self) -> int:
        code, self._err = self._err, 0
        return code

    def getpeername(self) -> Address:
        """Return the peer's address; on TCP, ``ENOTCONN`` once the connection is closed.

        A TCP connection is closed by a reset either way, or by FIN both ways.
        """
        if self._fd < 0:
            raise os_error(_EBADF)
        if self._down and self._tcp:
            raise os_error(_ENOTCONN)
        return self._peername

    def shutdown(self, how: int) -> None:
        """Shut down reading (``SHUT_RD``), writing (``SHUT_WR``: the peer reads EOF) or both.

        On TCP, ``ENOTCONN`` once the connection is closed (as :meth:`getpeername`).
        After ``SHUT_RD`` a TCP socket still takes what the peer sends (reads return
        ``b""`` once the queue is empty); a Unix peer's sends fail with ``EPIPE``.
        """
        if self._fd < 0:
            raise os_error(_EBADF)
        if how not in _SHUT_NAMES:
            raise os_error(errno.EINVAL)
        if self._down and self._tcp:
            raise os_error(_ENOTCONN)
        self.shutdowns.append(how)
        if how != _SHUT_WR:
            self._shut_rd = True
        if how != _SHUT_RD and not self._shut_wr:
            self._shut_wr = True
            self._log.append((LOG_EVENT, _SHUT_WR_EVENTS[how]))
            if self._fin_in and self._tcp:
                self._down = True  # FIN both ways

    def _real_close(self) -> None:
        if self._fd < 0:
            return
        self._fd = -1
        if self._chunks and not self._peer_closed and not (self._tcp and self._down):
            self._reset_on_close()
            return
        self._log.append((LOG_EVENT, "handler's socket closed"))
        if self._fin_in and self._tcp:
            self._down = True  # our FIN went out now, if not before: FIN both ways

    def _reset_on_close(self) -> None:
        # Linux resets a connection closed with unread inbound data (TCP and Unix).
        self._rst_sent = True
        unread = sum(map(len, self._chunks))
        self._log.append(
            (
                LOG_EVENT,
                f"handler's socket closed with {unread} unread bytes: "
                f"the client gets a reset (ECONNRESET) after the data sent before it",
            )
        )
        if self._tcp:
            # A peer that read our FIN and did not send its own was in CLOSE_WAIT.
            self._peer_err = _EPIPE if self._shut_wr else _ECONNRESET
            self._down = True
        else:
            self._peer_err = _ECONNRESET

    # -- the peer's side (FakePeer and the lockstep player call these) -------------------
    def _deliver(self, chunks: List[bytes]) -> None:
        # Queue consecutive sends, split by the chunking; one transcript line a piece.
        # Callers have checked that the connection takes them (see _peer_send).
        append = self._chunks.append
        log = self._log.append
        for piece in chunks if self.chunking is _EXACT else self._split(chunks):
            if piece:
                append(piece)
                log((LOG_IN, piece))

    def _peer_check_open(self) -> None:
        if self._peer_closed:
            raise os_error(_EBADF)

    def _peer_send(self, data: bytes) -> None:
        # The peer's send(): the kernel rules of the family, then delivery.
        self._peer_check_open()
        if not self._tcp:
            if self._fin_in or self._fd < 0 or self._shut_rd:
                raise os_error(_EPIPE)
            self._deliver([data])
            return
        if self._peer_err:
            code, self._peer_err = self._peer_err, 0
            raise os_error(code)
        if self._fin_in or self._down:
            raise os_error(_EPIPE)
        if self._fd < 0 or (self._shut_rd and self._shut_wr):
            # Data for a closed socket, or after SHUT_RDWR: dropped, and answered with an
            # RST. The peer had read our FIN, so it learns EPIPE.
            if data:
                if self._fd >= 0:
                    self._err = _ECONNRESET
                self._peer_err = _EPIPE
                self._down = True
                self._log.append(
                    (
                        LOG_EVENT,
                        f"client sent {data!r} after the handler's socket "
                        f"{'closed' if self._fd < 0 else 'shut down'}: dropped, answered "
                        f"with a reset",
                    )
                )
            return
        self._deliver([data])

    def _peer_recv(self, bufsize: int) -> bytes:
        # The peer's non-blocking recv(): our output, then EOF or a pending error.
        self._peer_check_open()
        start = self._peer_read
        data = self._out[start : start + bufsize]
        if data or not bufsize:
            self._peer_read = start + len(data)
            return bytes(data)
        if self._tcp and self._fin_out():
            return b""  # TCP: our FIN comes before a later reset
        if self._peer_err:
            code, self._peer_err = self._peer_err, 0
            raise os_error(code)
        if self._fin_out() or (self._tcp and self._down):
            return b""
        raise os_error(errno.EAGAIN)

    def _peer_close(self) -> None:
        # The peer's shutdown(SHUT_WR): after the queued data, reads return b"".
        if self._peer_closed or self._down:
            self._peer_check_open()
            if self._tcp:
                raise os_error(_ENOTCONN)
        if self._fin_in:
            return
        self._fin_in = True
        self._log.append((LOG_EVENT, "client closed its sending side (EOF)"))
        if (self._shut_wr or (self._fd < 0 and not self._rst_sent)) and self._tcp:
            self._down = True  # FIN both ways (our FIN: see _fin_out())

    def _peer_reset(self, read: int = 0) -> None:
        # The peer aborts: TCP sends an RST; a Unix peer just closes, and only data it
        # never read (our output past ``read`` and what FakePeer.recv took) resets us.
        if self._peer_closed:
            return
        self._peer_closed = True
        self._peer_read = max(self._peer_read, read)
        self._log.append((LOG_EVENT, "client reset the connection"))
        if self._fd < 0:
            return
        if self._tcp:
            if not self._down:
                self._err = _EPIPE if self._fin_in and not self._fin_out() else _ECONNRESET
                self._down = True
            return
        if len(self._out) > self._peer_read:
            self._err = _ECONNRESET
        self._fin_in = True
        self._down = True

    def _peer_go_quiet(self) -> None:
        self._log.append((LOG_EVENT, "client went quiet"))

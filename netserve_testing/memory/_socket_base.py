"""What the in-memory stream and datagram sockets share: options, timeouts, names, closing."""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
from typing import Any, Dict, List, NoReturn, Optional, Tuple, Union

from .._errors import HandlerWouldBlock
from ..script._transcript import Transcript

#: A socket address as the socket module spells it: a tuple for IP, a path (or None) for Unix.
Address = Any

# Fake descriptors are numbered far above what a process normally has open, so a
# descriptor that leaked into select() or os.read() fails loudly instead of
# touching a real file.
_descriptors = itertools.count(1_000_000)

# How many reads in a row may return nothing (EOF or a timeout, with nothing sent
# in between) before the fake stops a handler that would spin forever.
IDLE_READ_LIMIT = 1000


_FAMILIES = frozenset(
    int(family)
    for family in (socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_UNIX", None))
    if family is not None
)

# Kinds of the entries a fake logs cheaply and turns into Transcript lines on demand.
LOG_IN, LOG_OUT, LOG_EVENT, LOG_CONNECTION = 0, 1, 2, 3


def _connection_text(value: Tuple[Any, Any]) -> str:
    # Formatted only when the transcript is read: a run should not pay for it.
    client_address, handler_class = value
    name = getattr(handler_class, "__qualname__", None) or repr(handler_class)
    return f"connection from {client_address!r} to {name}"


# Plain ints: IntFlag arithmetic on socket.MSG_* costs more than the rest of a recv().
MSG_PEEK = int(socket.MSG_PEEK)
MSG_DONTWAIT = int(socket.MSG_DONTWAIT)
MSG_WAITALL = int(socket.MSG_WAITALL)
MSG_NOSIGNAL = int(getattr(socket, "MSG_NOSIGNAL", 0))
MSG_TRUNC = int(getattr(socket, "MSG_TRUNC", 0))


def _write_entry(transcript: Transcript, kind: int, value: Any) -> None:
    # The one place a logged entry becomes a transcript line.
    if kind == LOG_IN:
        transcript.inbound(value)
    elif kind == LOG_OUT:
        transcript.outbound(value)
    else:
        transcript.event(_connection_text(value) if kind == LOG_CONNECTION else value)


class _WriteThrough:
    # The log of a fake given a transcript by the caller: entries go to it at once,
    # since the caller may read that transcript without going through the fake.
    # It never holds entries, so FakeSocketBase.transcript has nothing to flush from it.
    def __init__(self, transcript: Transcript) -> None:
        self._transcript = transcript

    def append(self, entry: Tuple[int, Any]) -> None:
        _write_entry(self._transcript, *entry)

    def insert(self, index: int, entry: Tuple[int, Any]) -> None:
        self.append(entry)


def os_error(code: int) -> OSError:
    """Return ``OSError(code, strerror)``; Python picks the subclass (BrokenPipeError...)."""
    return OSError(code, os.strerror(code))


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    try:
        with memoryview(data) as view:
            return view.tobytes()
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") from None


def default_address(family: int, *, local: bool, datagram: bool = False) -> Address:
    """The address a fake reports when the test gives none."""
    if family == socket.AF_INET:
        return ("127.0.0.1", 8000) if local else ("127.0.0.1", 50000)
    if family == socket.AF_INET6:
        return ("::1", 8000, 0, 0) if local else ("::1", 50000, 0, 0)
    if family == getattr(socket, "AF_UNIX", object()):
        if local:
            return "/tmp/netserve-fake.sock"
        # An unbound Unix client: accept() reports '', recvfrom() reports None.
        return None if datagram else ""
    raise ValueError(f"fake sockets support AF_INET, AF_INET6 and AF_UNIX, not family {family!r}")


class FakeSocketBase:
    """State and methods common to :class:`FakeStreamSocket` and :class:`FakeDatagramSocket`."""

    _kind = socket.SOCK_STREAM

    def __init__(
        self, family: int, proto: int, sockname: Address, transcript: Optional[Transcript]
    ) -> None:
        if family not in _FAMILIES:
            default_address(family, local=True)  # raises the error naming the family
        self._family = int(family)
        self._proto = proto
        self._sockname = sockname
        self._options: Dict[Tuple[int, int], Union[int, bytes]] = {}
        self._fd = next(_descriptors)
        self._transcript = transcript
        # Entries not yet in the transcript (a list: appending a tuple is what keeps a
        # run cheap), or a _WriteThrough when the caller gave the transcript.
        self._log: Union[List[Tuple[int, Any]], _WriteThrough] = (
            [] if transcript is None else _WriteThrough(transcript)
        )

    # Per-instance state that starts the same on every socket lives here as class
    # defaults: a run creates one socket, and assigning these in __init__ costs more
    # than the rest of a short exchange. Assignment shadows them per instance.
    _timeout: Optional[float] = None
    _closed = False  # close() was called (the descriptor may live on in makefile())
    _io_refs = 0
    _header: Optional[str] = None  # shown above the transcript (the chunking, if not exact)
    # The first HandlerWouldBlock raised: run_handler reports it even if the handler caught it.
    _blocked: Optional[HandlerWouldBlock] = None
    timeouts = 0
    """How many reads timed out on the fake clock."""

    @property
    def transcript(self) -> Transcript:
        """The record of everything the peer and the code under test exchanged."""
        if self._transcript is None:
            self._transcript = Transcript() if self._header is None else Transcript([self._header])
        log = self._log
        if isinstance(log, list) and log:  # pending entries (a _WriteThrough holds none)
            self._log = []
            for kind, value in log:
                _write_entry(self._transcript, kind, value)
        return self._transcript

    # -- identity -----------------------------------------------------------------------
    @property
    def family(self) -> socket.AddressFamily:
        """The address family, e.g. ``socket.AF_INET`` (as on a real socket)."""
        return socket.AddressFamily(self._family)

    @property
    def type(self) -> socket.SocketKind:
        """The socket type: ``SOCK_STREAM`` or ``SOCK_DGRAM``."""
        return socket.SocketKind(self._kind)

    @property
    def proto(self) -> int:
        """The protocol number (``0`` unless given)."""
        return self._proto

    @property
    def closed(self) -> bool:
        """Whether the descriptor is closed (``close()`` called and no ``makefile()`` open)."""
        return self._fd < 0

    def fileno(self) -> int:
        """Return ``-1`` after close (as a real socket does); otherwise not modelled.

        A fake has no kernel descriptor, and a real one standing in for it could not
        follow the fake clock (``select()`` with a timeout would wait for real, and
        with none it would hang where the fake raises
        :class:`~netserve_testing.HandlerWouldBlock`). So ``select.select()``,
        ``select.poll().register()``, ``selectors`` and ``fileno()`` itself raise
        :class:`NotImplementedError`: test a handler that waits with them
        against a real server.

        Raises:
            NotImplementedError: The socket is open.
        """
        if self._fd < 0:
            return -1
        self._unmodelled(
            "fileno(), so select(), poll() and selectors cannot wait on it (they need "
            "a kernel descriptor)"
        )

    def _check_open(self) -> None:
        if self._fd < 0:
            raise os_error(errno.EBADF)

    def _unmodelled(self, what: str) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__} does not model {what}; test this path with a real socket"
        )

    def getsockname(self) -> Address:
        """Return the local address (the server's address for an accepted socket)."""
        self._check_open()
        return self._sockname

    # -- timeouts (a fake clock: nothing ever waits) -------------------------------------
    def settimeout(self, value: Optional[float]) -> None:
        """Set the timeout of blocking operations, as :meth:`socket.socket.settimeout`.

        On the fake a timeout expires at once when no data can come, with no
        real waiting. As on a real socket, a closed socket records the value
        and then raises ``OSError(EBADF)``.
        """
        if value is not None:
            # As CPython: any int (True is 1 s, False 0.0) or float; NaN and infinity fail.
            if not isinstance(value, (int, float)):
                raise TypeError(f"timeout must be a number or None, not {type(value).__name__}")
            value = float(value)
            if value != value:
                raise ValueError("Invalid value NaN (not a number)")
            if value < 0:
                raise ValueError("Timeout value out of range")
            if value == float("inf"):
                raise OverflowError("timeout doesn't fit into C timeval")
        self._timeout = value
        self._check_open()

    def gettimeout(self) -> Optional[float]:
        """Return the timeout: ``None`` (blocking), ``0.0`` (non-blocking) or seconds."""
        return self._timeout

    @property
    def timeout(self) -> Optional[float]:
        """The timeout, as the ``timeout`` attribute of a real socket."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``setblocking(True)`` is ``settimeout(None)``; ``False`` is ``settimeout(0.0)``."""
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        """Return ``False`` only in non-blocking mode (timeout ``0.0``), also after close."""
        return self._timeout != 0.0

    def _would_block(self, call: str, reason: str, *, timeout: Optional[float]) -> NoReturn:
        # A blocking call that cannot complete: non-blocking mode fails with EAGAIN,
        # a timeout expires at once (fake clock), and without one the fake refuses to hang.
        if timeout == 0.0:
            raise os_error(errno.EAGAIN)
        if timeout is not None:
            self.timeouts += 1
            self._log.append(
                (LOG_EVENT, f"{call} timed out after {timeout:g} s (fake clock, {reason})")
            )
            raise socket.timeout("timed out")
        self._raise_blocked(f"handler would block forever: {call} with no timeout set ({reason})")

    def _raise_blocked(self, message: str) -> NoReturn:
        # Remembered, so that a handler catching it cannot hide it from run_handler.
        blocked = HandlerWouldBlock(f"{message}\n\ntranscript:\n{self.transcript.format()}")
        if self._blocked is None:
            self._blocked = blocked
        raise blocked

    # -- options --------------------------------------------------------------------------
    def _default_option(self, level: int, option: int) -> Optional[Union[int, bytes]]:
        if level == socket.SOL_SOCKET:
            if option == socket.SO_TYPE:
                return int(self._kind)
            if option == getattr(socket, "SO_DOMAIN", -1):
                return int(self._family)
            if option == getattr(socket, "SO_PROTOCOL", -1):
                return self._proto
            if option == socket.SO_LINGER:
                return struct.pack("ii", 0, 0)
            if option in (
                socket.SO_ERROR,
                socket.SO_REUSEADDR,
                socket.SO_KEEPALIVE,
                socket.SO_BROADCAST,
                getattr(socket, "SO_REUSEPORT", -1),
            ):
                return 0
        if level == socket.IPPROTO_TCP and option == socket.TCP_NODELAY:
            return 0
        return None

    def setsockopt(self, level: int, option: int, value: Any, optlen: Optional[int] = None) -> None:
        """Record a socket option; :meth:`getsockopt` returns it. ``sockopts`` lists them all.

        TCP-level options on a Unix socket fail with ``EOPNOTSUPP``, as they do
        on Linux.
        """
        self._check_open()
        if level == socket.IPPROTO_TCP and (
            self._family not in (socket.AF_INET, socket.AF_INET6)
            or self._kind != socket.SOCK_STREAM
        ):
            raise os_error(errno.EOPNOTSUPP)
        stored: Union[int, bytes]
        if value is None:
            if optlen is None:
                raise TypeError("setsockopt() with value None needs optlen")
            stored = bytes(optlen)
        elif isinstance(value, int):
            stored = int(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            stored = bytes(value)
        else:
            raise TypeError(f"a bytes-like object is required, not '{type(value).__name__}'")
        self._options[(level, option)] = stored

    def getsockopt(self, level: int, option: int, buflen: int = 0) -> Union[int, bytes]:
        """Return an option set with :meth:`setsockopt`, or its modelled default.

        Raises:
            NotImplementedError: The option was never set and the fake has no
                default for it (such as ``SO_RCVBUF``, which depends on the kernel).
        """
        self._check_open()
        value = self._options.get((level, option))
        if value is None:
            value = self._default_option(level, option)
        if value is None:
            self._unmodelled(f"getsockopt(level={level}, option={option}) before it was set")
        if buflen:
            raw = struct.pack("i", value) if isinstance(value, int) else value
            return raw[:buflen]
        if isinstance(value, bytes):
            return int(struct.unpack("i", value[:4].ljust(4, b"\0"))[0])
        return value

    @property
    def sockopts(self) -> Dict[Tuple[int, int], Union[int, bytes]]:
        """Every option set so far, keyed by ``(level, option)``."""
        return dict(self._options)

    # -- closing --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the socket; it stays usable until every ``makefile()`` object is closed."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _real_close(self) -> None:
        self._fd = -1

    def _decref_socketios(self) -> None:
        # Called by socket.SocketIO.close(): same reference counting as socket.socket.
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " [closed]" if self._fd < 0 else ""
        return (
            f"<{type(self).__name__}{state} fd={self._fd}, family={int(self._family)}, "
            f"type={int(self._kind)}, proto={self._proto}>"
        )

    # -- what the fakes do not model: say so, never do nothing ---------------------------
    def accept(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("accept()")

    def bind(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("bind()")

    def listen(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("listen()")

    def connect(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("connect()")

    def connect_ex(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("connect_ex()")

    def dup(self) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("dup()")

    def detach(self) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("detach()")

    def recvmsg(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("recvmsg()")

    def recvmsg_into(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("recvmsg_into()")

    def sendmsg(self, *args: object) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("sendmsg()")

    def get_inheritable(self) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("get_inheritable()")

    def set_inheritable(self, inheritable: bool) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("set_inheritable()")

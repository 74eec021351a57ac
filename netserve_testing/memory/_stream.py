"""An in-memory connected stream socket: what a stream handler gets as ``self.request``."""

from __future__ import annotations

import errno
import io
import locale
import socket
import struct
import sys
import weakref
from collections import deque
from typing import (
    IO,
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ..script._script import Script
from ..script._transcript import Transcript
from ._chunks import _EXACT, Chunking, ChunkingLike
from ._connection import StreamConnection
from ._lockstep import ScriptPlayer
from ._peer import FakePeer
from ._socket_base import (
    IDLE_READ_LIMIT,
    LOG_EVENT,
    LOG_IN,
    LOG_OUT,
    MSG_DONTWAIT,
    MSG_NOSIGNAL,
    MSG_PEEK,
    MSG_WAITALL,
    Address,
    FakeSocketBase,
    _as_bytes,
    default_address,
    os_error,
)

__all__ = ["FakeStreamSocket"]

_THEN = ("quiet", "eof", "reset")
_RECV_FLAGS = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL
_SEND_FLAGS = MSG_DONTWAIT | MSG_NOSIGNAL
_EBADF = errno.EBADF
_SOL_SOCKET, _SO_ERROR = int(socket.SOL_SOCKET), int(socket.SO_ERROR)
_UNIX = int(getattr(socket, "AF_UNIX", -1))


class _FakeSocketIO(socket.SocketIO):
    # socket.SocketIO, except that its name (shown by repr() of a makefile() file)
    # does not ask the fake for a descriptor it does not have.
    @property
    def name(self) -> str:  # type: ignore[override]
        return f"<fake socket {self._sock!r}>"  # type: ignore[attr-defined]


# makefile() mode -> (reading, writing, binary, raw mode), filled as modes are met.
_MAKEFILE_MODES: Dict[str, Tuple[bool, bool, bool, str]] = {}


def _makefile_mode(mode: str) -> Tuple[bool, bool, bool, str]:
    parsed = _MAKEFILE_MODES.get(mode)
    if parsed is None:
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        parsed = (
            reading,
            writing,
            "b" in mode,
            ("r" if reading else "") + ("w" if writing else ""),
        )
        if len(mode) <= 3:
            _MAKEFILE_MODES[mode] = parsed
    return parsed


class FakeStreamSocket(StreamConnection, FakeSocketBase):
    """An in-memory, connected stream socket: what a handler gets as ``self.request``.

    It has the surface request handlers use (``recv``, ``recv_into``,
    ``send``, ``sendall``, ``makefile``, timeouts, options, names,
    ``shutdown``, ``close``) and fails the way a Linux socket of its family
    fails (``AF_INET``/``AF_INET6`` as TCP, ``AF_UNIX`` as a Unix stream
    socket): EOF reads ``b""``, operations after ``close()`` raise
    ``OSError(EBADF)``, a TCP reset makes the next write raise
    ``ConnectionResetError`` and later ones ``BrokenPipeError``, closing with
    unread inbound data resets the peer. What it does not model (``fileno()``,
    and so ``select``, ``poll`` and ``selectors``) raises
    :class:`NotImplementedError`.

    The test plays the other end through :attr:`peer`. Time is fake: when no
    data can come (the peer went quiet), a read with a timeout raises
    ``socket.timeout`` at once, a non-blocking read raises
    ``BlockingIOError``, and a read with no timeout raises
    :class:`~netserve_testing.HandlerWouldBlock` instead of hanging.

    Args:
        inbound: Bytes the peer has sent, a list of chunks, or a
            :class:`~netserve_testing.Script` played in lockstep.
        then: What the peer does after ``inbound``: ``"quiet"`` (stays
            connected, sends nothing: reads would block), ``"eof"`` or
            ``"reset"`` (see :meth:`FakePeer.reset
            <netserve_testing.FakePeer.reset>`: on TCP the data is still read,
            then ``ConnectionResetError``, and writes fail at once; on
            ``AF_UNIX`` it is a close). Ignored for a script.
        chunking: How inbound bytes split across reads (see
            :class:`~netserve_testing.Chunking`).
        seed: Seed for ``chunking="random"``.
        family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
        proto: The protocol number.
        sockname: What ``getsockname()`` returns (a default per family).
        peername: What ``getpeername()`` returns (a default per family).
        max_send: Accept at most this many bytes per ``send()`` call, to
            catch code that ignores ``send()``'s return value.
        transcript: Record into this transcript instead of a new one.

    Example:
        >>> sock = FakeStreamSocket([b"hel", b"lo\\n"], then="eof")
        >>> sock.recv(1024), sock.recv(1024), sock.recv(1024)
        (b'hel', b'lo\\n', b'')
        >>> sock.sendall(b"HELLO\\n")
        >>> sock.sent
        b'HELLO\\n'
    """

    _kind = socket.SOCK_STREAM

    def __init__(
        self,
        inbound: Union[bytes, Iterable[bytes], Script, None] = None,
        *,
        then: str = "quiet",
        chunking: ChunkingLike = None,
        seed: Optional[int] = None,
        family: int = socket.AF_INET,
        proto: int = 0,
        sockname: Address = None,
        peername: Address = None,
        max_send: Optional[int] = None,
        transcript: Optional[Transcript] = None,
    ) -> None:
        if then not in _THEN:
            raise ValueError(f"then must be one of {_THEN}, not {then!r}")
        if max_send is not None and max_send < 1:
            raise ValueError(f"max_send must be at least 1, not {max_send!r}")
        FakeSocketBase.__init__(
            self,
            family,
            proto,
            sockname if sockname is not None else default_address(family, local=True),
            transcript,
        )
        if self._family == _UNIX:
            self._tcp = False
        self._peername = peername if peername is not None else default_address(family, local=False)
        if chunking is not None or seed is not None:
            self.chunking = Chunking.of(chunking, seed)
            # This connection's own split: a reused random Chunking replays from its seed.
            self._split = self.chunking.splitter()
            if self.chunking.mode != "exact":
                self._header = f"chunking: {self.chunking.describe()}"
                if transcript is not None:
                    transcript.add_header(self._header)
        # Inbound: chunks not yet read (the ends and errors: see StreamConnection).
        self._chunks: Deque[bytes] = deque()
        # Outbound: everything accepted by send()/sendall(), per call too.
        self._out = bytearray()
        self._sends: List[bytes] = []
        self.shutdowns: List[int] = []
        """The ``how`` of every ``shutdown()`` call, in order."""
        if max_send is not None:
            self._max_send = max_send
        if inbound is None:
            pass
        elif isinstance(inbound, bytes) and self.chunking is _EXACT:
            if inbound:  # the common case, without a split
                self._chunks.append(inbound)
                self._log.append((LOG_IN, inbound))
        elif isinstance(inbound, (bytes, bytearray, memoryview)):
            self._deliver([bytes(inbound)])
        elif isinstance(inbound, Script):
            self.player = ScriptPlayer(inbound)
            return
        else:
            chunks = list(inbound)
            for chunk in chunks:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError(f"inbound chunks must be bytes, not {chunk!r}")
            self._deliver([bytes(chunk) for chunk in chunks])
        if then == "eof":
            # _peer_close() on a fresh connection, spelled out: every run comes here.
            self._fin_in = True
            self._log.append((LOG_EVENT, "client closed its sending side (EOF)"))
        elif then == "reset":
            self._peer_reset()

    chunking: Chunking = _EXACT
    """The :class:`~netserve_testing.Chunking` applied to what the peer sends."""
    _split: Callable[[Sequence[bytes]], List[bytes]]  # set with any chunking but _EXACT

    # State every connection starts with, as class defaults (see FakeSocketBase).
    _max_send: Optional[int] = None
    _idle_reads = 0
    _window: Optional[int] = None  # bytes the peer still reads; None = all
    # The peer object, held weakly: a strong reference both ways would make every
    # socket garbage that only the cycle collector can free (it then runs every few runs).
    _peer_ref: Optional[weakref.ref[FakePeer]] = None
    player: Optional[ScriptPlayer] = None
    """The lockstep player when ``inbound`` is a script, else ``None``."""

    @property
    def peer(self) -> FakePeer:
        """The other end of the connection, driven by the test: a :class:`FakePeer`.

        The same object is returned for as long as the test holds on to it.
        """
        peer = self._peer_ref() if self._peer_ref is not None else None
        if peer is None:
            peer = FakePeer(self)
            self._peer_ref = weakref.ref(peer)
        return peer

    # -- what the test inspects --------------------------------------------------------
    @property
    def sent(self) -> bytes:
        """Every byte the code under test sent, in order."""
        return bytes(self._out)

    @property
    def sends(self) -> List[bytes]:
        """The bytes of each ``send()``/``sendall()`` call, one item per call."""
        return list(self._sends)

    @property
    def unread(self) -> bytes:
        """Bytes the peer sent that the code under test has not read."""
        return b"".join(self._chunks)

    @property
    def write_shut(self) -> bool:
        """Whether the sending side was shut down (``SHUT_WR``/``SHUT_RDWR``) or closed."""
        return self._shut_wr or self._fd < 0

    # -- reading ----------------------------------------------------------------------
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Read up to ``bufsize`` bytes from one inbound chunk; ``b""`` at EOF.

        Supports ``MSG_PEEK`` (which sees across chunks, up to ``bufsize``),
        ``MSG_DONTWAIT`` and ``MSG_WAITALL``. As in CPython, ``recv(0)``
        returns ``b""`` at once, whatever the state of the socket.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if not isinstance(bufsize, int):
            raise TypeError(
                f"'{type(bufsize).__name__}' object cannot be interpreted as an integer"
            )
        if bufsize <= 0:
            if bufsize < 0:
                raise ValueError("negative buffersize in recv")
            return b""
        if self._fd < 0:
            raise os_error(_EBADF)
        return self._read(bufsize, flags, "recv")

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read into ``buffer`` (up to ``nbytes``, or its size); return the count.

        As in CPython, an empty ``buffer`` returns ``0`` at once.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if self._fd < 0:
            if not len(buffer):
                return 0
            raise os_error(_EBADF)
        if (
            buffer.__class__ is memoryview
            and not nbytes
            and buffer.ndim == 1
            and buffer.format == "B"
            and not buffer.readonly
        ):
            # What SocketIO.readinto() passes (a buffered file reading): fill it directly.
            data = self._read(buffer.nbytes, flags, "recv_into")
            count = len(data)
            buffer[:count] = data
            return count
        with memoryview(buffer) as view:
            if view.readonly:
                name = type(buffer).__name__
                raise TypeError(f"recv_into() argument must be read-write bytes-like, not {name}")
            size = view.nbytes
            if nbytes:
                if nbytes > size:
                    raise ValueError("buffer too small for requested bytes")
                size = nbytes
            data = self._read(size, flags, "recv_into")
            count = len(data)
            if view.ndim == 1 and view.format == "B":
                view[:count] = data
            else:
                with view.cast("B") as target:
                    target[:count] = data
        return count

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, None]:
        """Read as :meth:`recv`; a connected stream socket reports the address ``None``."""
        return self.recv(bufsize, flags), None

    def _read(self, size: int, flags: int, name: str) -> bytes:
        # ``name`` is formatted into "recv(1024)" only on the rare paths that report it.
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        chunks = self._chunks
        if chunks and not flags and size:
            # The common case: no flags, data queued. The loop below does the same.
            head = chunks[0]
            if len(head) <= size:
                chunks.popleft()
            else:
                chunks[0] = head[size:]
                head = head[:size]
            self._idle_reads = 0
            return head
        if flags & ~_RECV_FLAGS:
            self._unmodelled(f"recv flags {flags:#x}")
        if size == 0:
            return b""
        if flags & MSG_PEEK and chunks:
            # A peek sees what is queued, across chunks, as a real socket's buffer shows it.
            self._idle_reads = 0
            return b"".join(chunks)[:size]
        timeout = self._timeout
        if timeout is None and flags & MSG_DONTWAIT:
            # With a timeout CPython waits for data first, flag or not: only a blocking
            # socket turns MSG_DONTWAIT into EAGAIN.
            timeout = 0.0
        result = b""
        while True:
            if self._chunks:
                head = self._chunks[0]
                take = head[: size - len(result)]
                if len(take) == len(head):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[len(take) :]
                result += take
                self._idle_reads = 0
                if len(result) == size or not flags & MSG_WAITALL:
                    return result
                continue
            end = self._read_end(bool(result))
            if end is not None:
                if not result:
                    self._count_idle_read(name, size, end)
                return result
            if self.player is not None:
                self.player.pull(self, timeout is not None)
                if self._chunks or self._fin_in or self._err or self._down:
                    if flags & MSG_PEEK and self._chunks:
                        return b"".join(self._chunks)[:size]
                    continue
            if result and timeout is not None:
                # A socket with a timeout is non-blocking underneath: MSG_WAITALL stops short.
                return result
            if not result:
                self._count_idle_read(name, size, "its reads timed out")
            self._would_block(
                f"{name}({size}{', MSG_WAITALL' if result else ''})",
                f"it has {len(result)} of {size} bytes and the client sent nothing more"
                if result
                else "the client sent nothing more",
                timeout=timeout,
            )

    def _count_idle_read(self, name: str, size: int, what: str) -> None:
        self._idle_reads += 1
        if self._idle_reads > IDLE_READ_LIMIT:
            self._raise_blocked(
                f"handler would loop forever: {what} {IDLE_READ_LIMIT} times in a row "
                f"({name}({size}) returned nothing each time, and it sent nothing in between)"
            )

    # -- writing ----------------------------------------------------------------------
    def _check_writable(self, flags: int) -> None:
        if self._fd < 0:
            raise os_error(_EBADF)
        if flags & ~_SEND_FLAGS:
            self._unmodelled(f"send flags {flags:#x}")
        error = self._send_error()
        if error is not None:
            raise error

    def _accept(self, data: bytes, call: str, total: int, flags: int) -> int:
        # Take what the peer's window and max_send allow; block (fake clock) when nothing fits.
        size = len(data)
        if self._max_send is not None:
            size = min(size, self._max_send)
        if self._window is not None:
            if self._window == 0 and data:
                timeout = self._timeout
                if timeout is None and flags & MSG_DONTWAIT:
                    timeout = 0.0
                self._would_block(
                    f"{call} of {total} bytes", "the client stopped reading", timeout=timeout
                )
            size = min(size, self._window)
            self._window -= size
        return size

    def _record(self, data: bytes) -> None:
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        self._out += data
        self._sends.append(data)
        self._idle_reads = 0
        self._log.append((LOG_OUT, data))
        if self.player is not None:
            self.player.on_output(self)

    def send(self, data: Any, flags: int = 0) -> int:
        """Send some of ``data``; return how many bytes were accepted."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        payload = data if data.__class__ is bytes else _as_bytes(data)
        self._check_writable(flags)
        size = self._accept(payload, "send()", len(payload), flags)
        if size:
            self._record(payload if size == len(payload) else payload[:size])
        return size

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of ``data`` (recorded as one call in :attr:`sends`)."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        payload = data if data.__class__ is bytes else _as_bytes(data)
        if (
            self._fd >= 0
            and not flags
            and not self._err
            and not self._shut_wr
            and not self._down
            and self._max_send is None
            and self._window is None
        ):
            # The common case: writable, and everything fits at once. The same checks
            # as _check_writable() and _accept(), in one go.
            if payload:
                self._record(payload)
            return
        self._check_writable(flags)
        done = 0
        total = len(payload)
        try:
            while done < total:
                done += self._accept(payload[done:], "sendall()", total, flags)
        finally:
            if done:
                self._record(payload if done == total else payload[:done])

    def sendfile(self, file: IO[bytes], offset: int = 0, count: Optional[int] = None) -> int:
        """Send ``file`` from ``offset`` (``count`` bytes, or to its end) with :meth:`sendall`."""
        self._check_open()
        file.seek(offset)
        data = file.read() if count is None else file.read(count)
        self.sendall(data)
        file.seek(offset + len(data))
        return len(data)

    # -- files --------------------------------------------------------------------------
    def makefile(
        self,
        mode: str = "r",
        buffering: Optional[int] = None,
        *,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        newline: Optional[str] = None,
    ) -> Any:
        """Return a file object over the socket, exactly as :meth:`socket.socket.makefile`.

        The same ``socket.SocketIO`` and ``io`` buffering classes are used, so
        ``makefile('rb', 0)``, buffered reads, timeouts ("cannot read from timed
        out object") and reference-counted closing behave as on a real socket.
        """
        reading, writing, binary, rawmode = _makefile_mode(mode)
        raw = _FakeSocketIO(self, rawmode)  # type: ignore[arg-type]
        self._io_refs += 1
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: Any
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        if encoding is None:
            # What a real socket ends with (its descriptor is no terminal); named here,
            # because before Python 3.11 TextIOWrapper asks fileno() for a device
            # encoding first when given None or (3.10) "locale".
            encoding = io.text_encoding(None) if hasattr(io, "text_encoding") else "locale"
            if encoding == "locale" and sys.version_info < (3, 11):
                encoding = locale.getpreferredencoding(False)
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text

    # -- options ------------------------------------------------------------------------
    def getsockopt(self, level: int, option: int, buflen: int = 0) -> Union[int, bytes]:
        """As :meth:`FakeSocketBase.getsockopt`; ``SO_ERROR`` reports a pending error once.

        After a TCP reset, ``SO_ERROR`` is ``ECONNRESET`` (104) once, then ``0``,
        as on Linux; reading it clears the error a read or a write would report.
        """
        if level == _SOL_SOCKET and option == _SO_ERROR:
            self._check_open()
            code = self._so_error()
            return struct.pack("i", code)[:buflen] if buflen else code
        return FakeSocketBase.getsockopt(self, level, option, buflen)

    def __repr__(self) -> str:
        text = super().__repr__()[:-1]
        if self._fd >= 0:
            text += f", laddr={self._sockname!r}, raddr={self._peername!r}"
        return text + ">"

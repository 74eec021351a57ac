"""An in-memory connected stream socket, and the peer a test drives it with."""

from __future__ import annotations

import errno
import io
import socket
from collections import deque
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Iterable,
    List,
    Optional,
    Sequence,
    Union,
)

from ._chunks import _EXACT, Chunking, ChunkingLike
from ._errors import HandlerWouldBlock
from ._script import Script
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
    default_address,
    os_error,
)
from ._transcript import Transcript

if TYPE_CHECKING:
    from ._lockstep import ScriptPlayer

__all__ = ["FakePeer", "FakeStreamSocket"]

_THEN = ("quiet", "eof", "reset")
_RECV_FLAGS = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL
_SEND_FLAGS = MSG_DONTWAIT | MSG_NOSIGNAL
_SHUT_NAMES = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


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


class FakeStreamSocket(FakeSocketBase):
    """An in-memory, connected stream socket: what a handler gets as ``self.request``.

    It has the surface request handlers use (``recv``, ``recv_into``,
    ``send``, ``sendall``, ``makefile``, timeouts, options, names,
    ``shutdown``, ``close``) and fails the way a real socket fails: EOF reads
    ``b""``, operations after ``close()`` raise ``OSError(EBADF)``, a write
    after the peer reset raises ``ConnectionResetError`` then
    ``BrokenPipeError``. What it does not model raises
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
            ``"reset"`` (once the data is read, the next read or write raises
            ``ConnectionResetError``). Ignored for a script.
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
        super().__init__(
            family=family,
            proto=proto,
            sockname=sockname if sockname is not None else default_address(family, local=True),
            transcript=transcript,
        )
        self._peername = peername if peername is not None else default_address(family, local=False)
        self.chunking = _EXACT if chunking is None and seed is None else Chunking.of(chunking, seed)
        """The :class:`~netserve_testing.Chunking` applied to what the peer sends."""
        if self.chunking is not _EXACT and self.chunking.mode != "exact":
            self.transcript.add_header(f"chunking: {self.chunking.describe()}")
        self._max_send = max_send
        # Inbound: chunks not yet read; then the peer's end: None (open), "eof" or "reset".
        self._chunks: Deque[bytes] = deque()
        self._end: Optional[str] = None
        self._reset_pending = False  # ECONNRESET not yet reported to a read or a write
        self._dead = False  # after a reset was reported: reads give b"", writes EPIPE
        self._shut_rd = False
        self._shut_wr = False
        self._idle_reads = 0
        # Outbound: everything accepted by send()/sendall(), per call too.
        self._out = bytearray()
        self._sends: List[bytes] = []
        self._window: Optional[int] = None  # bytes the peer still reads; None = all
        self.shutdowns: List[int] = []
        """The ``how`` of every ``shutdown()`` call, in order."""
        self._pull: Optional[Callable[[bool], None]] = None
        self._on_output: Optional[Callable[[], None]] = None
        self.player: Optional[ScriptPlayer] = None
        """The lockstep player when ``inbound`` is a script, else ``None``."""
        self.peer = FakePeer(self)
        """The other end of the connection, driven by the test: a :class:`FakePeer`."""
        if inbound is None:
            pass
        elif isinstance(inbound, bytes) and self.chunking is _EXACT:
            if inbound:  # the common case, without a split
                self._chunks.append(inbound)
                self._log.append((LOG_IN, inbound))
        elif isinstance(inbound, (bytes, bytearray, memoryview)):
            self.peer._feed([bytes(inbound)])
        elif isinstance(inbound, Script):
            from ._lockstep import ScriptPlayer

            self.player = ScriptPlayer(inbound, self)
            self._pull = self.player.pull
            self._on_output = self.player.on_output
            return
        else:
            chunks = list(inbound)
            for chunk in chunks:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError(f"inbound chunks must be bytes, not {chunk!r}")
            self.peer._feed([bytes(chunk) for chunk in chunks])
        if then == "eof":
            self.peer.close()
        elif then == "reset":
            self.peer.reset()

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

        Supports ``MSG_PEEK``, ``MSG_DONTWAIT`` and ``MSG_WAITALL``.
        """
        self._check_open()
        if not isinstance(bufsize, int):
            raise TypeError(
                f"'{type(bufsize).__name__}' object cannot be interpreted as an integer"
            )
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return self._read(bufsize, flags, "recv")

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read into ``buffer`` (up to ``nbytes``, or its size); return the count."""
        self._check_open()
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        with memoryview(buffer) as view:
            if view.readonly:
                name = type(buffer).__name__
                raise TypeError(f"recv_into() argument must be read-write bytes-like, not {name}")
            size = nbytes or view.nbytes
            if size > view.nbytes:
                raise ValueError("buffer too small for requested bytes")
            data = self._read(size, flags, "recv_into")
            if view.format == "B" and view.ndim == 1:
                view[: len(data)] = data
            else:
                with view.cast("B") as target:
                    target[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, None]:
        """Read as :meth:`recv`; a connected stream socket reports the address ``None``."""
        return self.recv(bufsize, flags), None

    def _read(self, size: int, flags: int, name: str) -> bytes:
        # ``name`` is formatted into "recv(1024)" only on the rare paths that report it.
        if flags & ~_RECV_FLAGS:
            self._unmodelled(f"recv flags {flags:#x}")
        if size == 0 or self._shut_rd:
            return b""
        peek = bool(flags & MSG_PEEK)
        timeout = 0.0 if flags & MSG_DONTWAIT else self._timeout
        result = b""
        while True:
            if self._chunks:
                head = self._chunks[0]
                take = head[: size - len(result)]
                if not peek:
                    if len(take) == len(head):
                        self._chunks.popleft()
                    else:
                        self._chunks[0] = head[len(take) :]
                result += take
                self._idle_reads = 0
                if peek or len(result) == size or not flags & MSG_WAITALL:
                    return result
                continue
            if result and (self._end is not None or self._dead):
                return result  # MSG_WAITALL stops short at EOF or a reset
            if self._reset_pending and self._end == "reset":
                self._reset_pending = False
                self._dead = True
                raise os_error(errno.ECONNRESET)
            if self._end is not None or self._dead:
                self._count_idle_read(name, size, "it read EOF")
                return b""
            if self._pull is not None:
                self._pull(timeout is not None)
                if self._chunks or self._end is not None:
                    continue
            if result:
                return result  # MSG_WAITALL stops short when nothing more can come
            self._count_idle_read(name, size, "its reads timed out")
            self._would_block(f"{name}({size})", "the client sent nothing more", timeout=timeout)

    def _count_idle_read(self, name: str, size: int, what: str) -> None:
        self._idle_reads += 1
        if self._idle_reads > IDLE_READ_LIMIT:
            raise HandlerWouldBlock(
                f"handler would loop forever: {what} {IDLE_READ_LIMIT} times in a row "
                f"({name}({size}) returned nothing each time, and it sent nothing in between)\n\n"
                f"transcript:\n{self.transcript.format()}"
            )

    # -- writing ----------------------------------------------------------------------
    def _check_writable(self, call: str, flags: int) -> None:
        self._check_open()
        if flags & ~_SEND_FLAGS:
            self._unmodelled(f"send flags {flags:#x}")
        if self._reset_pending and not self._chunks:
            # The reset is reported in order: once the data sent before it was read.
            self._reset_pending = False
            self._dead = True
            raise os_error(errno.ECONNRESET)
        if self._shut_wr or self._dead:
            raise os_error(errno.EPIPE)

    def _accept(self, data: bytes, call: str, flags: int) -> int:
        # Take what the peer's window and max_send allow; block (fake clock) when nothing fits.
        size = len(data)
        if self._max_send is not None:
            size = min(size, self._max_send)
        if self._window is not None:
            if self._window == 0 and data:
                timeout = 0.0 if flags & MSG_DONTWAIT else self._timeout
                self._would_block(call, "the client stopped reading", timeout=timeout)
            size = min(size, self._window)
            self._window -= size
        return size

    def _record(self, data: bytes) -> None:
        self._out += data
        self._sends.append(data)
        self._idle_reads = 0
        self._log.append((LOG_OUT, data))
        if self._on_output is not None:
            self._on_output()

    def send(self, data: Any, flags: int = 0) -> int:
        """Send some of ``data``; return how many bytes were accepted."""
        payload = _as_bytes(data)
        self._check_writable("send()", flags)
        size = self._accept(payload, f"send() of {len(payload)} bytes", flags)
        if size:
            self._record(payload[:size])
        return size

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of ``data`` (recorded as one call in :attr:`sends`)."""
        payload = _as_bytes(data)
        self._check_writable("sendall()", flags)
        done = 0
        try:
            while done < len(payload):
                done += self._accept(payload[done:], f"sendall() of {len(payload)} bytes", flags)
        finally:
            if done:
                self._record(payload[:done])

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
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        rawmode = ("r" if reading else "") + ("w" if writing else "")
        raw = socket.SocketIO(self, rawmode)  # type: ignore[arg-type]
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
        if encoding is None and hasattr(io, "text_encoding"):
            encoding = io.text_encoding(encoding)
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text

    # -- names, shutdown, close -------------------------------------------------------
    def getpeername(self) -> Address:
        """Return the peer's address; ``ENOTCONN`` once the connection was reset."""
        self._check_open()
        if self._dead:
            raise os_error(errno.ENOTCONN)
        return self._peername

    def shutdown(self, how: int) -> None:
        """Shut down reading (``SHUT_RD``), writing (``SHUT_WR``: the peer reads EOF) or both."""
        self._check_open()
        if how not in _SHUT_NAMES:
            raise os_error(errno.EINVAL)
        if self._dead:
            raise os_error(errno.ENOTCONN)
        self.shutdowns.append(how)
        if how in (socket.SHUT_RD, socket.SHUT_RDWR):
            self._shut_rd = True
        if how in (socket.SHUT_WR, socket.SHUT_RDWR) and not self._shut_wr:
            self._shut_wr = True
            self._log.append(
                (LOG_EVENT, f"handler shut down its sending side ({_SHUT_NAMES[how]})")
            )

    def _real_close(self) -> None:
        if self._fd >= 0:
            self._log.append((LOG_EVENT, "handler's socket closed"))
        super()._real_close()

    def __repr__(self) -> str:
        text = super().__repr__()[:-1]
        if self._fd >= 0:
            text += f", laddr={self._sockname!r}, raddr={self._peername!r}"
        return text + ">"


class FakePeer:
    """The test's end of a :class:`FakeStreamSocket`: the client, for a handler.

    Example:
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
        self._sock = sock
        self._read_pos = 0

    def _feed(self, chunks: Sequence[bytes]) -> None:
        # Queue consecutive sends, split by the socket's chunking; one transcript line a piece.
        sock = self._sock
        if sock._end is not None:
            raise os_error(errno.EPIPE)
        for piece in sock.chunking.split(chunks):
            sock._chunks.append(piece)
            sock._log.append((LOG_IN, piece))

    def send(self, data: bytes) -> None:
        """Send ``data`` to the socket (split by its chunking).

        Raises:
            BrokenPipeError: The peer already closed or reset.
        """
        self._feed([_as_bytes(data)])

    def close(self) -> None:
        """Shut down the peer's sending side: after the queued data, reads return ``b""``."""
        sock = self._sock
        if sock._end is None:
            sock._end = "eof"
            sock._log.append((LOG_EVENT, "client closed its sending side (EOF)"))

    def reset(self) -> None:
        """Abort the connection (TCP RST).

        Reads return the queued data, then raise ``ConnectionResetError``
        once, then return ``b""``. Once the queued data was read, the next
        write raises ``ConnectionResetError`` and later ones
        ``BrokenPipeError`` (as on Linux). The reset comes in order, after
        the data sent before it, so conversations stay deterministic.
        """
        sock = self._sock
        if sock._end != "reset" and not sock._dead:
            sock._end = "reset"
            sock._reset_pending = True
            sock._log.append((LOG_EVENT, "client reset the connection"))

    def go_quiet(self) -> None:
        """Send nothing more without closing: the socket's reads time out (or would block)."""
        self._sock._log.append((LOG_EVENT, "client went quiet"))

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
        """
        data = self._sock._out[self._read_pos : self._read_pos + bufsize]
        if not data and bufsize and not self._sock.write_shut:
            raise os_error(errno.EAGAIN)
        self._read_pos += len(data)
        return bytes(data)

    @property
    def received(self) -> bytes:
        """Everything the socket sent (same as ``sock.sent``)."""
        return self._sock.sent

    @property
    def eof(self) -> bool:
        """Whether the socket shut down its sending side or closed (the peer reads EOF)."""
        return self._sock.write_shut

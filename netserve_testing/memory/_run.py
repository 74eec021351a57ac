"""Run a request handler once, in memory, exactly as a socketserver server would."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, List, Optional, Sequence, Tuple, TypeVar, Union

from .._errors import HandlerWouldBlock
from ..script._failure import ExpectationFailed
from ..script._report import details_of, script_failure
from ..script._script import Script
from ..script._steps import CLOSE, EXPECT, PAUSE, RESET, SEND, ExpectClosed, Mismatch
from ..script._transcript import Transcript
from ._chunks import ChunkingLike
from ._datagram import FakeDatagramSocket
from ._server import FakeServer, prepare_server
from ._socket_base import LOG_CONNECTION, LOG_EVENT, Address, default_address
from ._stream import FakeStreamSocket
from ._tls import FakeTLSSocket

__all__ = ["DatagramRun", "HandlerRun", "run_datagram_handler", "run_handler"]

H = TypeVar("H")

_UNSET: Any = object()


def _attach_transcript(exc: BaseException, transcript: Transcript) -> None:
    # Our own errors already carry the transcript; others get it as a PEP 678 note,
    # which pytest shows under the traceback on every Python version.
    if isinstance(exc, (ExpectationFailed, HandlerWouldBlock)):
        return
    _add_note(
        exc, f"conversation with the handler (netserve_testing transcript):\n{transcript.format()}"
    )


def _blocked_error(
    blocked: Optional[HandlerWouldBlock], error: Optional[BaseException]
) -> Optional[BaseException]:
    # A HandlerWouldBlock the handler caught (a real server would still be waiting
    # there) wins over whatever the handler did next.
    if blocked is None or error is blocked:
        return error
    _add_note(
        blocked,
        "the handler caught this and went on; on a real server it would still be waiting",
    )
    return blocked


def _report_missing(sock: FakeStreamSocket, names: List[str]) -> None:
    # Attributes the handler wanted from its FakeServer: a swallowed AttributeError (a
    # stdlib handler answering 500) should not leave the test guessing.
    sock._log.append(
        (
            LOG_EVENT,
            f"handler asked its FakeServer for {', '.join(map(repr, names))}, which it lacks: "
            f"give it with FakeServer(name=...), or pass the real server class as server=",
        )
    )


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(note)
        return
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes.append(note)
    else:
        try:
            exc.__notes__ = [note]
        except AttributeError:  # an exception type with __slots__: leave it as it is
            return


def _construct(factory: Any, *args: Any) -> Tuple[Any, Optional[BaseException]]:
    # What type.__call__ does, in two steps, so the instance survives an exception in
    # handle() (BaseRequestHandler.__init__ runs setup(), handle() and finish()).
    # Everything is caught, as a server closes the request whatever the handler raised.
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    if not isinstance(factory, type):
        try:
            return factory(*args), None
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            return None, exc
    cls: Any = factory
    handler: Any = cls.__new__(cls)
    try:
        if isinstance(handler, cls):
            handler.__init__(*args)
    except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
        return handler, exc
    return handler, None


@dataclass
class HandlerRun(Generic[H]):
    """What :func:`run_handler` saw: the handler, what it sent, and how the connection ended.

    Example:
        >>> import socketserver
        >>> class Echo(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline())
        >>> result = run_handler(Echo, b"hi\\n")
        >>> result.sent, result.closed_by
        (b'hi\\n', 'server')
    """

    handler: H
    """The handler instance (also when it raised and ``raise_errors=False``)."""
    socket: FakeStreamSocket
    """The fake connection the handler was given as ``self.request``."""
    server: Any
    """What the handler saw as ``self.server`` (a :class:`FakeServer` unless given)."""
    error: Optional[BaseException] = None
    """The exception the handler raised, when ``raise_errors=False``."""
    closed_by: str = "server"
    """Who ended the connection for the client: ``"handler"`` or ``"server"``.

    ``"handler"`` when the handler itself ended its sending side, so the
    client read EOF before the server's ``shutdown_request()``: with
    ``shutdown(SHUT_WR)``, ``shutdown(SHUT_RDWR)``, or ``close()`` once no
    ``makefile()`` file keeps the socket open. ``shutdown(SHUT_RD)`` alone
    does not end the connection for the client, so it leaves ``"server"``;
    :attr:`FakeStreamSocket.shutdowns <netserve_testing.FakeStreamSocket.shutdowns>`
    lists every call.
    """
    values: List[Any] = field(default_factory=list)
    """With a script: the value of each expectation (the match object of ``expect_regex``)."""

    @property
    def transcript(self) -> Transcript:
        """The conversation, with the chunk boundaries that were used."""
        return self.socket.transcript

    @property
    def sent(self) -> bytes:
        """Every byte the handler sent."""
        return self.socket.sent

    @property
    def sends(self) -> List[bytes]:
        """The bytes of each ``send()``/``sendall()`` call, in order."""
        return self.socket.sends

    @property
    def text(self) -> str:
        """What the handler sent, decoded as UTF-8."""
        return self.socket.sent.decode("utf-8")

    @property
    def lines(self) -> List[str]:
        """What the handler sent, decoded as UTF-8 and split into lines (endings removed)."""
        return self.text.splitlines()

    @property
    def unread(self) -> bytes:
        """Bytes the client sent that the handler never read."""
        return self.socket.unread

    @property
    def reset(self) -> bool:
        """Whether the client reset the connection (``then="reset"`` or a script's ``reset()``).

        True as well when the handler never read or wrote again after the reset
        (it did not see it); :attr:`error` holds the ``ConnectionResetError``
        when the handler saw it and let it escape.
        """
        return self.socket._peer_closed

    @property
    def reset_sent(self) -> bool:
        """Whether closing the connection reset it, because the handler left bytes unread.

        Linux answers a close with unread inbound data with a reset instead of
        a clean EOF: the client reads the reply, then (Unix sockets, or TCP when
        the handler had not shut down writing first) ``ConnectionResetError``;
        on TCP its next send fails. :attr:`unread` holds the bytes; the
        socket's :attr:`~netserve_testing.FakeStreamSocket.peer` reads as that
        client would.
        """
        return self.socket._rst_sent


def run_handler(
    handler_class: Callable[..., H],
    inbound: Union[bytes, Sequence[bytes], Script] = b"",
    *,
    then: Optional[str] = None,
    chunking: ChunkingLike = None,
    seed: Optional[int] = None,
    server: Any = None,
    client_address: Address = None,
    family: Optional[int] = None,
    max_send: Optional[int] = None,
    raise_errors: bool = True,
    tls: bool = False,
) -> HandlerRun[H]:
    """Run a stream handler on one in-memory connection, as a TCP or Unix stream server would.

    The handler is built as ``handler_class(request, client_address,
    server)`` (the stdlib's ``BaseRequestHandler.__init__`` then runs
    ``setup()``, ``handle()`` and ``finish()``); afterwards the connection is
    shut down and closed, as ``TCPServer.shutdown_request()`` does. Handlers
    written for the stdlib's ``socketserver`` and for ``netserve`` both work.

    Args:
        handler_class: The request handler class.
        inbound: What the client sends: bytes, a list of chunks (each read
            returns at most one chunk), or a :class:`~netserve_testing.Script`
            played in lockstep with the handler.
        then: After ``inbound`` bytes, the client sends EOF (``"eof"``, the
            default), resets (``"reset"``: a TCP RST, a close on ``AF_UNIX``, as
            :meth:`FakePeer.reset <netserve_testing.FakePeer.reset>` says) or goes
            quiet (``"quiet"``: the handler's next read times out). A script says
            this with its own steps.
        chunking: How inbound bytes split across reads: ``None`` (as given),
            ``"bytewise"``, an ``int`` size, ``"random"`` or a
            :class:`~netserve_testing.Chunking`.
        seed: Seed for ``chunking="random"`` (printed in failures for replay).
        server: What the handler sees as ``self.server``: a
            :class:`~netserve_testing.FakeServer` by default; or a real server
            class (built with ``bind_and_activate=False``, no socket bound) or
            such an instance, which is readied as its ``server_bind()`` would
            (``server_name``/``server_port`` of ``HTTPServer``, the environ of
            ``WSGIServer``) and its unbound socket closed. See the README's
            recipes for ``http.server``, ``xmlrpc.server`` and ``wsgiref``.
        client_address: The client's address (a default per family).
        family: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``; by default the
            server's ``address_family``, else ``AF_INET``.
        max_send: Accept at most this many bytes per ``send()`` call.
        raise_errors: If true (the default), an exception from the handler
            propagates, with the transcript attached as a note. If false it is
            kept in :attr:`HandlerRun.error`, as a server would log it.
        tls: Play the conversation over a real TLS session in memory: the handler's
            ``self.request`` is a :class:`~netserve_testing.FakeTLSSocket` (it behaves
            as an ``ssl.SSLSocket``), certificates come from the session CA, the
            chunking splits the TLS bytes, and ``sent`` is what the client decrypted.

    Returns:
        A :class:`HandlerRun`.

    Raises:
        ExpectationFailed: A script's expectation was not met (always raised).
        HandlerWouldBlock: The handler read with no data and no timeout
            (always raised, even when the handler caught it).

    Example:
        >>> import socketserver
        >>> class Upper(socketserver.BaseRequestHandler):
        ...     def handle(self):
        ...         self.request.sendall(self.request.recv(1024).strip().upper())
        >>> run_handler(Upper, b"hello\\n").sent
        b'HELLO'
    """
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    if isinstance(inbound, Script) and then is not None:
        raise ValueError(
            f"then={then!r} does not apply to a Script: end it with .close(), .reset() "
            f"or .go_quiet()"
        )
    if server is None:
        family = socket.AF_INET if family is None else family
        server = FakeServer(address_family=family, RequestHandlerClass=handler_class)
    else:
        server, family = prepare_server(server, handler_class, family)
    if client_address is None:
        client_address = default_address(family, local=False)
    socket_class = FakeTLSSocket if tls else FakeStreamSocket
    sock = socket_class(
        inbound,
        then=then or "eof",
        chunking=chunking,
        seed=seed,
        family=family,
        sockname=getattr(server, "server_address", None),
        peername=client_address,
        max_send=max_send,
    )
    sock._log.insert(0, (LOG_CONNECTION, (client_address, handler_class)))
    handler, error = _construct(handler_class, sock, client_address, server)
    if sock._blocked is not None:
        error = _blocked_error(sock._blocked, error)
    if server.__class__ is FakeServer and server._missing:
        _report_missing(sock, server._missing)
    closed_by = "handler" if sock.write_shut else "server"
    # TCPServer.shutdown_request(): shut down writing (errors ignored), then close.
    try:  # noqa: SIM105 - a plain try is cheaper than suppress(), and runs every time
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()
    player = sock.player
    if player is not None and isinstance(error, socket.timeout):
        player.timed_out(sock)  # sets player.failure if the script was waiting for output
    if player is not None and player.failure is not None and player.failure is not error:
        raise player.failure from error
    if error is not None and (raise_errors or not isinstance(error, Exception)):
        _attach_transcript(error, sock.transcript)
        raise error
    if player is not None:
        player.finish(sock)
    return HandlerRun(
        handler=handler,
        socket=sock,
        server=server,
        error=error,
        closed_by=closed_by,
        values=list(player.values) if player is not None else [],
    )


@dataclass
class DatagramRun(Generic[H]):
    """What :func:`run_datagram_handler` saw: the handler and the datagrams it sent.

    Example:
        >>> import socketserver
        >>> class Pong(socketserver.DatagramRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(b"pong")
        >>> run_datagram_handler(Pong, b"ping").reply
        b'pong'
    """

    handler: H
    """The handler instance."""
    socket: FakeDatagramSocket
    """The fake server socket, given to the handler as ``self.request[1]``."""
    server: Any
    """What the handler saw as ``self.server``."""
    client_address: Address
    """The address the datagram came from."""
    truncated: bool = False
    """Whether the datagram was longer than ``max_packet_size`` and was cut."""
    error: Optional[BaseException] = None
    """The exception the handler raised, when ``raise_errors=False`` (with a script: the first)."""
    handlers: List[H] = field(default_factory=list)
    """Every handler instance, one a datagram (``handler`` is the last one)."""
    values: List[Any] = field(default_factory=list)
    """With a script: the value of each expectation (the match object of ``expect_regex``)."""

    @property
    def transcript(self) -> Transcript:
        """The datagram received and the replies sent."""
        return self.socket.transcript

    @property
    def replies(self) -> List[Tuple[bytes, Address]]:
        """Every datagram the handler sent, as ``(data, address)``."""
        return list(self.socket.sent)

    @property
    def reply(self) -> bytes:
        """The data of the one datagram the handler sent to the client.

        Raises:
            ExpectationFailed: The handler sent no datagram, several, or one
                to another address.
        """
        replies = self.replies
        if len(replies) != 1 or replies[0][1] != self.client_address:
            raise ExpectationFailed(
                f"expected one reply to {self.client_address!r}, the handler sent {replies!r}",
                self.transcript,
            )
        return replies[0][0]


def run_datagram_handler(
    handler_class: Callable[..., H],
    data: Union[bytes, Script],
    *,
    client_address: Address = _UNSET,
    family: int = socket.AF_INET,
    server: Any = None,
    max_packet_size: Optional[int] = None,
    raise_errors: bool = True,
) -> DatagramRun[H]:
    """Run a datagram handler on one in-memory datagram, as a UDP or Unix datagram server would.

    The server's ``get_request()`` is reproduced: the datagram is received
    with ``recvfrom(max_packet_size)`` (so a longer one is truncated), and
    the handler gets ``request = (data, socket)``. It works for
    ``BaseRequestHandler`` subclasses that call ``socket.sendto(...,
    self.client_address)`` and for ``DatagramRequestHandler`` ones that
    write to ``self.wfile``.

    With a :class:`~netserve_testing.Script`, the conversation of a
    datagram client is played: each ``send`` is one datagram, run through a
    new handler instance as a server does; each ``expect`` checks the next
    datagram the handlers sent to the client, all of it (``expect_line`` and
    ``expect_regex`` take it as one line, final line ending optional, as the
    real :class:`~netserve_testing.DatagramClient` does). ``close`` and
    ``go_quiet`` only end the client's part; ``reset`` and ``expect_closed``
    have no meaning without a connection and raise :class:`NotImplementedError`.

    Args:
        handler_class: The request handler class.
        data: The datagram the client sends, or a script of datagrams and replies.
        client_address: Where it comes from (a default per family; for
            ``AF_UNIX`` a bound client path, or ``None`` for an unbound client).
        family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
        server: What the handler sees as ``self.server``; a
            :class:`~netserve_testing.FakeServer` with ``socket`` set to the
            fake socket by default.
        max_packet_size: Receive size; defaults to ``server.max_packet_size``
            (8192, as ``UDPServer``).
        raise_errors: As for :func:`run_handler`.

    Returns:
        A :class:`DatagramRun`.

    Raises:
        ExpectationFailed: A script's expectation was not met.

    Example:
        >>> import socketserver
        >>> class Upper(socketserver.BaseRequestHandler):
        ...     def handle(self):
        ...         data, sock = self.request
        ...         sock.sendto(data.upper(), self.client_address)
        >>> run_datagram_handler(Upper, b"hi").replies
        [(b'HI', ('127.0.0.1', 50000))]
        >>> script = Script().send(b"a").expect(b"A").send(b"b\\n").expect_line("B")
        >>> run_datagram_handler(Upper, script).values
        [b'A', 'B']
    """
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    if client_address is _UNSET:
        unix = family == getattr(socket, "AF_UNIX", None)
        client_address = (
            "/tmp/netserve-fake-client.sock" if unix else default_address(family, local=False)
        )
    if server is None:
        server = FakeServer(
            address_family=family, socket_type=socket.SOCK_DGRAM, RequestHandlerClass=handler_class
        )
    elif getattr(server, "RequestHandlerClass", None) is None:
        server.RequestHandlerClass = handler_class
    sock = FakeDatagramSocket(
        [] if isinstance(data, Script) else [(data, client_address)],
        family=family,
        sockname=getattr(server, "server_address", None),
    )
    if server.__class__ is FakeServer:
        # Not hasattr(): on a FakeServer it would count as asked for, and cost a raise.
        server.__dict__.setdefault("socket", sock)
    elif not hasattr(server, "socket"):
        server.socket = sock
    size = max_packet_size if max_packet_size is not None else server.max_packet_size
    if isinstance(data, Script):
        return _play_datagrams(
            data, handler_class, sock, server, client_address, size, raise_errors
        )
    # UDPServer.get_request(): recvfrom(max_packet_size), then ((data, socket), address).
    packet, address = sock.recvfrom(size)
    handler, error = _construct(handler_class, (packet, sock), address, server)
    if sock._blocked is not None:
        error = _blocked_error(sock._blocked, error)
    if error is not None and (raise_errors or not isinstance(error, Exception)):
        _attach_transcript(error, sock.transcript)
        raise error
    # UDPServer.shutdown_request() only calls close_request(), which does nothing.
    return DatagramRun(
        handler=handler,
        socket=sock,
        server=server,
        client_address=address,
        truncated=len(data) > size,
        error=error,
        handlers=[handler],
    )


def _play_datagrams(
    script: Script,
    handler_class: Callable[..., H],
    sock: FakeDatagramSocket,
    server: Any,
    client_address: Address,
    size: int,
    raise_errors: bool,
) -> DatagramRun[H]:
    # A datagram client's script, in order: a send is one datagram, handled at once by
    # a new handler (as a server's get_request() and process_request() would); an
    # expectation takes the next datagram sent to the client, as the client's recvfrom().
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    plan = script._compile()
    count = len(plan)
    for number, (kind, step) in enumerate(plan, 1):
        if kind == RESET or isinstance(step, ExpectClosed):
            raise NotImplementedError(
                f"script step {number} ({step.describe()}) has no meaning for datagrams: "
                f"there is no connection"
            )
    if not any(kind == SEND for kind, _ in plan):
        raise ValueError("a datagram script needs at least one send")
    handlers: List[H] = []
    values: List[Any] = []
    first_error: Optional[BaseException] = None
    truncated = False
    read = 0  # datagrams of sock.sent the client has looked at
    for number, (kind, step) in enumerate(plan, 1):
        if kind == SEND:
            sock.deliver(step.data, client_address)
            packet, address = sock.recvfrom(size)
            truncated = truncated or len(step.data) > size
            handler, error = _construct(handler_class, (packet, sock), address, server)
            error = _blocked_error(sock._blocked, error)
            handlers.append(handler)
            if error is not None:
                if raise_errors or not isinstance(error, Exception):
                    _attach_transcript(error, sock.transcript)
                    raise error
                first_error = first_error or error
        elif kind == EXPECT:
            reply = None
            while reply is None and read < len(sock.sent):
                data, address = sock.sent[read]
                read += 1
                if address == client_address:  # the client only sees its own datagrams
                    reply = data
            if reply is None:
                expected = step.describe().replace("expect ", "", 1)
                received, why = "nothing", "the handlers sent no more datagrams to the client"
            else:
                outcome = step.match_datagram(reply)
                if not isinstance(outcome, Mismatch):
                    values.append(outcome.value)
                    continue
                expected, received, why = outcome.expected, outcome.received, "one datagram"
            sock.transcript.mismatch(expected, received, why)
            details = details_of(f"the datagram {expected}", received, step, reply or b"", [why])
            raise script_failure(
                details, sock.transcript, number=number, count=count, step=step.describe()
            )
        elif kind == PAUSE:
            sock.transcript.event(f"client paused {step.seconds:g} s (fake clock)")
        else:
            sock.transcript.event("client closed" if kind == CLOSE else "client went quiet")
    return DatagramRun(
        handler=handlers[-1],
        socket=sock,
        server=server,
        client_address=client_address,
        truncated=truncated,
        error=first_error,
        handlers=handlers,
        values=values,
    )

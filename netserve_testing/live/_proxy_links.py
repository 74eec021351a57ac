"""One proxied connection (stream) or client session (datagram), served by the proxy's loop.

A link has two pipes, ``to_server`` and ``to_client``. A pipe reads from one
socket, lets the faults that apply shape what it read (delay it, cut it, drop
it, end the connection after it), queues the pieces with their release times and
writes them to the other socket when they are due. With no fault and nothing
queued, a chunk is written at once (the fast path). Everything here runs in the
loop's thread.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import random
import selectors
import socket
import struct
import time
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from ._faults import Fault, Pieces, Refuse, Shaping
from ._proxy_loop import tracked_socket
from ._proxy_transcript import ConnectionTranscript, ProxyEvent

if TYPE_CHECKING:
    from ._proxy import FaultProxy

__all__ = ["DatagramLink", "Link", "StreamLink"]

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
_RECV_SIZE = 65536
# A pipe stops reading when this much waits in its queue, and reads again below the low mark.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18
# How long a Unix connect() whose listen backlog is full is retried, and how often.
_CONNECT_DEADLINE = 5.0
_CONNECT_RETRY = 0.002
_LINGER_RESET = struct.pack("ii", 1, 0)


class _Applied:
    # How one fault applies to one link: drawn once, with a Shaping per direction it acts on.
    __slots__ = ("applies", "fault", "shapings")

    def __init__(self, fault: Fault, applies: bool, shapings: Dict[str, Shaping]) -> None:
        self.fault = fault
        self.applies = applies
        self.shapings = shapings


class _Pipe:
    # One direction. Invariant: queue entries are (release, received, data) with release times
    # that never decrease; `pending` is the sum of their lengths.
    __slots__ = (
        "direction",
        "done",
        "eof",
        "eof_release",
        "finish",
        "last",
        "link",
        "pending",
        "queue",
        "reading",
        "send",
        "timer",
        "want_write",
    )

    def __init__(self, link: Link, direction: str) -> None:
        self.link = link
        self.direction = direction
        self.queue: Deque[Tuple[float, float, bytes]] = collections.deque()
        self.pending = 0
        self.last = 0.0
        self.reading = False
        self.want_write = False
        self.eof = False
        self.eof_release: Optional[float] = None
        self.done = False
        self.finish: Optional[str] = None
        self.timer: Optional[float] = None
        self.send: Any = None  # the destination's send(data) -> int

    def take(self, data: bytes) -> None:
        link = self.link
        now = time.monotonic()
        active = link.active(self.direction) if link.proxy._faults else ()
        if not active and not self.queue:
            try:
                sent = self.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                link.failed_send(self, exc, data)
                return
            if sent:  # sent as it was read: one timestamp for both
                at = now - link.t0
                chunk = data if sent == len(data) else data[:sent]
                link.transcript.add_data(ProxyEvent(at, "data", self.direction, chunk, at))
            if sent < len(data):
                self.queue.append((now, now, data[sent:]))
                self.pending += len(data) - sent
                self.set_want_write(True)
                self.check_pressure()
            return
        pieces: Pieces = [(now, data)]
        for fault, shaping in active:
            shaping.now = now
            pieces = fault._shape(shaping, pieces)
            link.collect(self, fault, shaping)
        for when, piece in pieces:
            release = self.last = max(when, self.last)
            self.queue.append((release, now, piece))
            self.pending += len(piece)
        self.pump()

    def on_eof(self) -> None:
        link = self.link
        now = time.monotonic()
        self.eof = True
        self.reading = False
        delay = 0.0
        for fault, shaping in link.active(self.direction):
            shaping.now = now
            held = fault._eof(shaping)
            link.collect(self, fault, shaping)
            if held is None:
                link.update()
                return  # swallowed: the other side never sees this EOF
            delay += held
        self.eof_release = max(now + delay, self.last)
        link.update()
        self.pump()

    def pump(self) -> None:
        link = self.link
        now = time.monotonic()
        queue = self.queue
        while queue:
            release, received, data = queue[0]
            if release > now:
                self.set_want_write(False)  # the timer wakes the pipe, not writability
                self.schedule(release)
                break
            try:
                sent = self.send(data)
            except BlockingIOError:
                if link.datagram:
                    queue.popleft()
                    self.pending -= len(data)
                    link.event("error", self.direction, f"send buffer full, dropped {data!r}")
                    continue
                self.set_want_write(True)
                return
            except OSError as exc:
                if link.datagram:
                    queue.popleft()
                    self.pending -= len(data)
                link.failed_send(self, exc, data)
                if link.closed:
                    return
                continue
            link.record_data(self.direction, data if sent == len(data) else data[:sent], received)
            if sent < len(data):
                queue[0] = (release, received, data[sent:])
                self.pending -= sent
                self.set_want_write(True)
                return
            queue.popleft()
            self.pending -= len(data)
        else:
            self.set_want_write(False)
            if self.finish is not None:
                link.end(self.finish, f"{self.direction} fault ended the connection")
            elif self.eof and not self.done and self.eof_release is not None:
                if self.eof_release <= now:
                    link.forward_eof(self)
                else:
                    self.schedule(self.eof_release)
        self.check_pressure()

    def schedule(self, when: float) -> None:
        if self.timer is not None and self.timer <= when:
            return
        self.timer = when

        def due() -> None:
            if self.timer == when:
                self.timer = None
                if not self.link.closed:
                    self.pump()

        self.link.loop.call_at(when, due)

    def set_want_write(self, want: bool) -> None:
        if self.want_write != want:
            self.want_write = want
            self.link.update()

    def check_pressure(self) -> None:
        link = self.link
        if self.reading and self.pending > _HIGH_WATER:
            self.reading = False
            link.update()
        elif (
            not self.reading
            and self.pending < _LOW_WATER
            and link.connected
            and not (self.eof or self.finish or link.closed)
        ):
            self.reading = True
            link.update()


class Link:
    """What the stream and datagram links share: faults, the transcript, the end."""

    datagram = False

    def __init__(self, proxy: FaultProxy, number: int, client: str) -> None:
        self.proxy = proxy
        self.loop = proxy._loop
        self.number = number
        self.rng = random.Random(f"{proxy.seed}:{number}")
        self.transcript = ConnectionTranscript(
            number, client, repr(proxy.target), [f"seed {proxy.seed}"]
        )
        self.t0 = self.transcript.opened_at
        self.up = _Pipe(self, "to_server")
        self.down = _Pipe(self, "to_client")
        self.applied: Dict[int, _Applied] = {}
        self.connected = False
        self.closed = False

    # -- faults -------------------------------------------------------------------------------

    def active(self, direction: str) -> List[Tuple[Fault, Shaping]]:
        found = []
        for fault in self.proxy._faults:
            if type(fault) is Refuse:
                continue
            applied = self.applied.get(id(fault))
            if applied is None or applied.fault is not fault:
                applied = self.begin(fault)
            if applied.applies and direction in applied.shapings:
                found.append((fault, applied.shapings[direction]))
        return found

    def begin(self, fault: Fault) -> _Applied:
        # The first time a fault meets this link: draw whether it applies, start its timers.
        applies = fault.probability >= 1.0 or self.rng.random() < fault.probability
        if applies:
            self.event("fault", "", f"{fault!r} applies")
        else:
            self.event("fault", "", f"{fault!r} does not apply (probability {fault.probability:g})")
        shapings = {
            direction: Shaping(time.monotonic(), self.rng, self.datagram)
            for direction in ("to_server", "to_client")
            if fault.applies_to(direction)
        }
        applied = self.applied[id(fault)] = _Applied(fault, applies, shapings)
        if not applies:
            return applied
        for direction, shaping in shapings.items():
            reset_after = fault._start(shaping)
            self.collect(self.pipe(direction), fault, shaping)
            if reset_after is not None:
                self.reset_later(fault, shaping.now + reset_after)
        return applied

    def sync_faults(self) -> None:
        # After set_faults(): faults new to this link start now (their timers, their draws).
        if not self.closed:
            self.active("to_server")

    def reset_later(self, fault: Fault, when: float) -> None:
        def due() -> None:
            if not self.closed and any(f is fault for f in self.proxy._faults):
                self.event("fault", "", f"{fault!r}: time is up, resetting")
                self.end("reset", f"{fault!r}")

        if when <= time.monotonic() and self.connected:
            self.loop.call_soon(due)
        else:
            self.loop.call_at(when, due)

    def collect(self, pipe: _Pipe, fault: Fault, shaping: Shaping) -> None:
        at = shaping.now - self.t0  # when the fault acted: the bytes or the EOF were read
        for note in shaping.notes:
            self.transcript.add(ProxyEvent(at, "fault", pipe.direction, text=note))
        shaping.notes.clear()
        if shaping.finish is not None:
            if pipe.finish != "reset":
                pipe.finish = shaping.finish
            shaping.finish = None
            if pipe.reading:
                pipe.reading = False
                self.update()
            if not pipe.queue and self.connected:
                self.loop.call_soon(pipe.pump)

    def pipe(self, direction: str) -> _Pipe:
        return self.up if direction == "to_server" else self.down

    # -- the transcript -------------------------------------------------------------------------

    def event(self, kind: str, direction: str, text: str) -> None:
        self.transcript.add(ProxyEvent(time.monotonic() - self.t0, kind, direction, text=text))

    def record_data(self, direction: str, data: bytes, received: float) -> None:
        t0 = self.t0
        self.transcript.add_data(
            ProxyEvent(time.monotonic() - t0, "data", direction, data, received - t0)
        )

    # -- overridden ---------------------------------------------------------------------------

    def update(self) -> None:
        """Register the sockets for what the pipes want now."""

    def failed_send(self, pipe: _Pipe, exc: OSError, data: bytes) -> None:
        raise NotImplementedError

    def refuse(self, fault: Fault) -> None:
        raise NotImplementedError

    def forward_eof(self, pipe: _Pipe) -> None:
        raise NotImplementedError

    def end(self, how: str, why: str) -> None:
        raise NotImplementedError


def _side(direction: str) -> str:
    return "server" if direction == "to_server" else "client"


class StreamLink(Link):
    """A TCP or Unix stream connection through the proxy: the accepted socket, the upstream one."""

    def __init__(self, proxy: FaultProxy, number: int, conn: socket.socket, peer: Any) -> None:
        super().__init__(proxy, number, repr(peer) if peer else "a unix client")
        self.client = conn
        self.server: Optional[socket.socket] = None
        self.masks: Dict[socket.socket, int] = {}
        self.connect_deadline = time.monotonic() + _CONNECT_DEADLINE
        conn.setblocking(False)
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.down.send = conn.send
        self.event("open", "", f"{self.transcript.client} -> {self.transcript.server}")

    def refuse(self, fault: Fault) -> None:
        self.event("fault", "", f"{fault!r}: refused the connection")
        self.end("reset", "refused")

    def start(self) -> None:
        proxy = self.proxy
        server = tracked_socket(proxy._family, socket.SOCK_STREAM)
        server.setblocking(False)
        if proxy._family != socket.AF_UNIX:
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server = server
        self.up.send = server.send
        code = server.connect_ex(proxy.target)
        with contextlib.suppress(OSError):  # the handler's client_address, for teardown
            proxy._note_upstream(self.number, server.getsockname())
        if code == 0:
            self.on_connected()
        elif code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EINTR):
            if proxy._family == socket.AF_UNIX and code == errno.EAGAIN:
                self.retry_connect()  # the listen backlog is full: try again shortly
            else:
                self.set_mask(server, WRITE, self.on_connecting)
        else:
            self.connect_failed(code)

    def retry_connect(self) -> None:
        assert self.server is not None
        if time.monotonic() > self.connect_deadline:
            self.connect_failed(errno.EAGAIN)
            return

        def again() -> None:
            if self.closed or self.server is None:
                return
            code = self.server.connect_ex(self.proxy.target)
            if code == 0:
                self.on_connected()
            elif code == errno.EAGAIN:
                self.retry_connect()
            else:
                self.connect_failed(code)

        self.loop.call_at(time.monotonic() + _CONNECT_RETRY, again)

    def on_connecting(self, mask: int) -> None:
        assert self.server is not None
        code = self.server.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.connect_failed(code)
        else:
            self.on_connected()

    def connect_failed(self, code: int) -> None:
        self.event(
            "error",
            "",
            f"connect to {self.proxy.target!r} failed: {errno.errorcode.get(code, code)}",
        )
        self.end("reset", "no server")

    def on_connected(self) -> None:
        self.connected = True
        self.up.reading = self.down.reading = True
        self.active("to_server")  # faults start now: their draws, their timers
        if self.closed:
            return
        for pipe in (self.up, self.down):
            if pipe.finish is not None and not pipe.queue:
                pipe.pump()
                if self.closed:
                    return
        self.update()

    def update(self) -> None:
        if self.closed or not self.connected:
            return
        assert self.server is not None
        up, down = self.up, self.down
        self.set_mask(
            self.client,
            (READ if up.reading else 0) | (WRITE if down.want_write else 0),
            self.on_client,
        )
        self.set_mask(
            self.server,
            (READ if down.reading else 0) | (WRITE if up.want_write else 0),
            self.on_server,
        )

    def set_mask(self, sock: socket.socket, mask: int, callback: Any) -> None:
        old = self.masks.get(sock, 0)
        if mask == old:
            return
        selector = self.loop.selector
        if not old:
            selector.register(sock, mask, callback)
        elif not mask:
            selector.unregister(sock)
        else:
            selector.modify(sock, mask, callback)
        self.masks[sock] = mask

    def on_client(self, mask: int) -> None:
        if mask & WRITE:
            self.down.pump()
        if mask & READ and not self.closed and self.up.reading:
            self.read(self.client, self.up)

    def on_server(self, mask: int) -> None:
        if mask & WRITE:
            self.up.pump()
        if mask & READ and not self.closed and self.down.reading:
            assert self.server is not None
            self.read(self.server, self.down)

    def read(self, sock: socket.socket, pipe: _Pipe) -> None:
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            who = "client" if pipe is self.up else "server"
            self.end("reset", f"the {who} reset the connection ({exc.strerror or exc})")
            return
        if data:
            pipe.take(data)
        else:
            pipe.on_eof()

    def failed_send(self, pipe: _Pipe, exc: OSError, data: bytes) -> None:
        who = _side(pipe.direction)
        self.end("reset", f"sending to the {who} failed ({exc.strerror or exc})")

    def forward_eof(self, pipe: _Pipe) -> None:
        pipe.done = True
        sock = self.server if pipe is self.up else self.client
        try:
            assert sock is not None
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the other side has gone already: the close below tells it the rest
        sender = "client" if pipe is self.up else "server"
        self.event("eof", pipe.direction, f"the {sender} closed its side; EOF sent on")
        if self.up.done and self.down.done:
            self.end("close", "both sides closed")

    def end(self, how: str, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.server):
            if sock is None:
                continue
            if self.masks.get(sock):
                self.loop.selector.unregister(sock)
            if how == "reset":
                # Not connected (OSError): a plain close is all there is.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            sock.close()
        self.masks.clear()
        self.up.queue.clear()
        self.down.queue.clear()
        self.proxy._links.discard(self)
        self.proxy._note_upstream(self.number, None)
        self.event(how, "", why)


class DatagramLink(Link):
    """The datagrams of one client address: the proxy's socket to it, an upstream socket."""

    datagram = True

    def __init__(self, proxy: FaultProxy, number: int, peer: Any) -> None:
        super().__init__(proxy, number, repr(peer))
        self.peer = peer
        self.refused = False
        listener = proxy._listener
        assert listener is not None
        upstream = tracked_socket(proxy._family, socket.SOCK_DGRAM)
        upstream.setblocking(False)
        self.upstream = upstream
        try:
            upstream.connect(proxy.target)
        except BaseException:
            upstream.close()
            raise
        self.up.send = upstream.send
        self.down.send = lambda data: listener.sendto(data, peer)
        self.connected = True
        self.up.reading = self.down.reading = True
        self.event("open", "", f"{self.transcript.client} -> {self.transcript.server}")
        self.loop.selector.register(upstream, READ, self.on_server)
        self.registered = True
        self.active("to_server")

    def refuse(self, fault: Fault) -> None:
        self.refused = True
        self.event("fault", "", f"{fault!r}: refused; datagrams from this client are dropped")

    def take(self, data: bytes) -> None:
        if self.refused or self.closed:
            return
        self.up.take(data)

    def on_server(self, mask: int) -> None:
        try:
            data = self.upstream.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.event(
                "error", "to_client", f"receive from the server failed ({exc.strerror or exc})"
            )
            return
        if self.down.reading:
            self.down.take(data)

    def update(self) -> None:
        if self.closed:
            return
        want = bool(self.down.reading)
        if want != self.registered:
            if want:
                self.loop.selector.register(self.upstream, READ, self.on_server)
            else:
                self.loop.selector.unregister(self.upstream)
            self.registered = want

    def failed_send(self, pipe: _Pipe, exc: OSError, data: bytes) -> None:
        self.event("error", pipe.direction, f"send of {data!r} failed ({exc.strerror or exc})")

    def forward_eof(self, pipe: _Pipe) -> None:
        pipe.done = True

    def end(self, how: str, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.registered:
            self.loop.selector.unregister(self.upstream)
            self.registered = False
        self.upstream.close()
        self.up.queue.clear()
        self.down.queue.clear()
        self.event("close", "", why)

"""What went through one connection of a fault proxy: bytes with timestamps, and fault events."""

from __future__ import annotations

import threading
import time
from typing import Callable, List, NamedTuple, Optional, Sequence

from ..script._transcript import Transcript

__all__ = ["ConnectionTranscript", "ProxyEvent"]

#: Event kinds; "data" carries bytes, the others a description in ``text``.
KINDS = ("open", "data", "eof", "fault", "close", "reset", "error")


class ProxyEvent(NamedTuple):
    """One event on a proxied connection.

    Attributes:
        at: Seconds since the proxy accepted the connection (``time.monotonic()``
            based) when it happened; for ``"data"``, when the bytes left the proxy.
        kind: ``"open"``, ``"data"``, ``"eof"``, ``"fault"``, ``"close"``,
            ``"reset"`` or ``"error"``.
        direction: ``"to_server"``, ``"to_client"``, or ``""`` for the whole connection.
        data: The bytes sent on (``"data"`` only).
        received: For ``"data"``: when the proxy read those bytes (same clock as ``at``),
            so ``at - received`` is the delay the faults added.
        text: What happened, for the other kinds.

    Example:
        >>> event = ProxyEvent(0.25, "data", "to_server", b"hi", received=0.05)
        >>> round(event.at - event.received, 2), event.format()
        (0.2, "+0.250000 >>> b'hi' (read at +0.050000)")
    """

    at: float
    kind: str
    direction: str = ""
    data: bytes = b""
    received: Optional[float] = None
    text: str = ""

    def format(self) -> str:
        """Return the event as one line: time, arrow or ``---``, what happened.

        Example:
            >>> ProxyEvent(1.5, "fault", "to_client", text="Latency(seconds=0.1)").format()
            '+1.500000 --- fault to_client: Latency(seconds=0.1)'
        """
        stamp = f"+{self.at:.6f}"
        if self.kind == "data":
            arrow = ">>>" if self.direction == "to_server" else "<<<"
            delayed = ""
            if self.received is not None and self.at - self.received >= 0.0005:
                delayed = f" (read at +{self.received:.6f})"
            return f"{stamp} {arrow} {self.data!r}{delayed}"
        where = f" {self.direction}" if self.direction else ""
        return f"{stamp} --- {self.kind}{where}: {self.text}"


class ConnectionTranscript:
    """Everything that went through one connection of a :class:`FaultProxy`, in order.

    The proxy's thread appends; tests read :attr:`events` (a copy) and can wait for
    the connection to end with :meth:`wait_closed`. :meth:`to_transcript` turns it
    into the script wing's :class:`~netserve_testing.Transcript` (bytes the server
    got as ``>>>``, bytes the client got as ``<<<``, events as ``---``).

    Example:
        >>> t = ConnectionTranscript(1, "('127.0.0.1', 5000)", "('127.0.0.1', 8000)")
        >>> t.add(ProxyEvent(0.001, "data", "to_server", b"ping"))
        >>> t.add(ProxyEvent(0.002, "data", "to_client", b"pong"))
        >>> t.to_server, t.to_client
        (b'ping', b'pong')
        >>> t.to_transcript().format().splitlines()[1:]
        [">>> b'ping'", "<<< b'pong'"]
    """

    def __init__(self, number: int, client: str, server: str, header: Sequence[str] = ()) -> None:
        #: 1 for the proxy's first connection, and so on.
        self.number = number
        #: The client's address, as text.
        self.client = client
        #: Where the proxy forwards to, as text.
        self.server = server
        #: ``time.monotonic()`` when the proxy accepted the connection.
        self.opened_at = time.monotonic()
        self._header = list(header)
        self._events: List[ProxyEvent] = []
        self._cond = threading.Condition(threading.RLock())
        self._closed = False
        self._waiters = 0  # threads in wait_until(): add() wakes them only when there are some

    # -- the proxy's thread ------------------------------------------------------------------

    def add(self, event: ProxyEvent) -> None:
        """Append an event (the proxy's thread does this).

        Example:
            >>> t = ConnectionTranscript(1, "a", "b")
            >>> t.add(ProxyEvent(0.0, "open", text="a -> b"))
            >>> len(t.events)
            1
        """
        # The hot path takes no lock: list.append is atomic, and a waiter counts itself in
        # (under the lock) before it reads the events, so it sees this one or is woken.
        self._events.append(event)
        if event.kind in ("close", "reset"):
            self._closed = True
        if self._waiters:
            with self._cond:
                self._cond.notify_all()

    def add_data(self, event: ProxyEvent) -> None:
        """Append a ``"data"`` event: :meth:`add` for the proxy's hot path.

        Example:
            >>> t = ConnectionTranscript(1, "a", "b")
            >>> t.add_data(ProxyEvent(0.0, "data", "to_server", b"x", 0.0))
            >>> t.to_server
            b'x'
        """
        self._events.append(event)
        if self._waiters:
            with self._cond:
                self._cond.notify_all()

    # -- the test's side ---------------------------------------------------------------------

    @property
    def events(self) -> List[ProxyEvent]:
        """A copy of the events so far."""
        with self._cond:
            return list(self._events)

    @property
    def closed(self) -> bool:
        """Whether the proxy has closed (or reset) both sides of the connection."""
        with self._cond:
            return self._closed

    def wait_closed(self, timeout: float = 5.0) -> ConnectionTranscript:
        """Wait until the proxy has closed the connection; return the transcript.

        Raises:
            TimeoutError: Still open after ``timeout`` seconds.

        Example:
            >>> t = ConnectionTranscript(1, "a", "b")
            >>> t.add(ProxyEvent(0.0, "close", text="both sides closed"))
            >>> t.wait_closed(1.0).closed
            True
        """
        try:
            self.wait_until(lambda t: t._closed, timeout)
        except TimeoutError:
            message = f"proxy connection {self.number} from {self.client} still open"
            raise TimeoutError(f"{message} after {timeout:g} s") from None
        return self

    def wait_until(
        self, condition: Callable[[ConnectionTranscript], bool], timeout: float = 5.0
    ) -> ConnectionTranscript:
        """Wait until ``condition(transcript)`` is true; return the transcript.

        Wakes at each new event, never polls: the way to wait for bytes or a fault
        event that the proxy records in its own thread.

        Raises:
            TimeoutError: Still false after ``timeout`` seconds.

        Example:
            >>> t = ConnectionTranscript(1, "a", "b")
            >>> t.add(ProxyEvent(0.1, "data", "to_client", b"PONG"))
            >>> t.wait_until(lambda t: t.to_client == b"PONG", 1.0).number
            1
        """
        with self._cond:
            self._waiters += 1
            try:
                met = self._cond.wait_for(lambda: condition(self), timeout)
            finally:
                self._waiters -= 1
            if not met:
                raise TimeoutError(
                    f"proxy connection {self.number} from {self.client}: condition still "
                    f"false after {timeout:g} s; transcript:\n{self.format()}"
                )
        return self

    def _bytes(self, direction: str) -> bytes:
        return b"".join(
            e.data for e in self.events if e.kind == "data" and e.direction == direction
        )

    @property
    def to_server(self) -> bytes:
        """All the bytes the proxy sent on to the server."""
        return self._bytes("to_server")

    @property
    def to_client(self) -> bytes:
        """All the bytes the proxy sent back to the client."""
        return self._bytes("to_client")

    @property
    def faults(self) -> List[ProxyEvent]:
        """The fault events: which faults applied, what they cut, dropped, delayed, reset."""
        return [e for e in self.events if e.kind == "fault"]

    def format(self) -> str:
        """Return the transcript as text: a header, then one timestamped event a line.

        Example:
            >>> t = ConnectionTranscript(2, "a", "b")
            >>> t.add(ProxyEvent(0.5, "eof", "to_server", text="client sent EOF"))
            >>> print(t.format())
            proxy connection 2: a -> b
            +0.500000 --- eof to_server: client sent EOF
        """
        lines = [f"proxy connection {self.number}: {self.client} -> {self.server}"]
        lines += self._header
        lines += [event.format() for event in self.events]
        return "\n".join(lines)

    def to_transcript(self) -> Transcript:
        """Return the conversation as the script wing's :class:`~netserve_testing.Transcript`.

        Bytes the server got are inbound (``>>>``), bytes the client got outbound
        (``<<<``), each chunk as the proxy sent it; every other event is a ``---``
        line with its time.

        Example:
            >>> t = ConnectionTranscript(1, "a", "b")
            >>> t.add(ProxyEvent(0.1, "fault", "to_server", text="Latency(seconds=0.1)"))
            >>> t.to_transcript().format().splitlines()
            ['proxy connection 1: a -> b', '--- +0.100000 fault to_server: Latency(seconds=0.1)']
        """
        transcript = Transcript([f"proxy connection {self.number}: {self.client} -> {self.server}"])
        for line in self._header:
            transcript.add_header(line)
        for event in self.events:
            if event.kind == "data" and event.direction == "to_server":
                transcript.inbound(event.data)
            elif event.kind == "data":
                transcript.outbound(event.data)
            else:
                where = f" {event.direction}" if event.direction else ""
                transcript.event(f"+{event.at:.6f} {event.kind}{where}: {event.text}")
        return transcript

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<ConnectionTranscript {self.number} {self.client} -> {self.server} "
            f"({len(self.events)} events, {state})>"
        )

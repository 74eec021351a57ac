"""A conversation with a handler, written once and played over a fake or a real socket.

A :class:`Script` is an ordered list of steps. Steps that the client performs
(:class:`Send`, :class:`Close`, :class:`Reset`, :class:`GoQuiet`) and steps
that check what the handler sent (:class:`Expect`, :class:`ExpectLine`,
:class:`ExpectRegex`, :class:`ExpectClosed`) share one small interface, so the
same script runs in memory (``run_handler(Handler, script)``) and against a
real server (``script.run(server)``).

Expectations are pure: :meth:`Expectation.match` looks at the bytes received
so far and says "matched", "mismatch" or "need more data". Each transport only
feeds them bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, List, Optional, Protocol, Tuple, Union

from ._errors import ExpectationFailed
from ._transcript import Transcript

__all__ = [
    "Close",
    "Expect",
    "ExpectClosed",
    "ExpectLine",
    "ExpectRegex",
    "Expectation",
    "GoQuiet",
    "Matched",
    "Mismatch",
    "Reset",
    "Script",
    "ScriptClient",
    "Send",
    "Step",
]


class ScriptClient(Protocol):
    """What a transport must offer to play a :class:`Script` (a real client does).

    :meth:`Script.play` calls one method per step, so a client needs only the
    methods its scripts use.

    Example:
        >>> class PrintingClient:
        ...     def send(self, data):
        ...         print("send", data)
        ...     def expect(self, data):
        ...         print("expect", data)
        ...     def close(self):
        ...         print("close")
        >>> Script().send(b"hi").expect(b"HI").close().play(PrintingClient())
        send b'hi'
        expect b'HI'
        close
    """

    def send(self, data: bytes) -> Any: ...
    def expect(self, data: bytes) -> Any: ...
    def expect_line(self, text: str) -> Any: ...
    def expect_regex(self, pattern: Union[str, bytes, re.Pattern[bytes]]) -> Any: ...
    def expect_closed(self) -> Any: ...
    def close(self) -> Any: ...
    def reset(self) -> Any: ...
    def go_quiet(self) -> Any: ...


@dataclass(frozen=True)
class Matched:
    """An expectation was met by the first ``consumed`` bytes; ``value`` is its result.

    Example:
        >>> Expect(b"HI").match(b"HI there", False)
        Matched(consumed=2, value=b'HI')
    """

    consumed: int
    value: Any = None


@dataclass(frozen=True)
class Mismatch:
    """An expectation failed: what it wanted and what arrived, both already readable.

    Example:
        >>> Expect(b"HI").match(b"H", True)
        Mismatch(expected="b'HI'", received="b'H' then EOF")
    """

    expected: str
    received: str


Outcome = Optional[Union[Matched, Mismatch]]

# What ExpectClosed returns: one instance, as outcomes are immutable.
_MATCHED_EOF = Matched(0)


def _split_line(buffer: bytes) -> Optional[Tuple[bytes, int]]:
    # A line ends at b"\n"; a b"\r" before it is part of the ending, not the text.
    end = buffer.find(b"\n")
    if end < 0:
        return None
    line = buffer[:end]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line, end + 1


def _received(buffer: bytes, eof: bool) -> str:
    if not buffer:
        return "EOF" if eof else "nothing"
    return f"{buffer!r} then EOF" if eof else repr(buffer)


class Step:
    """One step of a :class:`Script`.

    Example:
        >>> [step.describe() for step in Script().send(b"hi").expect(b"HI").steps]
        ["send b'hi'", "expect b'HI'"]
    """

    def apply(self, client: ScriptClient) -> Any:
        """Perform this step with ``client`` (a real scripted client)."""
        raise NotImplementedError(f"{type(self).__name__}.apply")

    def describe(self) -> str:
        """Return how this step reads in a transcript or a failure message."""
        raise NotImplementedError(f"{type(self).__name__}.describe")


class Expectation(Step):
    """A step that checks the bytes the handler sent.

    Example:
        >>> ExpectLine("HI").match(b"HI\\nmore", False)
        Matched(consumed=3, value='HI')
        >>> ExpectLine("HI").match(b"H", False) is None  # more bytes are needed
        True
    """

    # Whether a datagram is checked as a line: its final line ending is optional.
    _line_based = False

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        """Check ``buffer``, the unread bytes received so far.

        Args:
            buffer: Bytes received and not consumed by an earlier expectation.
            eof: Whether the peer has closed its side (no more bytes will come).

        Returns:
            :class:`Matched` with how many bytes it consumed, :class:`Mismatch`,
            or ``None`` if more bytes are needed to decide.
        """
        raise NotImplementedError(f"{type(self).__name__}.match")

    def match_datagram(self, datagram: bytes) -> Union[Matched, Mismatch]:
        """Check one whole datagram the handler sent (a datagram script, a datagram client).

        The datagram must match all of it: ``expect`` wants exactly its bytes;
        ``expect_line`` and ``expect_regex`` take the datagram as one line,
        whose final line ending is optional.

        Example:
            >>> ExpectLine("HI").match_datagram(b"HI")
            Matched(consumed=3, value='HI')
            >>> Expect(b"HI").match_datagram(b"HI!")
            Mismatch(expected="b'HI'", received="b'HI!'")
        """
        line = self._line_based and not datagram.endswith(b"\n")
        fed = datagram + b"\n" if line else datagram
        outcome = self.match(fed, True)
        if isinstance(outcome, Matched) and outcome.consumed == len(fed):
            return outcome
        if isinstance(outcome, Mismatch):
            return Mismatch(outcome.expected, repr(datagram))
        return Mismatch(self.describe().replace("expect ", "", 1), repr(datagram))


@dataclass(frozen=True)
class Send(Step):
    """The client sends ``data`` (one chunk).

    Example:
        >>> Script().send(b"hi").steps
        (Send(data=b'hi'),)
        >>> Send(b"hi").describe()
        "send b'hi'"
    """

    data: bytes

    def apply(self, client: ScriptClient) -> Any:
        return client.send(self.data)

    def describe(self) -> str:
        return f"send {self.data!r}"


@dataclass(frozen=True)
class Close(Step):
    """The client shuts down its sending side: the handler reads EOF.

    Example:
        >>> from netserve_testing import run_handler
        >>> import socketserver
        >>> class Count(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(b"%d" % len(self.rfile.read()))
        >>> run_handler(Count, Script().send(b"abc").close().expect(b"3")).sent
        b'3'
    """

    def apply(self, client: ScriptClient) -> Any:
        return client.close()

    def describe(self) -> str:
        return "close (EOF)"


@dataclass(frozen=True)
class Reset(Step):
    """The client aborts the connection: the handler sees a connection reset.

    Example:
        >>> from netserve_testing import run_handler
        >>> import socketserver
        >>> class Read(socketserver.BaseRequestHandler):
        ...     def handle(self):
        ...         self.request.recv(1024)
        >>> run = run_handler(Read, Script().reset(), raise_errors=False)
        >>> type(run.error).__name__, run.reset
        ('ConnectionResetError', True)
    """

    def apply(self, client: ScriptClient) -> Any:
        return client.reset()

    def describe(self) -> str:
        return "reset"


@dataclass(frozen=True)
class GoQuiet(Step):
    """The client stops sending without closing: the handler's read times out.

    Example:
        >>> from netserve_testing import run_handler
        >>> import socket, socketserver
        >>> class Patient(socketserver.StreamRequestHandler):
        ...     timeout = 5
        ...     def handle(self):
        ...         self.rfile.readline()
        >>> run = run_handler(Patient, Script().go_quiet(), raise_errors=False)
        >>> isinstance(run.error, socket.timeout)
        True
    """

    def apply(self, client: ScriptClient) -> Any:
        return client.go_quiet()

    def describe(self) -> str:
        return "go quiet (the handler's next read times out)"


@dataclass(frozen=True)
class Expect(Expectation):
    """The handler sends exactly ``data`` next.

    Example:
        >>> Expect(b"HI").match(b"HI there", False)
        Matched(consumed=2, value=b'HI')
        >>> Expect(b"HI").match(b"HO", False)
        Mismatch(expected="b'HI'", received="b'HO'")
    """

    data: bytes
    # The outcome of a match: immutable, so one instance serves every run of the step.
    _matched: Matched = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matched", Matched(len(self.data), self.data))

    def apply(self, client: ScriptClient) -> Any:
        return client.expect(self.data)

    def describe(self) -> str:
        return f"expect {self.data!r}"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        size = len(self.data)
        if buffer[:size] == self.data:
            return self._matched
        if self.data.startswith(buffer) and not eof:
            return None
        return Mismatch(repr(self.data), _received(buffer[:size], eof and len(buffer) <= size))


@dataclass(frozen=True)
class ExpectLine(Expectation):
    """The handler sends the line ``text`` next, ended by ``\\n`` or ``\\r\\n``.

    Example:
        >>> ExpectLine("250 ok").match(b"250 ok\\r\\nnext", False)
        Matched(consumed=8, value='250 ok')
    """

    text: str
    encoding: str = "utf-8"
    _line_based = True
    _wanted: bytes = field(init=False, repr=False, compare=False)
    # The line with each ending, when a plain prefix test decides a match (the text holds
    # no b"\n" and does not end in b"\r"), and the outcome for each (see Expect).
    _lines: Optional[Tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    _matched: Tuple[Matched, Matched] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wanted = self.text.encode(self.encoding)
        plain = b"\n" not in wanted and not wanted.endswith(b"\r")
        size = len(wanted)
        object.__setattr__(self, "_wanted", wanted)
        object.__setattr__(self, "_lines", (wanted + b"\n", wanted + b"\r\n") if plain else None)
        object.__setattr__(
            self, "_matched", (Matched(size + 1, self.text), Matched(size + 2, self.text))
        )

    def apply(self, client: ScriptClient) -> Any:
        return client.expect_line(self.text)

    def describe(self) -> str:
        return f"expect line {self.text!r}"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        lines = self._lines
        if lines is not None:  # the common case, decided without splitting the line
            if buffer.startswith(lines[0]):
                return self._matched[0]
            if buffer.startswith(lines[1]):
                return self._matched[1]
        wanted = self._wanted
        split = _split_line(buffer)
        if split is None:
            if eof or not wanted.startswith(buffer.rstrip(b"\r")):
                return Mismatch(repr(wanted + b"\n"), _received(buffer, eof))
            return None
        line, consumed = split
        if line == wanted:
            return self._matched[consumed - len(wanted) - 1]
        return Mismatch(repr(wanted + b"\n"), repr(buffer[:consumed]))


@dataclass(frozen=True)
class ExpectRegex(Expectation):
    """The next line the handler sends matches ``pattern`` (``re.search``, line ending removed).

    The match object is the step's result: ``client.expect_regex(...)`` returns it.

    Example:
        >>> outcome = ExpectRegex.of(r"^250 (\\w+)").match(b"250 ok\\r\\n", False)
        >>> outcome.consumed, outcome.value.group(1)
        (8, b'ok')
    """

    pattern: bytes
    flags: int = 0
    _line_based = True
    _compiled: re.Pattern[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern, self.flags))

    @classmethod
    def of(cls, pattern: Union[str, bytes, re.Pattern[Any]], flags: int = 0) -> ExpectRegex:
        """Build from a ``str`` or ``bytes`` pattern (``str`` is encoded as UTF-8)."""
        if isinstance(pattern, re.Pattern):
            flags |= pattern.flags & ~re.UNICODE
            pattern = pattern.pattern
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        if not isinstance(pattern, bytes):
            raise TypeError(f"expect_regex() pattern must be str or bytes, not {pattern!r}")
        return cls(pattern, flags)

    def apply(self, client: ScriptClient) -> Any:
        return client.expect_regex(self._compiled)

    def describe(self) -> str:
        return f"expect a line matching {self.pattern!r}"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        split = _split_line(buffer)
        if split is None:
            if eof:
                return Mismatch(f"a line matching {self.pattern!r}", _received(buffer, eof))
            return None
        line, consumed = split
        found = self._compiled.search(line)
        if found is None:
            return Mismatch(f"a line matching {self.pattern!r}", repr(buffer[:consumed]))
        return Matched(consumed, found)


@dataclass(frozen=True)
class ExpectClosed(Expectation):
    """The handler sends nothing more and closes the connection (the client reads EOF).

    Example:
        >>> ExpectClosed().match(b"", True)
        Matched(consumed=0, value=None)
        >>> ExpectClosed().match(b"bye", True)
        Mismatch(expected='EOF', received="b'bye' then EOF")
    """

    def apply(self, client: ScriptClient) -> Any:
        return client.expect_closed()

    def describe(self) -> str:
        return "expect the connection to close"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        if buffer:
            return Mismatch("EOF", _received(buffer, eof))
        return _MATCHED_EOF if eof else None

    def match_datagram(self, datagram: bytes) -> Union[Matched, Mismatch]:
        """Not available: a datagram exchange has no connection to close."""
        raise NotImplementedError(
            "expect_closed() in a datagram exchange: there is no connection to close"
        )


# Step kinds in a compiled script: what a player branches on, without isinstance chains.
SEND, CLOSE, RESET, QUIET, EXPECT = range(5)


class Script:
    """A conversation with a handler, built with chainable steps.

    The same script runs in memory against a handler class
    (``netserve_testing.run_handler(Handler, script)``) and over a real
    connection (``script.run(server)`` or ``script.run(client)``).

    A script also drives a datagram handler:
    ``netserve_testing.run_datagram_handler(Handler, script)`` in memory, or
    ``script.run(udp_server)``. Each ``send`` is then one datagram (one
    handler run) and each expectation checks the next reply datagram whole
    (:meth:`Expectation.match_datagram`); ``reset`` and ``expect_closed``
    need a connection and raise :class:`NotImplementedError`.
    ``script.run(Handler)`` always means a stream handler, since a
    ``BaseRequestHandler`` subclass does not say which kind it is.

    Output after the last expectation fails a script that has expectations
    (a script of client steps only checks nothing), with one difference
    between the transports. In memory, when the handler is done, every byte
    it sent is known, so any byte after the last expectation fails. Over a
    real socket "nothing more came" cannot be known without waiting, so
    :meth:`play` checks only the bytes the client has already received and
    not consumed when the last step is done (see ``StreamClient.buffered``);
    it never waits for more. To ignore what follows, expect it; to require
    that nothing follows, end with :meth:`expect_closed`.

    Example:
        >>> script = Script().send_line("hi").expect_line("HI").close().expect_closed()
        >>> [step.describe() for step in script.steps][:2]
        ["send b'hi\\\\n'", "expect line 'HI'"]
    """

    def __init__(self, steps: Optional[List[Step]] = None) -> None:
        self._steps: List[Step] = []
        # (kind, step) pairs; the kind says which Step subclass the step is.
        self._plan: Optional[Tuple[Tuple[int, Any], ...]] = None
        self._closed_at = 0  # the number of the first close or reset step; 0 if none
        for step in steps or ():
            self._add(step)

    @property
    def steps(self) -> Tuple[Step, ...]:
        """The steps, in order."""
        return tuple(self._steps)

    def _add(self, step: Step) -> Script:
        number = len(self._steps) + 1
        if isinstance(step, (Close, Reset)):
            self._closed_at = self._closed_at or number
        elif isinstance(step, Send) and self._closed_at:
            closing = self._steps[self._closed_at - 1].describe()
            raise ValueError(
                f"script step {number} ({step.describe()}) comes after step "
                f"{self._closed_at} ({closing}): the client cannot send once it closed or "
                f"reset the connection"
            )
        self._steps.append(step)
        self._plan = None
        return self

    def _compile(self) -> Tuple[Tuple[int, Any], ...]:
        # The steps with their kind (SEND... EXPECT), checked once and kept until the
        # next step is added: a script is usually built once and played many times.
        plan = self._plan
        if plan is not None:
            return plan
        # Sends after a close or reset were refused when the steps were added (_add).
        compiled: List[Tuple[int, Any]] = []
        for number, step in enumerate(self._steps, 1):
            if isinstance(step, Send):
                kind = SEND
            elif isinstance(step, Expectation):
                kind = EXPECT
            elif isinstance(step, Close):
                kind = CLOSE
            elif isinstance(step, Reset):
                kind = RESET
            elif isinstance(step, GoQuiet):
                kind = QUIET
            else:
                raise TypeError(f"script step {number} is not a known step: {step!r}")
            compiled.append((kind, step))
        self._plan = plan = tuple(compiled)
        return plan

    def send(self, data: bytes) -> Script:
        """Send ``data`` as one chunk."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes bytes, not {type(data).__name__}: {data!r}")
        return self._add(Send(bytes(data)))

    def send_line(self, text: str, *, newline: str = "\n", encoding: str = "utf-8") -> Script:
        """Send ``text`` encoded, followed by ``newline``."""
        if not isinstance(text, str):
            raise TypeError(f"send_line() takes str, not {type(text).__name__}: {text!r}")
        return self._add(Send((text + newline).encode(encoding)))

    def expect(self, data: bytes) -> Script:
        """Expect exactly ``data`` next from the handler."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expect() takes bytes, not {type(data).__name__}: {data!r}")
        return self._add(Expect(bytes(data)))

    def expect_line(self, text: str, *, encoding: str = "utf-8") -> Script:
        """Expect the line ``text`` next (ending ``\\n`` or ``\\r\\n``)."""
        if not isinstance(text, str):
            raise TypeError(f"expect_line() takes str, not {type(text).__name__}: {text!r}")
        return self._add(ExpectLine(text, encoding))

    def expect_regex(self, pattern: Union[str, bytes, re.Pattern[Any]], flags: int = 0) -> Script:
        """Expect a next line in which ``pattern`` is found (``re.search``)."""
        return self._add(ExpectRegex.of(pattern, flags))

    def expect_closed(self) -> Script:
        """Expect the handler to close the connection with nothing more sent."""
        return self._add(ExpectClosed())

    def close(self) -> Script:
        """Shut down the client's sending side: the handler reads EOF."""
        return self._add(Close())

    def reset(self) -> Script:
        """Abort the connection: the handler's next read or write fails with a reset."""
        return self._add(Reset())

    def go_quiet(self) -> Script:
        """Stop sending without closing: the handler's next read times out."""
        return self._add(GoQuiet())

    def play(self, client: ScriptClient) -> None:
        """Perform every step, in order, with a connected scripted ``client``.

        Then, if the script has an expectation, bytes the client already
        received and no expectation consumed (its ``buffered`` attribute, if
        it has one) fail the script; nothing waits for more.

        Raises:
            ExpectationFailed: An expectation was not met, or the client holds
                bytes received after the last expectation.
        """
        for step in self._steps:
            step.apply(client)
        extra = getattr(client, "buffered", b"")
        if isinstance(extra, bytes) and extra and self._expects():
            transcript = getattr(client, "transcript", None)
            if isinstance(transcript, Transcript):
                transcript.event(f"unexpected: {extra!r}")
            else:
                transcript = None
            raise ExpectationFailed(
                f"the handler sent {extra!r} after the last expectation", transcript
            )

    def _expects(self) -> bool:
        # Whether any step checks what the handler sent.
        return any(isinstance(step, Expectation) for step in self._steps)

    def run(self, target: Any, **options: Any) -> Any:
        """Play the script against a handler class, a server, or a connected client.

        * A handler class: run in memory, in lockstep, with
          :func:`~netserve_testing.run_handler` (``options`` are its keyword
          arguments); returns its :class:`~netserve_testing.HandlerRun`.
        * Anything with a ``connect()`` method (a running server from the
          pytest plugin): connect a scripted client, play, close it; returns
          the client (its ``transcript`` holds the conversation).
        * A connected scripted client: play with it (see :meth:`play`);
          returns the client.

        Args:
            target: A handler class, a server handle, or a scripted client.
            **options: Keyword arguments for ``run_handler`` (handler classes only).

        Raises:
            ExpectationFailed: An expectation was not met.

        Example:
            >>> import socketserver
            >>> class Upper(socketserver.StreamRequestHandler):
            ...     def handle(self):
            ...         for line in self.rfile:
            ...             self.wfile.write(line.upper())
            >>> script = Script().send_line("hi").expect_line("HI").close().expect_closed()
            >>> script.run(Upper).sent
            b'HI\\n'
        """
        if isinstance(target, type):
            from ._run import run_handler

            return run_handler(target, self, **options)
        if options:
            raise TypeError(
                f"options {sorted(options)} only apply when running against a handler class, "
                f"not {target!r}"
            )
        connect = getattr(target, "connect", None)
        if callable(connect):
            with connect() as client:
                self.play(client)
            return client
        self.play(target)
        return target

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        inner = ", ".join(step.describe() for step in self._steps)
        return f"Script([{inner}])"

"""The steps of a conversation: what the client does and what it expects back.

A :class:`~netserve_testing.Script` is an ordered list of these steps. Steps that
the client performs (:class:`Send`, :class:`Close`, :class:`Reset`, :class:`GoQuiet`) and steps
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
from typing import Any, Optional, Protocol, Tuple, Union

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
        >>> from netserve_testing import Script
        >>> Script().send(b"hi").expect(b"HI").close().play(PrintingClient())
        send b'hi'
        expect b'HI'
        close
        [None]
    """

    def send(self, data: bytes) -> Any: ...
    def expect(self, data: bytes) -> Any: ...
    def expect_line(self, text: str, **options: Any) -> Any: ...
    def expect_regex(
        self, pattern: Union[str, bytes, re.Pattern[bytes]], **options: Any
    ) -> Any: ...
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


#: The line endings a line step can require; ``None`` accepts ``\n`` and ``\r\n`` alike.
NEWLINES = ("\n", "\r\n")


def check_newline(newline: Optional[str]) -> Optional[bytes]:
    """Return ``newline`` as bytes (``None`` stays ``None``: any ending), or raise.

    Example:
        >>> check_newline("\\r\\n")
        b'\\r\\n'
    """
    if newline is None:
        return None
    if newline not in NEWLINES:
        raise ValueError(f"newline must be '\\n', '\\r\\n' or None, not {newline!r}")
    return newline.encode("ascii")


def _split_line(buffer: bytes) -> Optional[Tuple[bytes, int]]:
    # A line ends at b"\n"; a b"\r" before it is part of the ending, not the text.
    end = buffer.find(b"\n")
    if end < 0:
        return None
    line = buffer[:end]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line, end + 1


def _split_strict(buffer: bytes, ending: bytes) -> Optional[Tuple[Optional[bytes], int]]:
    # A line ends at the first b"\n"; its text is None when its ending is not ``ending``
    # (a bare b"\n" where b"\r\n" is declared, or b"\r\n" where b"\n" is).
    end = buffer.find(b"\n")
    if end < 0:
        return None
    raw = buffer[: end + 1]
    crlf = raw.endswith(b"\r\n")
    if crlf != (ending == b"\r\n"):
        return None, end + 1
    return raw[: -len(ending)], end + 1


def client_verb(client: Any, name: str, step: Step) -> Any:
    """Return ``client``'s method ``name`` for ``step``, or raise naming what is missing.

    Example:
        >>> client_verb(object(), "pause", Close())
        Traceback (most recent call last):
          ...
        NotImplementedError: object has no pause(), which step 'close (EOF)' needs
    """
    verb = getattr(client, name, None)
    if verb is None:
        raise NotImplementedError(
            f"{type(client).__name__} has no {name}(), which step {step.describe()!r} needs"
        )
    return verb


def _received(buffer: bytes, eof: bool) -> str:
    if not buffer:
        return "EOF" if eof else "nothing"
    return f"{buffer!r} then EOF" if eof else repr(buffer)


class Step:
    """One step of a :class:`Script`.

    Example:
        >>> from netserve_testing import Script
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

    def _datagram_ending(self) -> bytes:
        # The ending a line-based step adds to a datagram that has none.
        return b"\n"

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
        fed = datagram + self._datagram_ending() if line else datagram
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
        >>> from netserve_testing import Script
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
        >>> from netserve_testing import Script, run_handler
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
        >>> from netserve_testing import Script, run_handler
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
        >>> from netserve_testing import Script, run_handler
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
    """The handler sends the line ``text`` next.

    With ``newline=None`` (the default) the line may end with ``\\n`` or
    ``\\r\\n``; with ``newline="\\r\\n"`` (or ``"\\n"``) it must end with
    exactly that, so a handler that sends a bare ``\\n`` to a CRLF protocol fails.

    Example:
        >>> ExpectLine("250 ok").match(b"250 ok\\r\\nnext", False)
        Matched(consumed=8, value='250 ok')
        >>> ExpectLine("250 ok", newline="\\r\\n").match(b"250 ok\\n", False)
        Mismatch(expected="b'250 ok\\\\r\\\\n'", received="b'250 ok\\\\n'")
    """

    text: str
    encoding: str = "utf-8"
    newline: Optional[str] = None
    _line_based = True
    _wanted: bytes = field(init=False, repr=False, compare=False)
    # The line with each ending, when a plain prefix test decides a match (the text holds
    # no b"\n" and does not end in b"\r"), and the outcome for each (see Expect).
    _lines: Optional[Tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    _matched: Tuple[Matched, Matched] = field(init=False, repr=False, compare=False)
    _ending: Optional[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wanted = self.text.encode(self.encoding)
        plain = b"\n" not in wanted and not wanted.endswith(b"\r")
        size = len(wanted)
        object.__setattr__(self, "_ending", check_newline(self.newline))
        object.__setattr__(self, "_wanted", wanted)
        object.__setattr__(self, "_lines", (wanted + b"\n", wanted + b"\r\n") if plain else None)
        object.__setattr__(
            self, "_matched", (Matched(size + 1, self.text), Matched(size + 2, self.text))
        )

    def apply(self, client: ScriptClient) -> Any:
        if self.newline is None and self.encoding == "utf-8":
            return client.expect_line(self.text)
        return client.expect_line(self.text, encoding=self.encoding, newline=self.newline)

    def describe(self) -> str:
        if self._ending is None:
            return f"expect line {self.text!r}"
        return f"expect line {self.text!r} ending {self._ending!r}"

    def _datagram_ending(self) -> bytes:
        return self._ending or b"\n"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        ending = self._ending
        if ending is not None:
            return self._match_strict(buffer, eof, ending)
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

    def _match_strict(self, buffer: bytes, eof: bool, ending: bytes) -> Outcome:
        whole = self._wanted + ending
        if buffer.startswith(whole):
            return self._matched[len(ending) - 1]
        split = _split_strict(buffer, ending)
        if split is None:
            if eof or not whole.startswith(buffer):
                return Mismatch(repr(whole), _received(buffer, eof))
            return None
        return Mismatch(repr(whole), repr(buffer[: split[1]]))


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
    newline: Optional[str] = None
    _line_based = True
    _compiled: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    _ending: Optional[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern, self.flags))
        object.__setattr__(self, "_ending", check_newline(self.newline))

    @classmethod
    def of(
        cls,
        pattern: Union[str, bytes, re.Pattern[Any]],
        flags: int = 0,
        newline: Optional[str] = None,
    ) -> ExpectRegex:
        """Build from a ``str`` or ``bytes`` pattern (``str`` is encoded as UTF-8).

        ``newline`` as for :class:`ExpectLine`: ``None`` accepts either ending.

        Example:
            >>> ExpectRegex.of(r"^2\\d\\d", newline="\\r\\n").match(b"250\\n", False).expected
            "a line matching b'^2\\\\\\\\d\\\\\\\\d' ending b'\\\\r\\\\n'"
        """
        if isinstance(pattern, re.Pattern):
            flags |= pattern.flags & ~re.UNICODE
            pattern = pattern.pattern
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        if not isinstance(pattern, bytes):
            raise TypeError(f"expect_regex() pattern must be str or bytes, not {pattern!r}")
        return cls(pattern, flags, newline)

    def apply(self, client: ScriptClient) -> Any:
        if self.newline is None:
            return client.expect_regex(self._compiled)
        return client.expect_regex(self._compiled, newline=self.newline)

    def describe(self) -> str:
        return f"expect {self._wanted()}"

    def _wanted(self) -> str:
        if self._ending is None:
            return f"a line matching {self.pattern!r}"
        return f"a line matching {self.pattern!r} ending {self._ending!r}"

    def _datagram_ending(self) -> bytes:
        return self._ending or b"\n"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        if self._ending is None:
            split: Optional[Tuple[Optional[bytes], int]] = _split_line(buffer)
        else:
            split = _split_strict(buffer, self._ending)
        if split is None:
            if eof:
                return Mismatch(self._wanted(), _received(buffer, eof))
            return None
        line, consumed = split
        found = None if line is None else self._compiled.search(line)
        if found is None:
            return Mismatch(self._wanted(), repr(buffer[:consumed]))
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
SEND, CLOSE, RESET, QUIET, EXPECT, PAUSE = range(6)

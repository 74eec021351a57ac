"""A conversation with a handler, written once and played over a fake or a real socket.

A :class:`Script` is an ordered list of steps (see :mod:`._steps`). Steps that
the client performs (:class:`Send`, :class:`Close`, :class:`Reset`,
:class:`GoQuiet`) and steps that check what the handler sent (:class:`Expect`,
:class:`ExpectLine`, :class:`ExpectRegex`, :class:`ExpectClosed`) share one
small interface, so the same script runs in memory
(``run_handler(Handler, script)``) and against a real server
(``script.run(server)``).

The script wing plays nothing itself. Whoever can run a handler in memory
registers itself with :func:`register_handler_runner` (the memory wing does, on
import), so a ``Script`` never imports the worlds that play it.
"""

from __future__ import annotations

import re
from typing import Any, Callable, List, Optional, Tuple, Union

from ._failure import ExpectationFailed
from ._steps import (
    CLOSE,
    EXPECT,
    QUIET,
    RESET,
    SEND,
    Close,
    Expect,
    Expectation,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    GoQuiet,
    Reset,
    ScriptClient,
    Send,
    Step,
)
from ._transcript import Transcript

__all__ = ["Script", "register_handler_runner"]

# Runs a stream handler class in memory: (handler_class, script, **options) -> result.
# Set once by the memory wing; None until it is imported.
_handler_runner: Optional[Callable[..., Any]] = None


def register_handler_runner(runner: Callable[..., Any]) -> None:
    """Make ``Script.run(HandlerClass)`` play through ``runner`` (the memory wing's).

    Args:
        runner: Called as ``runner(handler_class, script, **options)``.

    Example:
        >>> import netserve_testing.script._script as script_module
        >>> script_module._handler_runner is not None  # the memory wing registered
        True
    """
    global _handler_runner
    _handler_runner = runner


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
            if _handler_runner is None:
                raise RuntimeError(
                    "no in-memory runner is registered: import netserve_testing "
                    "(or netserve_testing.memory) before running a script against "
                    f"handler class {target.__qualname__}"
                )
            return _handler_runner(target, self, **options)
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

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

import os
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ._failure import ExpectationFailed
from ._golden_format import dump_steps, parse_steps
from ._http import HeadersLike, build_request
from ._http_steps import NO_JSON, BodyMatcher, ExpectResponse, SendRequest
from ._pause import Pause
from ._recording import VOLATILE_HEADERS, Redactor, steps_from_transcript
from ._report import script_failure
from ._steps import (
    CLOSE,
    EXPECT,
    PAUSE,
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
    check_newline,
)
from ._transcript import Transcript
from ._until import DEFAULT_MAX_SIZE, ExpectUntil

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


def _at_step(
    failure: ExpectationFailed, number: int, count: int, step: Step, origin: Optional[str]
) -> ExpectationFailed:
    # A client verb's failure with the script step put on top, in the one shape (_report).
    if failure.details is not None:
        return script_failure(
            failure.details,
            failure.transcript,
            number=number,
            count=count,
            step=step.describe(),
            origin=origin,
        )
    position = f"script step {number} of {count} ({step.describe()})"
    if origin:
        position += f" at {origin}"
    return ExpectationFailed(f"{position} failed\n{failure.reason}", failure.transcript)


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

    ``newline`` declares the protocol's line ending once: ``Script(newline="\\r\\n")``
    makes ``send_line`` send it and ``expect_line`` / ``expect_regex`` require
    it, so a handler that answers with a bare ``\\n`` fails. Without it, lines
    are sent with ``\\n`` and either ending is accepted.

    Example:
        >>> script = Script().send_line("hi").expect_line("HI").close().expect_closed()
        >>> [step.describe() for step in script.steps][:2]
        ["send b'hi\\\\n'", "expect line 'HI'"]
        >>> Script(newline="\\r\\n").send_line("QUIT").expect_line("221 bye").steps[0]
        Send(data=b'QUIT\\r\\n')
    """

    def __init__(
        self, steps: Optional[List[Step]] = None, *, newline: Optional[str] = None
    ) -> None:
        check_newline(newline)
        self.newline = newline
        """The declared line ending (``"\\r\\n"`` or ``"\\n"``), or ``None``: either is accepted."""
        # The methods of HTTP requests sent and not yet answered (a HEAD response has no body).
        self._requests: List[str] = []
        # Where each step was written ("golden.script:12"), by step number, when loaded.
        self._origins: Dict[int, str] = {}
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
            elif isinstance(step, Pause):
                kind = PAUSE
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

    def send_line(
        self, text: str, *, newline: Optional[str] = None, encoding: str = "utf-8"
    ) -> Script:
        """Send ``text`` encoded, followed by ``newline`` (default: the script's, else ``\\n``)."""
        if not isinstance(text, str):
            raise TypeError(f"send_line() takes str, not {type(text).__name__}: {text!r}")
        ending = newline if newline is not None else self.newline or "\n"
        return self._add(Send((text + ending).encode(encoding)))

    def expect(self, data: bytes) -> Script:
        """Expect exactly ``data`` next from the handler."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expect() takes bytes, not {type(data).__name__}: {data!r}")
        return self._add(Expect(bytes(data)))

    def expect_line(
        self, text: str, *, newline: Optional[str] = None, encoding: str = "utf-8"
    ) -> Script:
        """Expect the line ``text`` next.

        Args:
            text: The line, without its ending.
            newline: The ending it must have, ``"\\r\\n"`` or ``"\\n"`` (default:
                the script's; with none declared, either is accepted).
            encoding: How ``text`` is encoded on the wire.
        """
        if not isinstance(text, str):
            raise TypeError(f"expect_line() takes str, not {type(text).__name__}: {text!r}")
        return self._add(ExpectLine(text, encoding, newline or self.newline))

    def expect_regex(
        self,
        pattern: Union[str, bytes, re.Pattern[Any]],
        flags: int = 0,
        *,
        newline: Optional[str] = None,
    ) -> Script:
        """Expect a next line in which ``pattern`` is found (``re.search``, ending removed).

        ``newline`` as for :meth:`expect_line`.
        """
        return self._add(ExpectRegex.of(pattern, flags, newline or self.newline))

    def expect_until(
        self, delimiter: Union[bytes, str], *, max_size: int = DEFAULT_MAX_SIZE
    ) -> Script:
        """Expect bytes up to and including ``delimiter``, at most ``max_size`` in all.

        For replies framed by a terminator (``END\\r\\n``, a blank line). The
        step's value (``run.values``, or the client verb's result) is the bytes read.

        Example:
            >>> import socketserver
            >>> class Get(socketserver.StreamRequestHandler):
            ...     def handle(self):
            ...         self.rfile.readline()
            ...         self.wfile.write(b"VALUE k 0 2\\r\\nhi\\r\\nEND\\r\\n")
            >>> script = Script(newline="\\r\\n").send_line("get k").expect_until(b"END\\r\\n")
            >>> script.run(Get).values
            [b'VALUE k 0 2\\r\\nhi\\r\\nEND\\r\\n']
        """
        return self._add(ExpectUntil(delimiter, max_size))  # type: ignore[arg-type]

    def send_request(
        self,
        method: str,
        path: str,
        *,
        headers: HeadersLike = None,
        body: Union[bytes, str, None] = None,
        json: Any = None,
        version: str = "HTTP/1.1",
    ) -> Script:
        """Send an HTTP request (``Host`` and ``Content-Length`` are added when missing).

        Args:
            method: ``GET``, ``POST``, ``HEAD`` ...
            path: The request target, such as ``/items?id=3``.
            headers: A dict or ``(name, value)`` pairs, sent in order.
            body: The body, bytes or text (UTF-8).
            json: A value sent as a JSON body (with ``Content-Type: application/json``).
            version: ``"HTTP/1.1"`` (default) or ``"HTTP/1.0"``.

        Example:
            >>> Script().send_request("GET", "/", version="HTTP/1.0").steps[0].data
            b'GET / HTTP/1.0\\r\\n\\r\\n'
        """
        data = build_request(method, path, headers=headers, body=body, json=json, version=version)
        self._requests.append(method)
        return self._add(SendRequest(data, method, path, version))

    def expect_response(
        self,
        status: Optional[int] = None,
        *,
        headers: Any = None,
        body: BodyMatcher = None,
        json: Any = NO_JSON,
        version: Optional[str] = None,
        method: Optional[str] = None,
    ) -> Script:
        """Expect one whole HTTP response, checking only what is named.

        The response is parsed by the standard library (``Content-Length``,
        chunked bodies, ``Connection: close`` bodies that end at EOF, no body
        for ``HEAD``); headers not named (``Date``, ``Server``) are ignored. A
        failure shows the parsed response beside the expected one.

        Args:
            status: The status code; a 1xx code reads an interim ``100 Continue``
                (otherwise one is skipped).
            headers: ``{name: matcher}``, names in any case: exact text, ``None``
                (must be absent), a compiled regex (searched) or a predicate.
            body: Exact bytes or text, a compiled regex, or a predicate on the bytes.
            json: The body parsed as JSON must equal this.
            version: ``"HTTP/1.0"`` or ``"HTTP/1.1"``, if it matters.
            method: The method of the request it answers; by default that of the
                oldest ``send_request`` not yet answered, else ``GET``.

        Example:
            >>> import http.server
            >>> class Hello(http.server.BaseHTTPRequestHandler):
            ...     def do_GET(self):
            ...         self.send_response(200)
            ...         self.send_header("Content-Length", "2")
            ...         self.end_headers()
            ...         self.wfile.write(b"hi")
            ...     def log_message(self, *args):
            ...         pass
            >>> script = Script().send_request("GET", "/").expect_response(200, body=b"hi")
            >>> script.run(Hello).values[0].status
            200
        """
        interim = status is not None and 100 <= status < 200
        if method is None:
            method = self._requests[0] if self._requests else "GET"
        if not interim and self._requests:
            self._requests.pop(0)
        return self._add(ExpectResponse(status, headers, body, json, method, version))

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

    def pause(self, seconds: float) -> Script:
        """Send nothing for ``seconds``: real time on a real connection, none in memory.

        In memory a handler read with a shorter timeout times out (the fake
        clock moves on by that timeout), so an idle-timeout script runs at once.

        Example:
            >>> Script().send_line("hi").pause(2.5).steps[1]
            Pause(seconds=2.5)
        """
        return self._add(Pause(seconds))

    # -- recordings and golden files ------------------------------------------------------

    @classmethod
    def from_transcript(
        cls,
        source: Union[Transcript, Iterable[Any]],
        *,
        redact: Optional[Redactor] = None,
        http: Optional[bool] = None,
        ignore_headers: Sequence[str] = VOLATILE_HEADERS,
    ) -> Script:
        """Return the script of a recorded conversation, to replay it.

        ``source`` is a transcript of a kit client (``client.transcript``) or of
        an in-memory run (``run.transcript``), or recorded chunks such as a
        proxy's: ``(direction, data)`` pairs, ``(time, direction, data)``
        triples or objects with ``.direction`` and ``.data``, ``direction``
        being ``"to_server"`` or ``"to_client"`` and empty ``data`` meaning
        that side closed. What the client sent
        becomes ``send`` steps, what it received ``expect`` steps (HTTP replies:
        ``expect_response`` steps without the headers that change from run to
        run), and the closes, resets and pauses their steps.

        Args:
            source: The recording.
            redact: Called with each run of bytes of one direction; returns them
                with secrets replaced.
            http: Read replies as HTTP responses (default: when the client's
                first bytes are an HTTP/1.x request line).
            ignore_headers: Response headers a replay does not check.

        Example:
            >>> import socketserver
            >>> class Upper(socketserver.StreamRequestHandler):
            ...     def handle(self):
            ...         self.wfile.write(self.rfile.readline().upper())
            >>> run = Script().send_line("hi").expect_line("HI").run(Upper)
            >>> Script.from_transcript(run.transcript)
            Script([send b'hi\\n', expect b'HI\\n', expect the connection to close])
        """
        steps = steps_from_transcript(
            source, redact=redact, http=http, ignore_headers=ignore_headers
        )
        return cls(steps)

    def dumps(self) -> str:
        """Return the script as golden-file text: one step per line (see :meth:`save`).

        Raises:
            ValueError: A step has no text form (a predicate or a regex matcher).

        Example:
            >>> print(Script(newline="\\r\\n").send_line("QUIT").expect_line("221 bye").dumps())
            # netserve script 1
            send "QUIT\\r\\n"
            expect_line "221 bye" newline="\\r\\n"
            <BLANKLINE>
        """
        return dump_steps(self.steps)

    @classmethod
    def loads(cls, text: str, *, name: str = "<script>") -> Script:
        """Read a script from golden-file text; ``name`` is shown in failures (``name:line``).

        Raises:
            ScriptFormatError: A line is not a step.

        Example:
            >>> script = Script.loads('send "hi\\\\n"\\nexpect_line "HI"\\n', name="hi.script")
            >>> script.steps[1], script.origin(2)
            (ExpectLine(text='HI', encoding='utf-8', newline=None), 'hi.script:2')
        """
        steps, origins = parse_steps(text, name)
        script = cls(steps)
        script._origins = origins
        return script

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write the script to ``path`` as a golden file, creating its folder.

        The format is text that diffs well in review: one step per line,
        bytes between double quotes with ``\\r``, ``\\n``, ``\\"`` and
        ``\\xNN`` escapes, a ``send`` or ``expect`` of several lines written
        as one line each. See the README's "Recordings" section.

        Raises:
            ValueError: A step has no text form (a predicate or a regex matcher).

        Example:
            >>> import os, tempfile
            >>> path = os.path.join(tempfile.mkdtemp(), "hi.script")
            >>> Script().send(b"hi\\n").expect_line("HI").save(path)
            >>> Script.load(path).steps == Script().send(b"hi\\n").expect_line("HI").steps
            True
            >>> os.remove(path); os.rmdir(os.path.dirname(path))
        """
        text = self.dumps()
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> Script:
        """Read a golden file written by :meth:`save`; failures name its ``file:line``.

        Raises:
            OSError: The file cannot be read.
            ScriptFormatError: A line is not a step.

        Example:
            >>> script = Script.load("tests/golden/hello.script")  # doctest: +SKIP
        """
        with open(path, encoding="utf-8") as file:
            return cls.loads(file.read(), name=os.fspath(path))

    def play(self, client: ScriptClient) -> List[Any]:
        """Perform every step, in order, with a connected scripted ``client``.

        Then, if the script has an expectation, bytes the client already
        received and no expectation consumed (its ``buffered`` attribute, if
        it has one) fail the script; nothing waits for more.

        Returns:
            The value of each expectation, in order (as ``HandlerRun.values``).

        Raises:
            ExpectationFailed: An expectation was not met (the message names the
                step), or the client holds bytes received after the last expectation.

        Example:
            >>> import socket
            >>> from netserve_testing import StreamClient
            >>> a, b = socket.socketpair()
            >>> b.sendall(b"HI\\n")
            >>> with StreamClient(a, "pair") as client:
            ...     Script().send(b"hi\\n").expect_line("HI").play(client)
            ['HI']
            >>> b.close()
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        values: List[Any] = []
        count = len(self._steps)
        for number, step in enumerate(self._steps, 1):
            try:
                value = step.apply(client)
            except ExpectationFailed as exc:
                raise _at_step(exc, number, count, step, self.origin(number)) from None
            if isinstance(step, Expectation):
                values.append(value)
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
        return values

    def origin(self, number: int) -> Optional[str]:
        """Where step ``number`` (from 1) was written, as ``"file:line"``, if it was loaded.

        Example:
            >>> Script().send(b"x").origin(1) is None
            True
        """
        return self._origins.get(number)

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
        __tracebackhide__ = True  # pytest shows the test's line, not ours
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

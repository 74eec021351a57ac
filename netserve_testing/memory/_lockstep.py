"""Play a :class:`Script` against a fake socket in lockstep, in the caller's thread.

The handler drives the conversation: when it reads and nothing is queued, the
player checks the expectations that come next against what the handler has
written, then performs the client steps up to the next expectation (consecutive
sends are delivered together, split by the socket's chunking). Every write of
the handler is checked at once against the expectation in front, so a wrong
byte fails inside the ``send()`` that wrote it. When the handler is done, bytes
it sent after the last expectation fail the script too (a script with no
expectation checks nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, NoReturn, Optional

from ..script._failure import ExpectationFailed
from ..script._report import details_of, expected_text, script_failure
from ..script._script import Script
from ..script._steps import (
    CLOSE,
    EXPECT,
    PAUSE,
    QUIET,
    RESET,
    SEND,
    Expectation,
    ExpectClosed,
    Matched,
    Step,
)

if TYPE_CHECKING:
    from ._stream import FakeStreamSocket


def _read_again(step: Expectation, timed_out: bool) -> str:
    # Why a read of the handler, with this expectation still unmet, cannot go on.
    awaited = "closing the connection" if isinstance(step, ExpectClosed) else "sending it"
    if timed_out:
        return (
            f"the handler read again before {awaited}, and its read timed out (fake clock): "
            f"the client was waiting for the handler, and the handler for the client"
        )
    return (
        f"the handler read again before {awaited}: the client would wait for the "
        f"handler, and the handler for the client"
    )


class ScriptPlayer:
    """The client side of a :class:`Script`, played against one :class:`FakeStreamSocket`.

    The socket holds the player and passes itself to every call; the player keeps
    no reference back, so a finished run is freed at once, without the cycle collector.
    """

    def __init__(self, script: Script) -> None:
        self._plan = script._compile()  # raises for unknown steps and sends after close
        self._count = len(self._plan)
        self._index = 0
        # Whether any step checks output: a script of client steps only checks nothing.
        self._expects = any(kind == EXPECT for kind, _ in self._plan)
        # The step whose expectation was in front when a read of the handler timed out.
        self._stalled_at = -1
        self._consumed = 0  # bytes of sock.sent already matched by expectations
        self._client_done = False  # the client closed or reset: it sends nothing more
        self._quiet = False  # the last client step was go_quiet: reads keep timing out
        self._pause_left: Optional[float] = None  # fake seconds left of the pause in front
        self._origin = script.origin  # where a loaded script's step was written
        self.failure: Optional[ExpectationFailed] = None
        self.values: List[Any] = []
        """The value of every matched expectation, in order (a Match for expect_regex)."""

    @property
    def done(self) -> bool:
        """Whether every step was performed or matched."""
        return self._index >= self._count

    def _failure(
        self, sock: FakeStreamSocket, step: Step, expected: str, received: str, why: str = ""
    ) -> ExpectationFailed:
        sock.transcript.mismatch(expected, received, why or None)
        notes = [why] if why else []
        notes.append(f"chunking: {sock.chunking.describe()}")
        pending = bytes(sock._out[self._consumed :])
        expectation = step if isinstance(step, Expectation) else None
        self.failure = script_failure(
            details_of(expected, received, expectation, pending, notes),
            sock.transcript,
            number=self._index + 1,
            count=self._count,
            step=step.describe(),
            origin=self._origin(self._index + 1),
        )
        return self.failure

    def _fail(
        self, sock: FakeStreamSocket, step: Step, expected: str, received: str, why: str = ""
    ) -> NoReturn:
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        raise self._failure(sock, step, expected, received, why)

    def _unmet(self, sock: FakeStreamSocket, step: Expectation, why: str) -> ExpectationFailed:
        pending = bytes(sock._out[self._consumed :])
        received = repr(pending) if pending else "nothing"
        return self._failure(sock, step, expected_text(step, pending), received, why)

    def _check(self, sock: FakeStreamSocket, step: Any, eof: bool) -> bool:
        # True when matched (and consumed); False when more bytes are needed.
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        outcome = step.match(bytes(sock._out[self._consumed :]), eof)
        if outcome is None:
            return False
        if isinstance(outcome, Matched):
            self._consumed += outcome.consumed
            self.values.append(outcome.value)
            self._index += 1
            return True
        self._fail(sock, step, outcome.expected, outcome.received)

    def on_output(self, sock: FakeStreamSocket) -> None:
        """The handler wrote: check the expectations in front, as far as the bytes decide."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if self.failure is not None:
            raise self.failure
        plan = self._plan
        while self._index < self._count:
            kind, step = plan[self._index]
            if kind != EXPECT:
                return
            # _check(), inlined: this runs on every write of the handler.
            outcome = step.match(bytes(sock._out[self._consumed :]), False)
            if outcome is None:
                return
            if not isinstance(outcome, Matched):
                self._fail(sock, step, outcome.expected, outcome.received)
            self._consumed += outcome.consumed
            self.values.append(outcome.value)
            self._index += 1

    def pull(self, sock: FakeStreamSocket, can_time_out: bool) -> None:
        """The handler reads and nothing is queued: advance the client to its next send."""
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if self.failure is not None:
            raise self.failure
        plan = self._plan
        sends: List[bytes] = []
        while self._index < self._count:
            kind, step = plan[self._index]
            if kind == SEND:
                sends.append(step.data)
                self._index += 1
                self._quiet = False
                continue
            if sends:
                break
            if kind == PAUSE:
                if self._paused(sock, step.seconds, can_time_out):
                    return  # the read times out within the pause (fake clock)
                continue
            if kind == EXPECT:
                if self._check(sock, step, sock.write_shut):
                    continue
                if can_time_out:
                    # The read times out while the client still waits, as on a network; if
                    # the handler lets the timeout escape, see timed_out().
                    self._stalled_at = self._index
                    return
                raise self._unmet(sock, step, _read_again(step, timed_out=False))
            self._index += 1
            if kind == CLOSE:
                self._client_done = True
                sock._peer_close()
            elif kind == RESET:
                self._client_done = True
                sock._peer_reset(read=self._consumed)  # what the client read
            else:
                self._quiet = True
                sock._peer_go_quiet()
            return
        if sends:
            sock._deliver(sends)
        elif not self._quiet and not self._client_done:
            # The script is over: the client closes, as a real one does when it finishes.
            self._client_done = True
            sock._peer_close()

    def _paused(self, sock: FakeStreamSocket, seconds: float, can_time_out: bool) -> bool:
        # The handler reads during a pause. True: its timeout is shorter than what is
        # left of the pause, so the read times out and the fake clock moves on by the
        # timeout. False: the pause is over (a blocking read waits it out) and done.
        left = seconds if self._pause_left is None else self._pause_left
        timeout = sock.gettimeout()
        if can_time_out and timeout is not None and timeout < left:
            self._pause_left = left - timeout
            if timeout > 0:
                # Each timed-out read moves the clock on, so the pause ends: these reads
                # are no idle loop (a non-blocking poll, timeout 0, still counts).
                sock._idle_reads = 0
            return True
        self._pause_left = None
        self._index += 1
        sock.transcript.event(f"client paused {seconds:g} s (fake clock)")
        return False

    def timed_out(self, sock: FakeStreamSocket) -> None:
        """The handler ended with a read timeout: set :attr:`failure` if the script waited.

        A read that times out while an expectation is unmet is what a handler
        may use to act on an idle client; when the handler lets the timeout
        escape instead, the script failed at that expectation, as it does at
        once for a handler that reads with no timeout.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if self.failure is None and self._stalled_at == self._index and not self.done:
            step = self._plan[self._index][1]
            self._unmet(sock, step, _read_again(step, timed_out=True))

    def finish(self, sock: FakeStreamSocket) -> None:
        """The handler is done and the connection closed: check what the script still expects.

        Raises:
            ExpectationFailed: An expectation is not met by what the handler sent,
                or the handler sent more after the last expectation.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if self.failure is not None:
            raise self.failure
        plan = self._plan
        while self._index < self._count:
            kind, step = plan[self._index]
            if kind == EXPECT:
                if not self._check(sock, step, sock.write_shut):
                    raise self._unmet(sock, step, "the handler finished without sending it")
                continue
            self._index += 1
            if kind == SEND:
                sock.transcript.event(
                    f"client sent {step.data!r} after the handler had finished (never read)"
                )
            elif kind not in (QUIET, PAUSE):
                sock.transcript.event(
                    f"client step after the handler had finished: {step.describe()}"
                )
        extra = bytes(sock._out[self._consumed :])
        if extra and self._expects:
            sock.transcript.event(f"unexpected: {extra!r}")
            self.failure = ExpectationFailed(
                f"the handler sent {extra!r} after the last expectation\n"
                f"chunking: {sock.chunking.describe()}",
                sock.transcript,
            )
            raise self.failure

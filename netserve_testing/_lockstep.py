"""Play a :class:`Script` against a fake socket in lockstep, in the caller's thread.

The handler drives the conversation: when it reads and nothing is queued, the
player checks the expectations that come next against what the handler has
written, then performs the client steps up to the next expectation (consecutive
sends are delivered together, split by the socket's chunking). Every write of
the handler is checked at once against the expectation in front, so a wrong
byte fails inside the ``send()`` that wrote it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, NoReturn, Optional

from ._errors import ExpectationFailed, NetserveTestingError
from ._script import (
    Close,
    Expectation,
    GoQuiet,
    Matched,
    Mismatch,
    Reset,
    Script,
    Send,
    Step,
)

if TYPE_CHECKING:
    from ._fakes import FakeStreamSocket


def _expected_text(step: Expectation, pending: bytes) -> str:
    # What the step wants, in the words its own matcher uses for a mismatch.
    outcome = step.match(pending, True)
    return outcome.expected if isinstance(outcome, Mismatch) else "EOF"


class ScriptPlayer:
    """The client side of a :class:`Script`, attached to one :class:`FakeStreamSocket`."""

    def __init__(self, script: Script, sock: FakeStreamSocket) -> None:
        self._steps = script.steps
        self._count = len(self._steps)
        self._sock = sock
        self._index = 0
        self._consumed = 0  # bytes of sock.sent already matched by expectations
        self._client_done = False  # the client closed or reset: it sends nothing more
        self._quiet = False  # the last client step was go_quiet: reads keep timing out
        self.failure: Optional[ExpectationFailed] = None
        self.values: List[Any] = []
        """The value of every matched expectation, in order (a Match for expect_regex)."""
        closed_at = 0
        for number, step in enumerate(self._steps, 1):
            if not isinstance(step, (Send, Close, Reset, GoQuiet, Expectation)):
                raise TypeError(f"script step {number} is not a known step: {step!r}")
            if isinstance(step, Send) and closed_at:
                raise NetserveTestingError(
                    f"script step {number} ({step.describe()}) comes after the client closed "
                    f"or reset the connection (step {closed_at}); it cannot send any more"
                )
            if isinstance(step, (Close, Reset)) and not closed_at:
                closed_at = number

    @property
    def done(self) -> bool:
        """Whether every step was performed or matched."""
        return self._index >= self._count

    def _pending(self) -> bytes:
        return bytes(self._sock._out[self._consumed :])

    def _fail(self, step: Step, expected: str, received: str, why: str = "") -> NoReturn:
        position = f"script step {self._index + 1} of {len(self._steps)} ({step.describe()})"
        self._sock.transcript.mismatch(expected, received, why or None)
        lines = [f"{position} failed", f"expected: {expected}", f"received: {received}"]
        if why:
            lines.append(why)
        lines.append(f"chunking: {self._sock.chunking.describe()}")
        self.failure = ExpectationFailed("\n".join(lines), self._sock.transcript)
        raise self.failure

    def _check(self, step: Expectation, *, eof: bool) -> bool:
        # True when matched (and consumed); False when more bytes are needed.
        outcome = step.match(self._pending(), eof)
        if isinstance(outcome, Matched):
            self._consumed += outcome.consumed
            self.values.append(outcome.value)
            self._index += 1
            return True
        if isinstance(outcome, Mismatch):
            self._fail(step, outcome.expected, outcome.received)
        return False

    def on_output(self) -> None:
        """The handler wrote: check the expectations in front, as far as the bytes decide."""
        if self.failure is not None:
            raise self.failure
        while self._index < self._count:
            step = self._steps[self._index]
            if not isinstance(step, Expectation) or not self._check(step, eof=False):
                return

    def pull(self, can_time_out: bool) -> None:
        """The handler reads and nothing is queued: advance the client to its next send."""
        if self.failure is not None:
            raise self.failure
        sock = self._sock
        sends: List[bytes] = []
        while self._index < self._count:
            step = self._steps[self._index]
            if isinstance(step, Send):
                sends.append(step.data)
                self._index += 1
                self._quiet = False
                continue
            if sends:
                break
            if isinstance(step, Expectation):
                if self._check(step, eof=sock.write_shut):
                    continue
                if can_time_out:
                    return  # the read times out while the client still waits, as on a network
                pending = self._pending()
                self._fail(
                    step,
                    _expected_text(step, pending),
                    repr(pending) if pending else "nothing",
                    "the handler read again before sending it: the client would wait for "
                    "the handler, and the handler for the client",
                )
            self._index += 1
            if isinstance(step, Close):
                self._client_done = True
                sock.peer.close()
            elif isinstance(step, Reset):
                self._client_done = True
                sock.peer.reset()
            else:
                self._quiet = True
                sock.peer.go_quiet()
            return
        if sends:
            sock.peer._feed(sends)
        elif not self._quiet and not self._client_done:
            # The script is over: the client closes, as a real one does when it finishes.
            self._client_done = True
            sock.peer.close()

    def finish(self) -> None:
        """The handler is done and the connection closed: check what the script still expects.

        Raises:
            ExpectationFailed: An expectation is not met by what the handler sent.
        """
        if self.failure is not None:
            raise self.failure
        sock = self._sock
        while self._index < self._count:
            step = self._steps[self._index]
            if isinstance(step, Expectation):
                if not self._check(step, eof=sock.write_shut):
                    pending = self._pending()
                    self._fail(
                        step,
                        _expected_text(step, pending),
                        repr(pending) if pending else "nothing",
                        "the handler finished without sending it",
                    )
                continue
            self._index += 1
            if isinstance(step, Send):
                sock.transcript.event(
                    f"client sent {step.data!r} after the handler had finished (never read)"
                )
            elif not isinstance(step, GoQuiet):
                sock.transcript.event(
                    f"client step after the handler had finished: {step.describe()}"
                )

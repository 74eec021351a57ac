"""The one shape of a failed expectation, in memory and over a real socket.

Every world that checks what a handler sent (the in-memory player, the live
clients, :meth:`Script.play <netserve_testing.Script.play>`) builds its
failure here, so a script reads the same wherever it failed::

    script step 2 of 3 (expect line 'HI') failed
    expected: b'HI\\n'
    received: b'HO\\n'
    nearest: b'HI!\\n' (the closest line received, 80% alike)
    <notes: why it stopped, the chunking, the timeout>

    transcript:
    ...

A client verb called directly (``client.expect_line("HI")``) has no step: its
message starts at ``expected:``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from ._failure import ExpectationFailed
from ._steps import Expectation, ExpectLine, ExpectRegex, Mismatch
from ._transcript import Transcript
from ._until import shorten

__all__ = [
    "FailureDetails",
    "details_of",
    "expected_text",
    "format_failure",
    "nearest_arrival",
    "script_failure",
    "unmet_details",
]

# Bytes and lines the closest-line search looks at: a failure is no place for a slow diff.
_NEAREST_BYTES = 1 << 16
_NEAREST_LINES = 200


@dataclass(frozen=True)
class FailureDetails:
    """The parts of a failed expectation, before a step header is put on them.

    Example:
        >>> FailureDetails("b'HI'", "b'HO'", "b'HO' (received, not consumed)").notes
        ()
    """

    expected: str
    received: str
    nearest: str
    notes: Tuple[str, ...] = ()


def expected_text(step: Expectation, pending: bytes) -> str:
    """What ``step`` wants, in the words its own matcher uses for a mismatch.

    Example:
        >>> expected_text(ExpectLine("HI"), b"H")
        "b'HI\\\\n'"
    """
    outcome = step.match(pending, True)
    return outcome.expected if isinstance(outcome, Mismatch) else "EOF"


def nearest_arrival(step: Optional[Expectation], pending: bytes) -> str:
    """Describe the nearest thing that did arrive: the closest line, or the unconsumed bytes.

    Args:
        step: The expectation that failed (a line step looks for its closest line).
        pending: The bytes received and not consumed by an earlier expectation.

    Example:
        >>> nearest_arrival(ExpectLine("BYE!"), b"HELLO\\nBYE\\n")
        "b'BYE\\\\n' (the closest line received, 86% alike)"
        >>> nearest_arrival(None, b"")
        'nothing (no bytes received and not consumed)'
    """
    if not pending:
        return "nothing (no bytes received and not consumed)"
    if isinstance(step, (ExpectLine, ExpectRegex)):
        wanted = step.text.encode(step.encoding) if isinstance(step, ExpectLine) else step.pattern
        lines = pending[:_NEAREST_BYTES].splitlines(keepends=True)[:_NEAREST_LINES]
        best, ratio = lines[0], -1.0
        for line in lines:
            alike = difflib.SequenceMatcher(None, wanted, line.rstrip(b"\r\n")).ratio()
            if alike > ratio:
                best, ratio = line, alike
        return f"{shorten(best)} (the closest line received, {ratio:.0%} alike)"
    return f"{shorten(pending)} (received, not consumed)"


def format_failure(
    details: FailureDetails,
    *,
    number: Optional[int] = None,
    count: Optional[int] = None,
    step: Optional[str] = None,
    origin: Optional[str] = None,
) -> str:
    """Return the failure's message (without the transcript, which the exception adds).

    With ``number`` it starts with ``script step N of M (<step>) failed`` (and
    ``at file:line`` for a loaded script); without, at ``expected:``.

    Example:
        >>> print(format_failure(FailureDetails("b'HI'", "b'HO'", "b'HO' (received, not consumed)"),
        ...                      number=2, count=3, step="expect b'HI'"))
        script step 2 of 3 (expect b'HI') failed
        expected: b'HI'
        received: b'HO'
        nearest: b'HO' (received, not consumed)
    """
    lines = []
    if number is not None:
        head = f"script step {number} of {count} ({step})"
        if origin:
            head += f" at {origin}"
        lines.append(f"{head} failed")
    lines.append(f"expected: {details.expected}")
    lines.append(f"received: {details.received}")
    lines.append(f"nearest: {details.nearest}")
    lines.extend(details.notes)
    return "\n".join(lines)


def script_failure(
    details: FailureDetails,
    transcript: Optional[Transcript],
    *,
    number: Optional[int] = None,
    count: Optional[int] = None,
    step: Optional[str] = None,
    origin: Optional[str] = None,
) -> ExpectationFailed:
    """Return the :class:`ExpectationFailed` of a failed expectation, in the one shape.

    Args:
        details: Expected, received, the nearest arrival, notes.
        transcript: The conversation so far, shown under the message.
        number: The step's number (from 1) in its script; ``None`` for a client verb.
        count: How many steps the script has.
        step: The step as it reads (``Step.describe()``).
        origin: ``file:line`` where a loaded script's step was written.

    Example:
        >>> details = FailureDetails("b'HI'", "EOF", "nothing (no bytes received and not consumed)")
        >>> script_failure(details, None).details.received
        'EOF'
    """
    message = format_failure(details, number=number, count=count, step=step, origin=origin)
    failure = ExpectationFailed(message, transcript)
    failure.details = details
    return failure


def details_of(
    expected: str,
    received: str,
    step: Optional[Expectation],
    pending: bytes,
    notes: Sequence[str] = (),
) -> FailureDetails:
    """Return :class:`FailureDetails` with the nearest arrival found in ``pending``.

    Example:
        >>> details_of("b'HI'", "b'HO'", None, b"HO").nearest
        "b'HO' (received, not consumed)"
    """
    return FailureDetails(expected, received, nearest_arrival(step, pending), tuple(notes))


def unmet_details(
    what: str, step: Optional[Expectation], pending: bytes, notes: Sequence[str]
) -> FailureDetails:
    """Return the details of an expectation still unmet when waiting ended (EOF aside).

    ``what`` names what was awaited when there is no step (``"a line"``).

    Example:
        >>> unmet_details("a line", None, b"", ["timed out"]).received
        'nothing'
    """
    expected = what if step is None else expected_text(step, pending)
    received = repr(pending) if pending else "nothing"
    return details_of(expected, received, step, pending, notes)

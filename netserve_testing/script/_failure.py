"""The failure of a scripted expectation: a test failure that carries the transcript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .._errors import NetserveTestingError
from ._transcript import Transcript

if TYPE_CHECKING:
    from ._report import FailureDetails

__all__ = ["ExpectationFailed"]


class ExpectationFailed(NetserveTestingError, AssertionError):
    """A scripted expectation did not match what the peer sent.

    It is an :class:`AssertionError`, so pytest reports a failed test, not an
    error. The message holds the transcript of the conversation up to the
    point where it diverged.

    Attributes:
        transcript: The :class:`~netserve_testing.Transcript` at the moment of
            failure, or ``None``.
        details: What was expected, what was received and the nearest thing
            that arrived, when the failure is a failed expectation (else ``None``).

    Example:
        >>> try:
        ...     raise ExpectationFailed("expected b'HI'")
        ... except AssertionError as exc:
        ...     print(exc)
        expected b'HI'
    """

    def __init__(self, message: str, transcript: Optional[Transcript] = None) -> None:
        self.reason = message
        """The message without the transcript."""
        if transcript is not None:
            message = f"{message}\n\ntranscript:\n{transcript.format()}"
        super().__init__(message)
        self.transcript = transcript
        self.details: Optional[FailureDetails] = None

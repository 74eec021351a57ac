"""The exception hierarchy of :mod:`netserve_testing`, rooted in :class:`NetserveTestingError`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._transcript import Transcript


class NetserveTestingError(Exception):
    """Base class of every error raised by :mod:`netserve_testing`.

    Example:
        >>> issubclass(ExpectationFailed, NetserveTestingError)
        True
    """


class ExpectationFailed(NetserveTestingError, AssertionError):
    """A scripted expectation did not match what the peer sent.

    It is an :class:`AssertionError`, so pytest reports a failed test, not an
    error. The message holds the transcript of the conversation up to the
    point where it diverged.

    Attributes:
        transcript: The :class:`~netserve_testing.Transcript` at the moment of
            failure, or ``None``.

    Example:
        >>> try:
        ...     raise ExpectationFailed("expected b'HI'")
        ... except AssertionError as exc:
        ...     print(exc)
        expected b'HI'
    """

    def __init__(self, message: str, transcript: Optional[Transcript] = None) -> None:
        if transcript is not None:
            message = f"{message}\n\ntranscript:\n{transcript.format()}"
        super().__init__(message)
        self.transcript = transcript


class HandlerWouldBlock(NetserveTestingError, RuntimeError):
    """A handler read from a fake socket that has no more data and no timeout.

    A real server would wait forever here; the fake says so at once.

    Example:
        >>> str(HandlerWouldBlock("recv() with no data"))
        'recv() with no data'
    """

"""Testing tools for socketserver request handlers: fakes, scripts, clients, a pytest plugin."""

from __future__ import annotations

from ._errors import ExpectationFailed, HandlerWouldBlock, NetserveTestingError
from ._transcript import Transcript, TranscriptEntry

__all__ = [
    "ExpectationFailed",
    "HandlerWouldBlock",
    "NetserveTestingError",
    "Transcript",
    "TranscriptEntry",
]

"""The script wing: the conversation language shared by the in-memory and the live worlds.

Steps (what the client sends, what it expects back), :class:`Script`,
:class:`Transcript` and :class:`ExpectationFailed`. It imports nothing from the
other wings: whoever plays a script (a fake socket, a real client) imports it.
"""

from __future__ import annotations

from ._failure import ExpectationFailed
from ._golden import GoldenFileMissing, GoldenScript
from ._golden_format import ScriptFormatError
from ._http import ParsedResponse
from ._http_steps import ExpectResponse, SendRequest
from ._pause import Pause
from ._script import Script, register_handler_runner
from ._steps import (
    Close,
    Expect,
    Expectation,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    GoQuiet,
    Matched,
    Mismatch,
    Reset,
    ScriptClient,
    Send,
    Step,
)
from ._transcript import Transcript, TranscriptEntry
from ._until import ExpectUntil

__all__ = [
    "Close",
    "Expect",
    "ExpectClosed",
    "ExpectLine",
    "ExpectRegex",
    "ExpectResponse",
    "ExpectUntil",
    "Expectation",
    "ExpectationFailed",
    "GoQuiet",
    "GoldenFileMissing",
    "GoldenScript",
    "Matched",
    "Mismatch",
    "ParsedResponse",
    "Pause",
    "Reset",
    "Script",
    "ScriptClient",
    "ScriptFormatError",
    "Send",
    "SendRequest",
    "Step",
    "Transcript",
    "TranscriptEntry",
    "register_handler_runner",
]

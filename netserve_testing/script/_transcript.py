"""A readable record of a conversation, shared by the fakes and the real clients."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence

#: Prefix of bytes that travelled from the client to the handler.
INBOUND = ">>>"
#: Prefix of bytes that travelled from the handler to the client.
OUTBOUND = "<<<"
#: Prefix of connection events (EOF, reset, timeout, close).
EVENT = "---"
#: Prefix of the line that marks where the conversation diverged.
MISMATCH = "!!!"


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of a :class:`Transcript`.

    Attributes:
        prefix: One of ``">>>"`` (client to handler), ``"<<<"`` (handler to
            client), ``"---"`` (an event) or ``"!!!"`` (a mismatch).
        text: What happened: ``repr()`` of the bytes, or a description.

    Example:
        >>> t = Transcript()
        >>> t.inbound(b"hi")
        >>> t.entries
        [TranscriptEntry(prefix='>>>', text="b'hi'")]
    """

    prefix: str
    text: str

    def format(self) -> str:
        """Return the entry as one transcript line.

        Example:
            >>> TranscriptEntry(">>>", "b'hi'").format()
            ">>> b'hi'"
        """
        return f"{self.prefix} {self.text}"


class Transcript:
    """What a client and a handler said to each other, in order.

    Each chunk is kept as its own line, so the split points that a test used
    are visible in a failure message. Thread-safe: a real client and a server
    thread may both append.

    Example:
        >>> t = Transcript()
        >>> t.inbound(b"HELO x")
        >>> t.outbound(b"250 ok")
        >>> t.format().splitlines()
        [">>> b'HELO x'", "<<< b'250 ok'"]
    """

    def __init__(self, header: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._header: List[str] = list(header)
        self._entries: List[TranscriptEntry] = []

    @property
    def entries(self) -> List[TranscriptEntry]:
        """A copy of the entries recorded so far."""
        with self._lock:
            return list(self._entries)

    def add_header(self, line: str) -> None:
        """Add a line shown above the conversation (a seed, the chunk sizes)."""
        with self._lock:
            self._header.append(line)

    def _add(self, prefix: str, text: str) -> None:
        with self._lock:
            self._entries.append(TranscriptEntry(prefix, text))

    def inbound(self, data: bytes) -> None:
        """Record bytes sent by the client to the handler."""
        self._add(INBOUND, repr(bytes(data)))

    def outbound(self, data: bytes) -> None:
        """Record bytes sent by the handler to the client."""
        self._add(OUTBOUND, repr(bytes(data)))

    def event(self, text: str) -> None:
        """Record a connection event, such as ``"client sent EOF"``."""
        self._add(EVENT, text)

    def mismatch(self, expected: str, received: str, note: Optional[str] = None) -> None:
        """Record where the conversation diverged."""
        text = f"expected {expected}, received {received}"
        if note:
            text = f"{text} ({note})"
        self._add(MISMATCH, text)

    def format(self, limit: int = 200) -> str:
        """Return the transcript as text, one entry a line.

        Args:
            limit: Show at most this many of the last entries; earlier ones are
                summarised in one line.

        Returns:
            The header lines, then the entries.
        """
        with self._lock:
            header = list(self._header)
            entries = list(self._entries)
        lines = list(header)
        if len(entries) > limit:
            lines.append(f"... {len(entries) - limit} earlier entries omitted")
            entries = entries[-limit:]
        lines.extend(entry.format() for entry in entries)
        if not lines:
            return "(nothing was exchanged)"
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"<Transcript with {len(self.entries)} entries>"

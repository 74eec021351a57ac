"""Read until a delimiter: the step for replies framed by a terminator, not a length.

A memcached ``get`` reply ends with ``END\\r\\n``, an HTTP header block with a
blank line, an SMTP multi-line reply with a line that has a space after the code.
:class:`ExpectUntil` takes every byte up to and including the first delimiter,
within a maximum size, so a handler that never sends the delimiter fails at
that size instead of filling memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from ._steps import Expectation, Matched, Mismatch, Outcome, ScriptClient, client_verb

__all__ = ["DEFAULT_MAX_SIZE", "ExpectUntil", "shorten"]

#: The most bytes :class:`ExpectUntil` reads by default before it gives up.
DEFAULT_MAX_SIZE = 65536


def shorten(data: bytes, limit: int = 160) -> str:
    """Return ``repr(data)``, cut in the middle when ``data`` is longer than ``limit`` bytes.

    Example:
        >>> shorten(b"x" * 500, 10)
        "b'xxxxx' ... b'xxxxx' (500 bytes)"
    """
    if len(data) <= limit:
        return repr(data)
    half = limit // 2
    return f"{data[:half]!r} ... {data[-half:]!r} ({len(data)} bytes)"


def as_delimiter(delimiter: Union[str, bytes]) -> bytes:
    """Return ``delimiter`` as non-empty bytes (``str`` is encoded as UTF-8).

    Example:
        >>> as_delimiter("END\\r\\n")
        b'END\\r\\n'
    """
    if isinstance(delimiter, str):
        delimiter = delimiter.encode("utf-8")
    if not isinstance(delimiter, (bytes, bytearray, memoryview)):
        raise TypeError(f"delimiter must be bytes or str, not {type(delimiter).__name__}")
    if not delimiter:
        raise ValueError("delimiter must not be empty")
    return bytes(delimiter)


@dataclass(frozen=True)
class ExpectUntil(Expectation):
    """The handler sends some bytes ending with ``delimiter``, at most ``max_size`` in all.

    The step's value is every byte read, the delimiter included.

    Example:
        >>> ExpectUntil(b"END\\r\\n").match(b"VALUE a 0 1\\r\\nx\\r\\nEND\\r\\nnext", False)
        Matched(consumed=21, value=b'VALUE a 0 1\\r\\nx\\r\\nEND\\r\\n')
        >>> ExpectUntil(b"END\\r\\n").match(b"VALUE a", False) is None  # more bytes needed
        True
        >>> ExpectUntil(b"\\r\\n\\r\\n", max_size=4).match(b"abcdef", False).expected
        "b'\\\\r\\\\n\\\\r\\\\n' within 4 bytes"
    """

    delimiter: bytes
    max_size: int = DEFAULT_MAX_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "delimiter", as_delimiter(self.delimiter))
        if isinstance(self.max_size, bool) or not isinstance(self.max_size, int):
            raise TypeError(f"max_size must be an int, not {self.max_size!r}")
        if self.max_size < len(self.delimiter):
            raise ValueError(
                f"max_size {self.max_size} is shorter than the delimiter {self.delimiter!r}"
            )

    def apply(self, client: ScriptClient) -> Any:
        return client_verb(client, "expect_until", self)(self.delimiter, max_size=self.max_size)

    def describe(self) -> str:
        return f"expect bytes until {self.delimiter!r}"

    def _wanted(self) -> str:
        return f"{self.delimiter!r} within {self.max_size} bytes"

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        end = buffer.find(self.delimiter, 0, self.max_size)
        if end >= 0:
            size = end + len(self.delimiter)
            return Matched(size, buffer[:size])
        if len(buffer) >= self.max_size:
            return Mismatch(self._wanted(), f"{shorten(buffer[: self.max_size])} without it")
        if eof:
            received = f"{shorten(buffer)} then EOF" if buffer else "EOF"
            return Mismatch(self._wanted(), received)
        return None

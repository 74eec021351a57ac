"""A Faker provider of network payloads: text lines, binary blobs, Unicode edge cases, addresses.

Use it with any ``faker.Faker`` (``fake.add_provider(NetserveProvider)``), or
through :func:`make_faker`, or the ``netserve_faker`` pytest fixture, which is
seeded per test.
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

if TYPE_CHECKING:
    from faker import Faker

__all__ = [
    "NETWORK_EDGE_CASES",
    "UNICODE_EDGE_CASES",
    "NetserveProvider",
    "derive_seed",
    "make_faker",
]

#: Strings that break naive text handling: empty, BOM, combining marks, right-to-left,
#: astral plane, zero-width joiners, NUL, lone line-ending parts, normalisation pairs.
UNICODE_EDGE_CASES: Tuple[str, ...] = (
    "",
    "\ufeffbom first",
    "e\u0301\u0301 combining",
    "\u05e9\u05dc\u05d5\u05dd rtl",
    "\u202eoverride\u202c",
    "\U0001f600 astral",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 zwj family",
    "nul\x00inside",
    "tab\tand\x0bvtab",
    "\u00e9 vs e\u0301",
    "\u2028line separator",
    "\u0130stanbul \u0131",
    "\uffff noncharacter",
    "x" * 1024,
)

#: Bytes that break naive network code: line endings (CRLF, LF, a lone CR, LF CR), NUL,
#: and bytes that are not UTF-8 (a lone continuation byte, a truncated sequence, an
#: overlong encoding, an encoded surrogate, bytes UTF-8 never uses).
NETWORK_EDGE_CASES: Tuple[bytes, ...] = (
    b"\r\n",
    b"\n",
    b"\r",
    b"\n\r",
    b"\x00",
    b"\x80",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xff\xfe",
)

#: Bytes in the over-long line of :meth:`NetserveProvider.network_edge_case`: one more
#: than ``io.DEFAULT_BUFFER_SIZE``, so a buffered reader needs two fills for it.
LONG_LINE_SIZE = 8193


class NetserveProvider:
    """Faker provider of payloads for socket servers.

    Faker needs no base class for a provider: importing this module does not
    import Faker (which takes a tenth of a second); :func:`make_faker` does.

    Example:
        >>> from faker import Faker
        >>> fake = Faker()
        >>> fake.add_provider(NetserveProvider)
        >>> fake.seed_instance(1)
        >>> len(fake.payload(16)), fake.text_line().endswith("\\n")
        (16, False)
    """

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    @property
    def _random(self) -> random.Random:
        rng: random.Random = self.generator.random
        return rng

    def text_line(self, max_chars: int = 60, newline: str = "") -> str:
        """A line of printable words (no line ending unless ``newline`` is given)."""
        words: List[str] = []
        while True:
            word = self.generator.word()
            if words and len(" ".join([*words, word])) > max_chars:
                break
            words.append(word)
            if len(" ".join(words)) >= max_chars // 2 and self._random.random() < 0.3:
                break
        return " ".join(words)[:max_chars] + newline

    def text_lines(self, count: int = 3, max_chars: int = 60, newline: str = "\n") -> bytes:
        """``count`` lines, each ended by ``newline``, encoded as UTF-8."""
        return "".join(self.text_line(max_chars, newline) for _ in range(count)).encode()

    def payload(self, size: Optional[int] = None, min_size: int = 1, max_size: int = 4096) -> bytes:
        """Random bytes: exactly ``size`` of them, or between ``min_size`` and ``max_size``.

        Example:
            >>> len(fake.payload(1 << 20))  # doctest: +SKIP
            1048576
        """
        if size is None:
            size = self._random.randint(min_size, max_size)
        if size < 0:
            raise ValueError(f"payload size must be >= 0, not {size}")
        return bytes(self._random.getrandbits(8) for _ in range(size))

    def payload_without(self, forbidden: bytes, size: Optional[int] = None) -> bytes:
        """Random bytes containing none of ``forbidden`` (e.g. ``b"\\r\\n"`` for a line body)."""
        allowed = bytes(b for b in range(256) if b not in forbidden)
        if not allowed:
            raise ValueError(f"payload_without() forbids every byte: {forbidden!r}")
        if size is None:
            size = self._random.randint(1, 256)
        return bytes(self._random.choice(allowed) for _ in range(size))

    def unicode_edge_case(self) -> str:
        """One string from :data:`UNICODE_EDGE_CASES`."""
        return self._random.choice(UNICODE_EDGE_CASES)

    def network_edge_case(self) -> bytes:
        """Bytes from :data:`NETWORK_EDGE_CASES`, or an over-long line (one time in ten).

        Example:
            >>> fake.network_edge_case() in NETWORK_EDGE_CASES  # doctest: +SKIP
            True
        """
        if self._random.random() < 0.1:
            return b"x" * LONG_LINE_SIZE + b"\n"
        return self._random.choice(NETWORK_EDGE_CASES)

    def client_address(self, kind: str = "tcp") -> Union[Tuple[Any, ...], str, bytes]:
        """A plausible client address as a server sees it, for ``kind``.

        ``"tcp"``/``"udp"``: ``("127.0.0.1", port)``; ``"tcp6"``/``"udp6"``:
        ``("::1", port, 0, 0)``; ``"unix_stream"``: ``""`` (unbound client);
        ``"unix_dgram"``: an abstract name such as ``b"\\x0012ab3"``.
        """
        transport = kind.partition("-")[0]
        port = self._random.randint(32768, 60999)
        if transport in ("tcp", "udp"):
            return (f"127.0.{self._random.randint(0, 255)}.{self._random.randint(1, 254)}", port)
        if transport in ("tcp6", "udp6"):
            return ("::1", port, 0, 0)
        if transport == "unix_stream":
            return ""
        if transport == "unix_dgram":
            return b"\x00" + b"%05x" % self._random.getrandbits(20)
        raise ValueError(f"unknown transport {kind!r} for client_address()")


def derive_seed(session_seed: int, node_id: str) -> int:
    """The seed of one test: a stable hash of the session seed and the test's node id.

    Example:
        >>> derive_seed(1, "test_x.py::test_a") == derive_seed(1, "test_x.py::test_a")
        True
    """
    digest = hashlib.sha256(f"{session_seed}:{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def make_faker(seed: Optional[int] = None, locale: Optional[str] = None) -> Faker:
    """Return a ``Faker`` with :class:`NetserveProvider`, seeded with ``seed`` if given.

    Example:
        >>> make_faker(7).payload(4) == make_faker(7).payload(4)
        True
    """
    from faker import Faker

    fake = Faker(locale)
    fake.add_provider(NetserveProvider)
    if seed is not None:
        fake.seed_instance(seed)
    return fake

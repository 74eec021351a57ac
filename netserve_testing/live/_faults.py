"""The faults a :class:`~netserve_testing.FaultProxy` puts on real connections.

Each fault is a small frozen value: what it does, in which direction
(``"to_server"``, ``"to_client"`` or ``"both"``) and with which probability (drawn
once per connection from the proxy's seeded generator). The proxy's thread calls
the private hooks below; they only compute release times and decisions, the
proxy does the I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Dict, List, Optional, Tuple

__all__ = [
    "Bandwidth",
    "BlackHole",
    "Fault",
    "Latency",
    "LimitData",
    "Refuse",
    "ResetPeer",
    "Slice",
    "SlowClose",
]

#: The directions a fault can take.
DIRECTIONS = ("to_server", "to_client", "both")

#: Bytes released at one time, each at the moment it may leave the proxy.
Pieces = List[Tuple[float, bytes]]


class Shaping:
    """What one fault sees of one direction of one connection while it shapes bytes.

    ``state`` is the fault's own memory for this direction of this connection;
    ``finish`` is set to ``"close"`` or ``"reset"`` when the connection must end
    once the bytes already released are sent; ``notes`` become fault events in the
    connection's transcript.
    """

    __slots__ = ("datagram", "finish", "notes", "now", "rng", "state")

    def __init__(self, now: float, rng: random.Random, datagram: bool) -> None:
        self.now = now
        self.rng = rng
        self.datagram = datagram
        self.state: Dict[str, Any] = {}
        self.finish: Optional[str] = None
        self.notes: List[str] = []


def _check_number(owner: str, name: str, value: Any, minimum: float = 0.0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{owner}: {name} must be a number, not {value!r}")
    if value < minimum or math.isinf(value):
        raise ValueError(f"{owner}: {name} must be >= {minimum:g} and finite, not {value!r}")


@dataclass(frozen=True, repr=False)
class Fault:
    """Base class of the faults: a direction and a probability.

    Args:
        direction: ``"to_server"`` (bytes from the client), ``"to_client"`` (bytes
            from the server) or ``"both"``.
        probability: The chance that the fault applies to a connection, drawn once
            per connection from the proxy's seeded generator.

    Example:
        >>> Latency(0.05).applies_to("to_server"), Latency(0.05).applies_to("to_client")
        (True, False)
    """

    direction: str = "to_server"
    probability: float = 1.0

    #: Whether the fault makes sense on a datagram (UDP) proxy.
    datagram: ClassVar[bool] = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"{name}: direction must be 'to_server', 'to_client' or 'both', "
                f"not {self.direction!r}"
            )
        _check_number(name, "probability", self.probability)
        if self.probability > 1:
            raise ValueError(f"{name}: probability must be <= 1, not {self.probability!r}")

    def __repr__(self) -> str:
        # The fault's own fields first; direction and probability when not the default.
        own = [f.name for f in fields(self) if f.name not in ("direction", "probability")]
        parts = [f"{name}={getattr(self, name)!r}" for name in own]
        if self.direction != _default_direction(type(self)):
            parts.append(f"direction={self.direction!r}")
        if self.probability != 1.0:
            parts.append(f"probability={self.probability!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def applies_to(self, direction: str) -> bool:
        """Whether the fault acts on bytes going ``direction`` (``"to_server"``/``"to_client"``).

        Example:
            >>> Slice(4, direction="both").applies_to("to_client")
            True
        """
        return self.direction == "both" or self.direction == direction

    # -- hooks for the proxy's thread (no I/O) --------------------------------------------------

    def _start(self, shaping: Shaping) -> Optional[float]:
        # When the fault starts applying to a direction of a connection: seconds after
        # which the connection must be reset, or None.
        return None

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        return pieces

    def _eof(self, shaping: Shaping) -> Optional[float]:
        # Seconds to hold back an EOF, or None to swallow it.
        return 0.0


@dataclass(frozen=True, init=False, repr=False)
class Latency(Fault):
    """Delay every chunk by ``seconds`` (plus or minus up to ``jitter``), keeping their order.

    Args:
        seconds: The delay of each chunk the proxy reads.
        jitter: Each chunk's delay varies by up to this much either way (seeded).
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> Latency(0.1, jitter=0.02, direction="both")
        Latency(seconds=0.1, jitter=0.02, direction='both')
    """

    seconds: float = 0.0
    jitter: float = 0.0

    def __init__(
        self,
        seconds: float,
        jitter: float = 0.0,
        *,
        direction: str = "to_server",
        probability: float = 1.0,
    ) -> None:
        _check_number("Latency", "seconds", seconds)
        _check_number("Latency", "jitter", jitter)
        _set(self, seconds=seconds, jitter=jitter, direction=direction, probability=probability)

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        delay = self.seconds
        if self.jitter:
            delay = max(0.0, delay + shaping.rng.uniform(-self.jitter, self.jitter))
        return [(when + delay, data) for when, data in pieces]


@dataclass(frozen=True, init=False, repr=False)
class Slice(Fault):
    """Cut the bytes into pieces of at most ``size`` bytes, ``delay`` seconds apart.

    A handler then sees split reads, as on a slow network. Streams only.

    Args:
        size: The largest piece, in bytes (at least 1).
        delay: Seconds between two pieces.
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> Slice(4, delay=0.01).size
        4
    """

    size: int = 1
    delay: float = 0.0
    datagram: ClassVar[bool] = False

    def __init__(
        self,
        size: int,
        delay: float = 0.0,
        *,
        direction: str = "to_server",
        probability: float = 1.0,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"Slice: size must be an int >= 1, not {size!r}")
        _check_number("Slice", "delay", delay)
        _set(self, size=size, delay=delay, direction=direction, probability=probability)

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        shaped: Pieces = []
        following = shaping.state.get("next", 0.0)
        for when, data in pieces:
            for offset in range(0, len(data), self.size):
                when = max(when, following)
                shaped.append((when, data[offset : offset + self.size]))
                following = when + self.delay
        shaping.state["next"] = following
        if len(shaped) > len(pieces):
            shaping.notes.append(f"{self!r} cut {len(pieces)} chunk(s) into {len(shaped)}")
        return shaped


@dataclass(frozen=True, init=False, repr=False)
class Bandwidth(Fault):
    """Let at most ``bytes_per_second`` through, released about every 10 ms.

    Args:
        bytes_per_second: The rate (> 0).
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> Bandwidth(1024, direction="to_client").bytes_per_second
        1024
    """

    bytes_per_second: float = 1.0

    def __init__(
        self, bytes_per_second: float, *, direction: str = "to_server", probability: float = 1.0
    ) -> None:
        _check_number("Bandwidth", "bytes_per_second", bytes_per_second)
        if bytes_per_second <= 0:
            raise ValueError(f"Bandwidth: bytes_per_second must be > 0, not {bytes_per_second!r}")
        _set(self, bytes_per_second=bytes_per_second, direction=direction, probability=probability)

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        rate = float(self.bytes_per_second)
        quantum = len(max(pieces, key=lambda p: len(p[1]))[1]) if shaping.datagram else 0
        quantum = quantum or max(1, int(rate / 100))
        clock = shaping.state.get("clock", 0.0)
        shaped: Pieces = []
        for when, data in pieces:
            clock = max(clock, when)
            for offset in range(0, len(data), quantum):
                part = data[offset : offset + quantum]
                clock += len(part) / rate
                shaped.append((clock, part))
        shaping.state["clock"] = clock
        return shaped


def _take(shaping: Shaping, budget: int, pieces: Pieces) -> Tuple[Pieces, int]:
    # The pieces that fit in what is left of ``budget`` (a datagram fits whole or not at
    # all), and how many bytes were left out.
    left = shaping.state.setdefault("left", budget)
    kept: Pieces = []
    dropped = 0
    for when, data in pieces:
        fits = not shaping.datagram or len(data) <= left
        part = data[:left] if fits else b""
        left -= len(part)
        dropped += len(data) - len(part)
        if part:
            kept.append((when, part))
    shaping.state["left"] = left
    return kept, dropped


@dataclass(frozen=True, init=False, repr=False)
class LimitData(Fault):
    """Close the connection once ``nbytes`` bytes have gone through (counted from its start).

    On a datagram proxy, datagrams past the limit are dropped.

    Args:
        nbytes: Bytes let through before the close.
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> LimitData(100, direction="to_client").nbytes
        100
    """

    nbytes: int = 0

    def __init__(
        self, nbytes: int, *, direction: str = "to_server", probability: float = 1.0
    ) -> None:
        _check_count("LimitData", "nbytes", nbytes)
        _set(self, nbytes=nbytes, direction=direction, probability=probability)

    def _start(self, shaping: Shaping) -> Optional[float]:
        if self.nbytes == 0 and not shaping.datagram:
            shaping.finish = "close"
            shaping.notes.append(f"{self!r}: limit reached, closing")
        return None

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        kept, dropped = _take(shaping, self.nbytes, pieces)
        if shaping.state["left"] == 0 and shaping.finish is None and not shaping.datagram:
            shaping.finish = "close"
            shaping.notes.append(f"{self!r}: limit reached, closing")
        elif dropped:
            shaping.notes.append(f"{self!r}: limit reached, dropped {dropped} bytes")
        return kept


@dataclass(frozen=True, init=False, repr=False)
class ResetPeer(Fault):
    """Reset the connection (RST) after ``after_bytes`` bytes or ``after`` seconds.

    With neither, the connection is reset as soon as the fault applies. Both sides
    see the reset: the handler's next read raises ``ConnectionResetError``. Streams only.

    Args:
        after_bytes: Bytes let through (in the fault's direction) before the reset.
        after: Seconds after the fault starts applying to a connection.
        direction: ``"to_server"``, ``"to_client"`` or ``"both"`` (for ``after_bytes``).
        probability: The chance that the fault applies to a connection.

    Example:
        >>> ResetPeer(after_bytes=5).after_bytes
        5
    """

    after_bytes: Optional[int] = None
    after: Optional[float] = None
    datagram: ClassVar[bool] = False

    def __init__(
        self,
        after_bytes: Optional[int] = None,
        after: Optional[float] = None,
        *,
        direction: str = "to_server",
        probability: float = 1.0,
    ) -> None:
        if after_bytes is not None:
            _check_count("ResetPeer", "after_bytes", after_bytes)
        if after is not None:
            _check_number("ResetPeer", "after", after)
        _set(
            self, after_bytes=after_bytes, after=after, direction=direction, probability=probability
        )

    def _start(self, shaping: Shaping) -> Optional[float]:
        if self.after is not None:
            return self.after
        if self.after_bytes is None or self.after_bytes == 0:
            return 0.0
        return None

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        if self.after_bytes is None:
            return pieces
        kept, _ = _take(shaping, self.after_bytes, pieces)
        if shaping.state["left"] == 0 and shaping.finish is None:
            shaping.finish = "reset"
            shaping.notes.append(f"{self!r}: {self.after_bytes} bytes through, resetting")
        return kept


@dataclass(frozen=True, init=False, repr=False)
class BlackHole(Fault):
    """Let ``after_bytes`` bytes through, then forward nothing (not even an EOF).

    The connection stays open: a client waiting for an answer times out. Bytes
    dropped are gone, even if the fault is removed later.

    Args:
        after_bytes: Bytes let through before the hole.
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> BlackHole(direction="to_client", probability=0.5)
        BlackHole(after_bytes=0, direction='to_client', probability=0.5)
    """

    after_bytes: int = 0

    def __init__(
        self, after_bytes: int = 0, *, direction: str = "to_server", probability: float = 1.0
    ) -> None:
        _check_count("BlackHole", "after_bytes", after_bytes)
        _set(self, after_bytes=after_bytes, direction=direction, probability=probability)

    def _shape(self, shaping: Shaping, pieces: Pieces) -> Pieces:
        kept, dropped = _take(shaping, self.after_bytes, pieces)
        if dropped:
            shaping.notes.append(f"{self!r}: dropped {dropped} bytes")
        return kept

    def _eof(self, shaping: Shaping) -> Optional[float]:
        if shaping.state.setdefault("left", self.after_bytes) > 0:
            return 0.0
        shaping.notes.append(f"{self!r}: dropped the EOF")
        return None


@dataclass(frozen=True, init=False, repr=False)
class SlowClose(Fault):
    """Hold back an EOF (a close or half-close) for ``delay`` seconds. Streams only.

    Args:
        delay: Seconds between the EOF reaching the proxy and leaving it.
        direction: ``"to_server"``, ``"to_client"`` or ``"both"``.
        probability: The chance that the fault applies to a connection.

    Example:
        >>> SlowClose(0.5, direction="to_client").delay
        0.5
    """

    delay: float = 0.0
    datagram: ClassVar[bool] = False

    def __init__(
        self, delay: float, *, direction: str = "to_server", probability: float = 1.0
    ) -> None:
        _check_number("SlowClose", "delay", delay)
        _set(self, delay=delay, direction=direction, probability=probability)

    def _eof(self, shaping: Shaping) -> Optional[float]:
        shaping.notes.append(f"{self!r}: EOF held back {self.delay:g} s")
        return self.delay


@dataclass(frozen=True, init=False, repr=False)
class Refuse(Fault):
    """Refuse new connections: accept, then reset at once (a datagram proxy drops them).

    Connections already open are left alone. ``direction`` is accepted for
    symmetry and ignored.

    Args:
        direction: Ignored.
        probability: The chance that a new connection is refused.

    Example:
        >>> Refuse(probability=0.5).probability
        0.5
    """

    def __init__(self, *, direction: str = "both", probability: float = 1.0) -> None:
        _set(self, direction=direction, probability=probability)

    def applies_to(self, direction: str) -> bool:
        """Whether the fault acts on ``direction``: a refusal acts on the whole connection.

        Example:
            >>> Refuse().applies_to("to_client")
            True
        """
        return True


def _default_direction(cls: type) -> str:
    return "both" if cls is Refuse else "to_server"


def _check_count(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, not {value!r}")


def _set(fault: Fault, **values: Any) -> None:
    # A frozen dataclass with its own __init__: set the fields, then check them.
    for name, value in values.items():
        object.__setattr__(fault, name, value)
    fault.__post_init__()

"""How the bytes a test sends are split into the pieces a handler's reads return."""

from __future__ import annotations

import functools
import random
from typing import Callable, List, Optional, Sequence, Tuple, Union

__all__ = ["Chunking", "ChunkingLike"]

_MODES = ("exact", "bytewise", "fixed", "random", "at")


class Chunking:
    """A rule that splits inbound bytes into the chunks a handler's reads return.

    A read on a fake never returns bytes from two chunks, so the chunking
    decides exactly where a handler's ``recv()`` calls see the data split.

    * ``Chunking.exact()``: every chunk as the test wrote it (the default).
    * ``Chunking.bytewise()``: one byte a read, the worst case for a parser.
    * ``Chunking.fixed(n)``: pieces of ``n`` bytes.
    * ``Chunking.random(seed)``: consecutive sends are joined and cut at
      random places, so one read may return the end of one message and the
      start of the next, as TCP may. The seed is printed in every failure
      message: pass it back to replay the same split.
    * ``Chunking.at(3, 7)``: cut the connection's byte stream at these
      offsets (what ``netserve_testing.strategies.chunkings()`` draws), and
      ``Chunking.of([b"ab", b"c"])`` (or ``chunking=[b"ab", b"c"]``): exactly
      these pieces, checked against what is sent (a regression test's form).

    A chunking holds no state: every socket it splits for starts a fresh
    random stream from the seed, so reusing one object replays the same split.

    Most functions also accept the short forms ``None``, ``"exact"``,
    ``"bytewise"``, ``"random"`` and an ``int`` (fixed size), see
    :meth:`Chunking.of`.

    Example:
        >>> Chunking.fixed(2).split([b"hello"])
        [b'he', b'll', b'o']
        >>> Chunking.random(seed=7).split([b"ab", b"cd"]) == Chunking.random(seed=7).split(
        ...     [b"ab", b"cd"])
        True
    """

    __slots__ = ("mode", "offsets", "pieces", "seed", "size")

    def __init__(
        self,
        mode: str = "exact",
        size: int = 0,
        seed: Optional[int] = None,
        offsets: Sequence[int] = (),
        pieces: Optional[Sequence[bytes]] = None,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown chunking mode {mode!r}, expected one of {_MODES}")
        if mode == "fixed" and (not isinstance(size, int) or size < 1):
            raise ValueError(f"chunk size must be a positive int, not {size!r}")
        if mode == "random" and seed is None:
            seed = random.SystemRandom().randrange(2**32)
        for offset in offsets:
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
                raise ValueError(f"split offsets must be ints >= 1, not {offset!r}")
        self.mode = mode
        self.size = size
        self.seed = seed
        #: Where ``at`` cuts the stream: sorted byte offsets from the connection's start.
        self.offsets: Tuple[int, ...] = tuple(sorted(set(offsets)))
        #: The pieces of ``Chunking.of([...])``, checked against the bytes sent.
        self.pieces: Optional[Tuple[bytes, ...]] = None if pieces is None else tuple(pieces)

    @classmethod
    def exact(cls) -> Chunking:
        """Keep every chunk as given.

        Example:
            >>> Chunking.exact().split([b"hel", b"lo"])
            [b'hel', b'lo']
        """
        return cls("exact")

    @classmethod
    def bytewise(cls) -> Chunking:
        """Deliver one byte a read.

        Example:
            >>> Chunking.bytewise().split([b"hi"])
            [b'h', b'i']
        """
        return cls("fixed", 1)

    @classmethod
    def fixed(cls, size: int) -> Chunking:
        """Deliver pieces of ``size`` bytes (the last one may be shorter).

        Example:
            >>> Chunking.fixed(4).split([b"abcdef"])
            [b'abcd', b'ef']
        """
        return cls("fixed", size)

    @classmethod
    def random(cls, seed: Optional[int] = None) -> Chunking:
        """Join consecutive sends and cut them at random places.

        Args:
            seed: Seed of the split; ``None`` picks one, shown in failures.

        Example:
            >>> sorted(b"".join(Chunking.random(seed=1).split([b"abc", b"def"])))
            [97, 98, 99, 100, 101, 102]
        """
        return cls("random", seed=seed)

    @classmethod
    def at(cls, *offsets: int) -> Chunking:
        """Cut the connection's byte stream at these offsets (counted from its first byte).

        Consecutive sends are joined, as TCP may join them, then cut; a
        read never returns bytes across a cut. Offsets past the end are
        ignored. No offset at all means no cut.

        Args:
            offsets: Byte offsets, each at least 1, in any order.

        Example:
            >>> Chunking.at(1, 3).split([b"ab", b"cde"])
            [b'a', b'bc', b'de']
        """
        return cls("at", offsets=offsets)

    @classmethod
    def of(cls, value: ChunkingLike, seed: Optional[int] = None) -> Chunking:
        """Build a :class:`Chunking` from a short form.

        Args:
            value: ``None`` or ``"exact"``, ``"bytewise"`` (or ``1``), an ``int``
                size, ``"random"``, a list of bytes (exactly these pieces: the
                bytes sent must be their concatenation, as far as they go), or
                a :class:`Chunking` (returned as is).
            seed: The seed for ``"random"``. A :class:`Chunking` carries its
                own seed, so passing both is an error.

        Raises:
            ValueError: An unknown mode, or a seed given without ``"random"``.

        Example:
            >>> Chunking.of(3).describe()
            'fixed pieces of 3 bytes'
        """
        if isinstance(value, Chunking):
            if seed is not None:
                raise ValueError(
                    f"seed={seed!r} given with {value!r}, which has its own: "
                    f"use Chunking.random(seed={seed!r}) instead"
                )
            return value
        if seed is not None and value != "random":
            raise ValueError(f"a seed ({seed!r}) only applies to chunking='random', not {value!r}")
        if value is None or value == "exact":
            return _EXACT
        if value == "bytewise":
            return cls.bytewise()
        if value == "random":
            return cls.random(seed)
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.fixed(value)
        if isinstance(value, (list, tuple)) and all(isinstance(p, bytes) for p in value):
            offsets, end = [], 0
            for piece in value[:-1]:
                end += len(piece)
                offsets.append(end)
            if any(not piece for piece in value):
                raise ValueError(f"chunking pieces must not be empty: {value!r}")
            return cls("at", offsets=offsets, pieces=value)
        raise ValueError(
            f"chunking must be None, 'exact', 'bytewise', 'random', an int, a list of bytes "
            f"or a Chunking, not {value!r}"
        )

    def split(self, chunks: Sequence[bytes]) -> List[bytes]:
        """Split ``chunks`` (consecutive sends) into the pieces reads return.

        The same chunks always split the same way: a random split starts from
        the seed on every call.

        Example:
            >>> Chunking.exact().split([b"a", b"", b"b"])
            [b'a', b'b']
        """
        return self.splitter()(chunks)

    def splitter(self) -> Callable[[Sequence[bytes]], List[bytes]]:
        """Return a function that splits successive batches of sends, as one connection does.

        A random split continues one random stream, started from the seed,
        across the batches: each connection (each fake socket) takes its own
        splitter, so a run replays exactly from the seed.

        Example:
            >>> split = Chunking.random(seed=3).splitter()
            >>> batches = [split([b"abcdef"]), split([b"abcdef"])]
            >>> replay = Chunking.random(seed=3).splitter()
            >>> batches == [replay([b"abcdef"]), replay([b"abcdef"])]
            True
        """
        if self.mode == "exact":
            return _split_exact
        if self.mode == "fixed":
            return functools.partial(_split_fixed, self.size)
        if self.mode == "at":
            return _OffsetSplitter(self)
        return functools.partial(_split_random, random.Random(self.seed))

    def describe(self) -> str:
        """Say how the chunks are split, with what a test needs to replay it.

        Example:
            >>> Chunking.random(seed=42).describe()
            "random (seed=42; replay with chunking='random', seed=42)"
        """
        if self.mode == "exact":
            return "exact (each chunk as sent)"
        if self.mode == "fixed":
            return (
                "bytewise (one byte a read)"
                if self.size == 1
                else f"fixed pieces of {self.size} bytes"
            )
        if self.mode == "at":
            if self.pieces is not None:
                return f"pieces {list(self.pieces)!r} (replay with chunking={list(self.pieces)!r})"
            where = ", ".join(map(str, self.offsets)) or "nowhere"
            return f"cut at byte offsets {where} (replay with chunking={self!r})"
        return f"random (seed={self.seed}; replay with chunking='random', seed={self.seed})"

    def _key(self) -> Tuple[object, ...]:
        return (self.mode, self.size, self.seed, self.offsets, self.pieces)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chunking):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.mode == "fixed":
            return f"Chunking.fixed({self.size})"
        if self.mode == "random":
            return f"Chunking.random(seed={self.seed})"
        if self.mode == "at":
            if self.pieces is not None:
                return f"Chunking.of({list(self.pieces)!r})"
            return f"Chunking.at({', '.join(map(str, self.offsets))})"
        return "Chunking.exact()"


def _split_exact(chunks: Sequence[bytes]) -> List[bytes]:
    return [bytes(chunk) for chunk in chunks if chunk]


def _split_fixed(size: int, chunks: Sequence[bytes]) -> List[bytes]:
    return [bytes(chunk[i : i + size]) for chunk in chunks for i in range(0, len(chunk), size)]


def _split_random(rng: random.Random, chunks: Sequence[bytes]) -> List[bytes]:
    # ``rng`` belongs to one connection: its stream goes on across that connection's batches.
    data = b"".join(chunks)
    pieces: List[bytes] = []
    start = 0
    while start < len(data):
        left = len(data) - start
        # Small pieces are the interesting ones; sometimes take all that is left.
        limit = rng.choice((1, 2, 3, 7, 16, 64, 512, left))
        size = rng.randint(1, min(left, limit))
        pieces.append(data[start : start + size])
        start += size
    return pieces


class _OffsetSplitter:
    # One connection's split for Chunking.at(): `position` is how many bytes of the
    # connection's stream earlier batches held, so offsets count from its first byte.
    # With pieces, what is sent must be their concatenation, as far as both go.
    def __init__(self, chunking: Chunking) -> None:
        self.chunking = chunking
        self.expected = b"".join(chunking.pieces) if chunking.pieces is not None else None
        self.position = 0

    def __call__(self, chunks: Sequence[bytes]) -> List[bytes]:
        data = b"".join(chunks)
        start, end = self.position, self.position + len(data)
        if self.expected is not None and start < len(self.expected):
            wanted = self.expected[start:end]
            if data[: len(wanted)] != wanted:
                raise ValueError(
                    f"chunking {self.chunking!r} does not match the bytes sent: bytes "
                    f"{start}..{start + len(wanted)} are {data[: len(wanted)]!r}, "
                    f"the pieces say {wanted!r}"
                )
        cuts = [offset - start for offset in self.chunking.offsets if start < offset < end]
        self.position = end
        bounds = [0, *cuts, len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


# Exact chunking has no state: one instance serves every fake.
_EXACT = Chunking("exact")

#: What chunking parameters accept.
ChunkingLike = Union[Chunking, str, int, Sequence[bytes], None]

"""Hypothesis strategies for handler tests: how bytes split, what they hold, whole conversations.

Importable only when Hypothesis is installed (it is in the ``test`` extra:
``pip install 'netserve[test]'``). Everything drawn here is accepted as is by
:func:`~netserve_testing.run_handler`, :meth:`Script.run <netserve_testing.Script.run>`
and the fakes:

* :func:`chunkings` draws a :class:`~netserve_testing.Chunking` that cuts the
  connection's byte stream at a sorted set of offsets. Hypothesis shrinks the
  set toward no cut at all, so a failure reports the fewest, earliest cuts,
  such as ``Chunking.at(1)``; each run also notes the pieces a handler read
  (``chunking=[b'\\x00', b'\\x00\\x00\\x05hello']``), ready to paste into a
  regression test.
* :func:`payloads` and :func:`lines` draw bytes with the edge cases of a
  network: CRLF and LF, a lone CR, NUL, over-long lines, bytes that are not
  UTF-8, the Unicode edge cases of the Faker provider.
* :func:`scripts` draws a whole client conversation as a
  :class:`~netserve_testing.Script`, whose repr is the code that builds it.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

try:
    from hypothesis import strategies as st
    from hypothesis.control import current_build_context
    from hypothesis.control import note as _hypothesis_note
    from hypothesis.errors import InvalidArgument
except ImportError as exc:  # pragma: no cover - the test extra installs Hypothesis
    raise ImportError(
        "netserve_testing.strategies needs Hypothesis, which is not installed: "
        "pip install 'netserve[test]' (the test extra) or pip install hypothesis"
    ) from exc

from ._payloads import LONG_LINE_SIZE, NETWORK_EDGE_CASES, UNICODE_EDGE_CASES
from .memory._chunks import Chunking
from .script._script import Script

__all__ = ["chunkings", "lines", "payloads", "scripts"]

#: Line endings :func:`lines` draws from, the first one being what shrinking tends to.
LINE_ENDINGS: Tuple[bytes, ...] = (b"\n", b"\r\n")


def _note(text: str) -> None:
    # hypothesis.note() outside a test raises; a drawn chunking may be reused outside.
    try:
        current_build_context()
    except InvalidArgument:
        return
    _hypothesis_note(text)


class _NotedChunking(Chunking):
    # A Chunking.at() that notes, on every split, the pieces its connection read so far:
    # Hypothesis prints the notes of the failing run only, beside the falsifying example.
    __slots__ = ()

    def splitter(self) -> Callable[[Sequence[bytes]], List[bytes]]:
        split = super().splitter()
        read: List[bytes] = []

        def noting(chunks: Sequence[bytes]) -> List[bytes]:
            pieces = split(chunks)
            read.extend(pieces)
            _note(f"{self!r} split what the client sent into chunking={read!r}")
            return pieces

        return noting


def chunkings(*, max_offset: int = 64, max_cuts: int = 8) -> st.SearchStrategy[Chunking]:
    """How a connection's inbound bytes split into reads: cuts at a set of byte offsets.

    A chunking is drawn as a sorted set of offsets where the stream is cut
    (``Chunking.at(3, 7)``: reads end after byte 3 and byte 7 at the
    latest). Hypothesis shrinks it toward fewer and earlier cuts, down to
    no cut at all, so a failing test reports the smallest split that breaks
    the handler. Offsets past the end of what is sent cut nothing.

    Args:
        max_offset: The largest offset drawn; make it the length of the
            longest message the test sends (cuts past it change nothing).
        max_cuts: At most this many cuts.

    Returns:
        A strategy of :class:`~netserve_testing.Chunking`, for ``chunking=``.

    Example:
        >>> from hypothesis import given
        >>> from netserve_testing import run_handler
        >>> @given(chunking=chunkings(max_offset=8))
        ... def test_echo(chunking):
        ...     assert run_handler(Echo, b"hello\\n", chunking=chunking).sent == b"hello\\n"
    """
    if max_offset < 1:
        raise ValueError(f"max_offset must be at least 1, not {max_offset!r}")
    if max_cuts < 0:
        raise ValueError(f"max_cuts must be at least 0, not {max_cuts!r}")
    offsets = st.lists(st.integers(1, max_offset), unique=True, max_size=max_cuts)
    return _drawn_chunking(offsets)


# Composite, not .map(): Hypothesis then prints a drawn value by its repr, the code that
# builds it, rather than as a call of the mapping function.
@st.composite
def _drawn_chunking(draw: Any, offsets: st.SearchStrategy[List[int]]) -> Chunking:
    return _NotedChunking("at", offsets=draw(offsets))


def _edge_cases() -> st.SearchStrategy[bytes]:
    unicode = [case.encode("utf-8") for case in UNICODE_EDGE_CASES if case]
    return st.one_of(st.sampled_from(NETWORK_EDGE_CASES), st.sampled_from(unicode))


# One value in _LONG_ODDS is the over-long line. It is drawn as an integer rather than as a
# branch of one_of(): the integer shrinks to 0, so shrinking drops the long line at once
# instead of keeping 8 kB of "x" in a minimal example.
_LONG_ODDS = 12


@st.composite
def _sometimes_long(draw: Any, value: st.SearchStrategy[bytes], long_value: bytes) -> bytes:
    # The value is drawn first, so lowering the integer changes nothing else that was drawn.
    drawn: bytes = draw(value)
    if long_value and draw(st.integers(0, _LONG_ODDS - 1)) == _LONG_ODDS - 1:
        return long_value
    return drawn


def payloads(
    *, min_size: int = 0, max_parts: int = 8, long_line_size: int = LONG_LINE_SIZE
) -> st.SearchStrategy[bytes]:
    """Bytes a client may send: text, binary, and the edge cases of a network.

    A payload is a few parts joined: printable ASCII text, random bytes,
    line endings (``\\r\\n``, ``\\n``, a lone ``\\r``), NUL, bytes that are
    not UTF-8 (a lone continuation byte, a truncated sequence, an encoded
    surrogate), the Unicode edge cases of the Faker provider, and one
    over-long line. Shrinks toward ``b""``.

    Args:
        min_size: The fewest bytes drawn.
        max_parts: At most this many parts joined.
        long_line_size: Length of the over-long line (default 8193: more than
            ``io.DEFAULT_BUFFER_SIZE``); 0 leaves it out.

    Example:
        >>> from hypothesis import given
        >>> @given(data=payloads())
        ... def test_never_crashes(data):
        ...     run_handler(Upper, data)
    """
    part = st.one_of(
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16).map(str.encode),
        st.binary(max_size=16),
        _edge_cases(),
    )
    part = _sometimes_long(part, b"x" * long_line_size + b"\n" if long_line_size else b"")
    joined = st.lists(part, max_size=max_parts).map(b"".join)
    return joined.filter(lambda data: len(data) >= min_size) if min_size else joined


def lines(
    *,
    endings: Sequence[bytes] = LINE_ENDINGS,
    min_lines: int = 0,
    max_lines: int = 5,
    text_only: bool = False,
    long_line_size: int = LONG_LINE_SIZE,
) -> st.SearchStrategy[List[bytes]]:
    """Whole lines a client may send, each ended by one of ``endings``.

    A line's body never holds ``\\n`` (so the list is what a reader splitting
    on ``\\n`` sees); it may hold NUL, a lone ``\\r``, bytes that are not
    UTF-8 and Unicode edge cases, unless ``text_only``.

    Args:
        endings: Line endings to draw from (default ``\\n`` and ``\\r\\n``).
        min_lines: The fewest lines.
        max_lines: The most lines.
        text_only: Only printable ASCII and UTF-8 Unicode edge cases.
        long_line_size: Length of the over-long line body; 0 leaves it out.

    Example:
        >>> from hypothesis import given
        >>> @given(sent=lines())
        ... def test_one_reply_a_line(sent):
        ...     assert len(run_handler(Upper, b"".join(sent)).lines) == len(sent)
    """
    if not endings:
        raise ValueError("lines() needs at least one line ending")
    ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24)
    unicode = [case for case in UNICODE_EDGE_CASES if "\n" not in case]
    bodies: List[st.SearchStrategy[bytes]] = [
        ascii_text.map(str.encode),
        st.sampled_from(unicode).map(lambda text: text.encode("utf-8")),
    ]
    if not text_only:
        bodies.append(st.sampled_from([c for c in NETWORK_EDGE_CASES if b"\n" not in c]))
        bodies.append(st.binary(max_size=24).map(lambda data: data.replace(b"\n", b"")))
    body = st.one_of(bodies)
    if long_line_size and not text_only:
        body = _sometimes_long(body, b"x" * long_line_size)
    line = st.tuples(body, st.sampled_from(list(endings))).map(b"".join)
    return st.lists(line, min_size=min_lines, max_size=max_lines)


class _DrawnScript(Script):
    # A drawn script whose repr is the code that builds it, to paste into a regression test.
    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source

    def __repr__(self) -> str:
        return self._source


def scripts(
    messages: Optional[st.SearchStrategy[bytes]] = None,
    *,
    reply: Optional[Callable[[bytes], Optional[bytes]]] = None,
    min_messages: int = 1,
    max_messages: int = 4,
    endings: Sequence[str] = ("close",),
) -> st.SearchStrategy[Script]:
    """A whole client conversation, as a :class:`~netserve_testing.Script`.

    The client sends each drawn message; when ``reply`` is given, the
    script expects ``reply(message)`` after it (nothing when it returns
    ``None``). The conversation then ends as one of ``endings`` says:
    ``"close"`` (EOF, then the handler must close: ``expect_closed``),
    ``"reset"``, ``"quiet"`` (the client waits; the handler's read times
    out) or ``"open"`` (no ending step). The repr of a drawn script is the
    code that builds it, so a falsifying example pastes into a test.

    Args:
        messages: What each send holds (default: one line from :func:`lines`).
        reply: What the handler answers to one message, or ``None`` for no
            answer to check.
        min_messages: The fewest sends.
        max_messages: The most sends.
        endings: How the client may end: ``"close"``, ``"reset"``,
            ``"quiet"``, ``"open"``.

    Example:
        >>> from hypothesis import given
        >>> @given(script=scripts(reply=bytes.upper))
        ... def test_upper(script):
        ...     script.run(Upper)
    """
    unknown = [ending for ending in endings if ending not in ("close", "reset", "quiet", "open")]
    if unknown or not endings:
        raise ValueError(
            f"endings must be some of 'close', 'reset', 'quiet', 'open', not {list(endings)!r}"
        )
    if messages is None:
        messages = lines(min_lines=1, max_lines=1).map(b"".join)
    return _drawn_script(
        st.lists(messages, min_size=min_messages, max_size=max_messages),
        st.sampled_from(list(endings)),
        reply,
    )


@st.composite
def _drawn_script(
    draw: Any,
    messages: st.SearchStrategy[List[bytes]],
    endings: st.SearchStrategy[str],
    reply: Optional[Callable[[bytes], Optional[bytes]]],
) -> Script:
    sent = draw(messages)
    ending = draw(endings)
    calls = ["Script()"]
    steps: List[Tuple[str, Optional[bytes]]] = []
    for message in sent:
        steps.append(("send", message))
        answer = reply(message) if reply is not None else None
        if answer is not None:
            steps.append(("expect", answer))
    if ending == "close":
        steps += [("close", None), ("expect_closed", None)]
    elif ending == "reset":
        steps.append(("reset", None))
    elif ending == "quiet":
        steps.append(("go_quiet", None))
    for name, argument in steps:
        calls.append(f".{name}({argument!r})" if argument is not None else f".{name}()")
    script = _DrawnScript("".join(calls))
    for name, argument in steps:
        method = getattr(script, name)
        method(argument) if argument is not None else method()
    return script

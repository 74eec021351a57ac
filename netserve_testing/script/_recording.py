"""Recorded conversations become steps: the sends and replies of a transcript, in order.

The sources:

* a :class:`~netserve_testing.Transcript`, from a kit client
  (``client.transcript``) or an in-memory run (``run.transcript``): ``>>>``
  lines are what the client sent, ``<<<`` what the handler sent, and the
  connection events the kit writes (the client closed, reset, went quiet or
  paused; the server closed) become their steps;
* any other iterable of recorded chunks, such as a proxy's transcript: each
  item is a ``(direction, data)`` pair, a ``(time, direction, data)`` triple,
  or has ``.direction`` and ``.data`` attributes; ``direction`` is
  ``"to_server"`` or ``"to_client"`` and empty ``data`` means that side
  closed. Items of other directions are skipped; so are items with a ``.kind``
  other than ``"data"`` (``"eof"`` means that side closed), as a
  ``FaultProxy`` connection's ``.events`` has: a ``ConnectionTranscript`` is
  taken as its events.

Consecutive chunks of one direction are joined: how the bytes were cut on the
way is the network's business, not the conversation's. HTTP conversations
(the client's first bytes are a request line) become ``expect_response`` steps
that check the status, the headers (but those that change from run to run,
such as ``Date``) and the body, so a replay does not fail on the clock.
"""

from __future__ import annotations

import ast
import re
from typing import AbstractSet, Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

from ._http import parse_response
from ._http_steps import ExpectResponse
from ._pause import Pause
from ._steps import Close, Expect, ExpectClosed, GoQuiet, Reset, Send, Step
from ._transcript import EVENT, INBOUND, OUTBOUND, Transcript

__all__ = ["VOLATILE_HEADERS", "Redactor", "steps_from_transcript"]

#: Response headers left out of recorded HTTP expectations: they change from run to run.
VOLATILE_HEADERS = ("date", "server", "last-modified", "expires", "age", "etag")

#: A hook that takes the bytes of one direction's run and returns them with secrets replaced.
Redactor = Callable[[bytes], bytes]

# What the kit's transcripts say for the events that are steps (fakes and real clients).
_EVENTS: Sequence[Tuple[str, str]] = (
    ("client closed its sending side", "close"),
    ("client sent EOF", "close"),
    ("client reset the connection", "reset"),
    ("client went quiet", "quiet"),
    ("client goes quiet", "quiet"),
    ("client paused ", "pause"),
    ("client pauses ", "pause"),
    ("handler shut down its sending side", "closed"),
    ("handler's socket closed", "closed"),
    ("server closed the connection", "closed"),
)
_REQUEST_LINE = re.compile(rb"^([A-Z]+) \S+ HTTP/1\.[01]\r?$", re.MULTILINE)

# A recorded event: ("send", bytes), ("recv", bytes), or (event name, argument).
_Event = Tuple[str, Any]


def _from_kit_transcript(transcript: Transcript) -> List[_Event]:
    events: List[_Event] = []
    for entry in transcript.entries:
        if entry.prefix in (INBOUND, OUTBOUND):
            data = ast.literal_eval(entry.text)
            events.append(("send" if entry.prefix == INBOUND else "recv", data))
        elif entry.prefix == EVENT:
            for start, name in _EVENTS:
                if entry.text.startswith(start):
                    argument: Any = None
                    if name == "pause":
                        argument = float(entry.text[len(start) :].split()[0])
                    events.append((name, argument))
                    break
    return events


def _from_chunks(source: Iterable[Any]) -> List[_Event]:
    events: List[_Event] = []
    for item in source:
        kind = getattr(item, "kind", "data")  # a proxy's events: "data", "eof", "fault"...
        if kind not in ("data", "eof"):
            continue
        if hasattr(item, "direction"):
            direction, data = item.direction, b"" if kind == "eof" else item.data
        elif isinstance(item, tuple) and len(item) in (2, 3):
            direction, data = item[-2:]  # (direction, data) or (time, direction, data)
        else:
            continue
        if direction not in ("to_server", "to_client") or not isinstance(data, bytes):
            continue
        if direction == "to_server":
            events.append(("send", data) if data else ("close", None))
        else:
            events.append(("recv", data) if data else ("closed", None))
    return events


def _joined(events: List[_Event], redact: Optional[Redactor]) -> List[_Event]:
    # Consecutive bytes of one direction as one run, redacted; events deduplicated.
    out: List[_Event] = []
    for name, value in events:
        if out and name in ("send", "recv") and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + value)
        elif not (out and name in ("close", "closed") and (name, None) in out):
            out.append((name, value))
    if redact is not None:
        out = [(name, redact(value) if name in ("send", "recv") else value) for name, value in out]
    return [(name, value) for name, value in out if value != b""]


def _responses(
    data: bytes, eof: bool, methods: List[str], ignore: AbstractSet[str]
) -> Tuple[List[Step], bytes]:
    # The whole responses at the start of data as expect_response steps, and what is left.
    steps: List[Step] = []
    while data:
        interim = data[9:10] == b"1" and data.startswith(b"HTTP/1.")
        method = methods[0] if methods else "GET"
        parsed = parse_response(data, eof, method, interim)
        if not isinstance(parsed, tuple):
            break
        response, size = parsed
        if not interim and methods:
            methods.pop(0)
        headers = tuple(
            (name, value) for name, value in response.headers if name.lower() not in ignore
        )
        body = None if method == "HEAD" else response.body
        steps.append(ExpectResponse(response.status, headers, body, method=method))
        data = data[size:]
    return steps, data


def steps_from_transcript(
    source: Union[Transcript, Iterable[Any]],
    *,
    redact: Optional[Redactor] = None,
    http: Optional[bool] = None,
    ignore_headers: Sequence[str] = VOLATILE_HEADERS,
) -> List[Step]:
    """Return the steps of a recorded conversation (see the module docs for the sources).

    Args:
        source: A kit transcript, or recorded ``(direction, data)`` chunks.
        redact: Called with the bytes of each run of one direction before it
            becomes a step, to replace secrets.
        http: Read the replies as HTTP responses; by default, when the client's
            first bytes are an HTTP/1.x request line.
        ignore_headers: Response headers not checked on replay (any case).

    Example:
        >>> chunks = [("to_server", b"hi\\n"), ("to_client", b"H"), ("to_client", b"I\\n")]
        >>> steps_from_transcript(chunks + [("to_server", b"")])
        [Send(data=b'hi\\n'), Expect(data=b'HI\\n'), Close()]
    """
    if isinstance(source, Transcript):
        raw = _from_kit_transcript(source)
    else:  # recorded chunks, or a proxy connection's transcript (its .events)
        raw = _from_chunks(getattr(source, "events", source))
    events = _joined(raw, redact)
    sent = b"".join(value for name, value in events if name == "send")
    if http is None:
        http = _REQUEST_LINE.match(sent.split(b"\n", 1)[0] + b"\n") is not None
    methods = [m.decode("ascii") for m in _REQUEST_LINE.findall(sent)] if http else []
    ignore = {name.lower() for name in ignore_headers}
    steps: List[Step] = []
    pending = b""  # reply bytes not yet a whole response (HTTP)
    for index, (name, value) in enumerate(events):
        if name == "send":
            steps.append(Send(value))
        elif name == "recv" and not http:
            steps.append(Expect(value))
        elif name == "recv":
            eof = all(later[0] != "recv" for later in events[index + 1 :])
            ended = eof and any(later[0] == "closed" for later in events[index + 1 :])
            found, pending = _responses(pending + value, ended, methods, ignore)
            steps.extend(found)
        elif name == "close":
            steps.append(Close())
        elif name == "reset":
            steps.append(Reset())
        elif name == "quiet":
            steps.append(GoQuiet())
        elif name == "pause":
            steps.append(Pause(value))
        elif name == "closed":
            if pending:
                steps.append(Expect(pending))  # not a whole response: the bytes as they came
                pending = b""
            steps.append(ExpectClosed())
    if pending:
        steps.append(Expect(pending))
    return _without_trailing_client_steps(steps)


def _without_trailing_client_steps(steps: List[Step]) -> List[Step]:
    # A send after the client closed cannot be replayed, nor anything after a reset
    # (the client's socket is gone): the recording keeps them out.
    out: List[Step] = []
    closed = False
    for step in steps:
        if isinstance(step, Send) and closed:
            continue
        out.append(step)
        if isinstance(step, Reset):
            break
        closed = closed or isinstance(step, Close)
    return out

"""The text format of a saved :class:`~netserve_testing.Script`: one step per line.

A golden file reads like the conversation and diffs well in review::

    # netserve script 2
    send "HELO client\\r\\n"
    expect "250 hello\\r\\n"
    send "MAIL FROM:<a@b>\\r\\n"
       + "RCPT TO:<c@d>\\r\\n"
    expect "250 ok\\r\\n"
         + "250 ok\\r\\n"
    expect_line "250 ok" newline="\\r\\n"
    expect_regex "^250 " newline="\\r\\n"
    expect_until "END\\r\\n" max_size=65536
    expect_response status=200 method=HEAD header.Content-Type="text/html" body=""
    expect_response status=201 json={"id": 1}
    pause 1.5
    close
    reset
    go_quiet
    expect_closed

Bytes are written between double quotes: printable ASCII as itself, ``\\\\``,
``\\"``, ``\\r``, ``\\n``, ``\\t`` and ``\\xNN`` for the rest. A ``send`` or
``expect`` whose bytes hold several lines is written one line per line: the first
with its keyword, each next one as a continuation, ``+`` and the quoted bytes,
which add to the same step (one send is one write: a handler's single ``recv``
may get it all). Consecutive ``send`` lines are separate steps. ``#`` starts a
comment line; blank lines are ignored. Options are ``name=value``, the value
quoted or a bare word; ``json=`` takes the rest of the line as JSON.

The header names the format's version; text without one is read as the current
version. Version 1 had no continuations (a multi-line send was written as
consecutive ``send`` lines), so a version 1 file is read as long as that cannot
change its meaning: a ``send`` (``expect``) line right after one whose bytes end
with ``\\n`` may have been either, and is refused with the line named.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

from .._errors import NetserveTestingError
from ._http_steps import NO_JSON, ExpectResponse
from ._pause import Pause
from ._steps import (
    Close,
    Expect,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    GoQuiet,
    Reset,
    Send,
    Step,
)
from ._until import ExpectUntil

__all__ = [
    "HEADER",
    "VERSION",
    "ScriptFormatError",
    "dump_steps",
    "parse_steps",
    "quote",
    "unquote",
]

#: The format's version; 2 added ``+`` continuation lines.
VERSION = 2

#: The first line of a saved script; it names the format's version.
HEADER = f"# netserve script {VERSION}"

_HEADER = re.compile(r"#\s*netserve script\s+(\S+)\s*")

_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\r"): "\\r", ord("\n"): "\\n", 9: "\\t"}
_UNESCAPES = {"\\": 92, '"': 34, "r": 13, "n": 10, "t": 9}


class ScriptFormatError(NetserveTestingError, ValueError):
    """A saved script could not be read: the message names the file and line.

    Example:
        >>> from netserve_testing import Script
        >>> try:
        ...     Script.loads('sned "x"', name="golden.script")
        ... except ScriptFormatError as exc:
        ...     print(exc)
        golden.script:1: unknown step 'sned'
    """


def quote(data: bytes) -> str:
    """Return ``data`` as a double-quoted, readable, one-line string.

    Example:
        >>> print(quote(b'say "hi"\\r\\n\\x00'))
        "say \\"hi\\"\\r\\n\\x00"
    """
    out = ['"']
    for byte in data:
        escaped = _ESCAPES.get(byte)
        if escaped is not None:
            out.append(escaped)
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def unquote(text: str, start: int = 0) -> Tuple[bytes, int]:
    """Read a quoted string at ``text[start]``; return its bytes and the index after it.

    Raises:
        ValueError: The string is not closed, or has an unknown escape.

    Example:
        >>> unquote('"a\\\\r\\\\n\\\\x41" rest')
        (b'a\\r\\nA', 11)
    """
    if text[start : start + 1] != '"':
        raise ValueError(f"expected a quoted string at column {start + 1}")
    out = bytearray()
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return bytes(out), index + 1
        if char == "\\":
            code = text[index + 1 : index + 2]
            if code == "x":
                digits = text[index + 2 : index + 4]
                if not re.fullmatch(r"[0-9a-fA-F]{2}", digits):
                    raise ValueError(f"bad escape \\x{digits} at column {index + 1}")
                out.append(int(digits, 16))
                index += 4
                continue
            if code not in _UNESCAPES:
                raise ValueError(f"unknown escape \\{code} at column {index + 1}")
            out.append(_UNESCAPES[code])
            index += 2
            continue
        if not " " <= char <= "~":
            raise ValueError(f"character {char!r} at column {index + 1} must be escaped")
        out.append(ord(char))
        index += 1
    raise ValueError("the quoted string is not closed")


def _lines(data: bytes) -> List[bytes]:
    # The bytes cut after each b"\n", so each protocol line is one line of the file.
    pieces = data.split(b"\n")
    out = [piece + b"\n" for piece in pieces[:-1]]
    if pieces[-1]:
        out.append(pieces[-1])
    return out or [b""]


def _dump_data(keyword: str, data: bytes) -> List[str]:
    # One line per protocol line; the continuations' quotes line up under the first's.
    first, *rest = _lines(data)
    indent = " " * (len(keyword) - 1)
    return [f"{keyword} {quote(first)}", *(f"{indent}+ {quote(piece)}" for piece in rest)]


def _option(name: str, value: Any) -> str:
    if isinstance(value, bytes):
        return f"{name}={quote(value)}"
    if isinstance(value, str):
        if re.fullmatch(r"[!#-~]+", value) and '"' not in value:
            return f"{name}={value}"
        return f"{name}={quote(value.encode('utf-8'))}"
    return f"{name}={value}"


def _dump_response(step: ExpectResponse, number: int) -> str:
    words = ["expect_response"]
    if step.status is not None:
        words.append(f"status={step.status}")
    if step.method != "GET":
        words.append(_option("method", step.method))
    if step.version is not None:
        words.append(_option("version", step.version))
    for name, value in step.headers:
        if value is None:
            words.append(f"header.{name}=absent")
        elif isinstance(value, str):
            words.append(_option(f"header.{name}", value.encode("latin-1")))
        else:
            raise ValueError(f"step {number} ({step.describe()}): a header matcher cannot be saved")
    if step.body is not None:
        body = step.body.encode("utf-8") if isinstance(step.body, str) else step.body
        if not isinstance(body, bytes):
            raise ValueError(f"step {number} ({step.describe()}): a body matcher cannot be saved")
        words.append(_option("body", body))
    if step.json is not NO_JSON:
        words.append("json=" + json.dumps(step.json, sort_keys=True))
    return " ".join(words)


def dump_steps(steps: Tuple[Step, ...]) -> str:
    """Return the text of a saved script with these steps (see the module docs).

    Raises:
        ValueError: A step holds something that has no text form (a predicate).

    Example:
        >>> from netserve_testing import Script
        >>> print(dump_steps(Script().send(b"a\\nb\\n").expect_line("A").close().steps))
        # netserve script 2
        send "a\\n"
           + "b\\n"
        expect_line "A"
        close
        <BLANKLINE>
    """
    lines = [HEADER]
    for number, step in enumerate(steps, 1):
        if isinstance(step, Send):
            lines.extend(_dump_data("send", step.data))
        elif isinstance(step, Expect):
            lines.extend(_dump_data("expect", step.data))
        elif isinstance(step, ExpectLine):
            line = f"expect_line {quote(step.text.encode(step.encoding))}"
            if step.encoding != "utf-8":
                line += f" encoding={step.encoding}"
            lines.append(
                line + (f" newline={quote(step.newline.encode())}" if step.newline else "")
            )
        elif isinstance(step, ExpectRegex):
            line = f"expect_regex {quote(step.pattern)}"
            line += f" flags={int(step.flags)}" if step.flags else ""
            lines.append(
                line + (f" newline={quote(step.newline.encode())}" if step.newline else "")
            )
        elif isinstance(step, ExpectUntil):
            lines.append(f"expect_until {quote(step.delimiter)} max_size={step.max_size}")
        elif isinstance(step, ExpectResponse):
            lines.append(_dump_response(step, number))
        elif isinstance(step, Pause):
            lines.append(f"pause {step.seconds:g}")
        elif isinstance(step, (Close, Reset, GoQuiet, ExpectClosed)):
            lines.append(_BARE_NAMES[type(step)])
        else:
            raise ValueError(f"step {number} ({step.describe()}) has no saved form")
    return "\n".join(lines) + "\n"


_BARE_NAMES: Dict[type, str] = {
    Close: "close",
    Reset: "reset",
    GoQuiet: "go_quiet",
    ExpectClosed: "expect_closed",
}
_BARE_STEPS = {name: kind for kind, name in _BARE_NAMES.items()}


def _words(rest: str) -> Tuple[List[bytes], Dict[str, Any]]:
    # Quoted arguments, then name=value options (json= takes the rest of the line).
    args: List[bytes] = []
    options: Dict[str, Any] = {}
    index = 0
    while index < len(rest):
        if rest[index] == " ":
            index += 1
        elif rest[index] == '"':
            value, index = unquote(rest, index)
            args.append(value)
        else:
            found = re.compile(r"([\w.-]+)=").match(rest, index)
            if found is None:
                raise ValueError(f"expected a quoted string or name=value: {rest[index:]!r}")
            name, index = found.group(1), found.end()
            if name == "json":
                options[name] = json.loads(rest[index:])
                break
            if rest[index : index + 1] == '"':
                options[name], index = unquote(rest, index)
            else:
                end = rest.find(" ", index)
                end = len(rest) if end < 0 else end
                options[name], index = rest[index:end], end
    return args, options


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _response(options: Dict[str, Any]) -> ExpectResponse:
    headers = []
    for name, value in list(options.items()):
        if name.startswith("header."):
            del options[name]
            if value == "absent":
                header = None
            else:
                header = value.decode("latin-1") if isinstance(value, bytes) else value
            headers.append((name[len("header.") :], header))
    status = options.pop("status", None)
    step = ExpectResponse(
        None if status is None else int(status),
        tuple(headers),
        options.pop("body", None),
        options.pop("json", NO_JSON),
        _text(options.pop("method", "GET")),
        None if "version" not in options else _text(options.pop("version")),
    )
    if options:
        raise ValueError(f"unknown options {sorted(options)}")
    return step


def _step(keyword: str, rest: str) -> Step:
    if keyword == "pause":
        return Pause(float(rest))
    if keyword in _BARE_STEPS:
        if rest:
            raise ValueError(f"{keyword} takes no arguments")
        bare: Step = _BARE_STEPS[keyword]()
        return bare
    args, options = _words(rest)
    if keyword == "expect_response":
        if args:
            raise ValueError("expect_response takes name=value options only")
        return _response(options)
    if len(args) != 1:
        raise ValueError(f"{keyword} takes one quoted string, not {len(args)}")
    (data,) = args
    newline = options.pop("newline", None)
    newline_text = None if newline is None else _text(newline)
    if keyword == "send":
        step: Step = Send(data)
    elif keyword == "expect":
        step = Expect(data)
    elif keyword == "expect_line":
        encoding = _text(options.pop("encoding", "utf-8"))
        step = ExpectLine(data.decode(encoding), encoding, newline_text)
    elif keyword == "expect_regex":
        step = ExpectRegex(data, int(options.pop("flags", 0)), newline_text)
    elif keyword == "expect_until":
        step = ExpectUntil(data, int(options.pop("max_size", 65536)))
    else:
        raise ValueError(f"unknown step {keyword!r}")
    if options or (newline is not None and keyword not in ("expect_line", "expect_regex")):
        raise ValueError(f"unknown options {sorted(options) or ['newline']} for {keyword}")
    return step


def _version(text: str, name: str) -> int:
    # The version its header names (the first non-blank line), else the current one.
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        found = _HEADER.fullmatch(line.strip())
        if found is None:
            return VERSION
        word = found.group(1)
        if not word.isdigit() or not 1 <= int(word) <= VERSION:
            raise ScriptFormatError(
                f"{name}:{number}: unknown format version {word!r}, this reads 1 to {VERSION}"
            )
        return int(word)
    return VERSION


def _continue(step: Optional[Step], rest: str) -> Step:
    # A "+" line: more bytes of the send or expect just before it.
    args, options = _words(rest)
    if len(args) != 1 or options:
        raise ValueError('a continuation takes one quoted string: + "..."')
    if isinstance(step, Send):
        return Send(step.data + args[0])
    if isinstance(step, Expect):
        return Expect(step.data + args[0])
    after = "the start of the script" if step is None else step.describe()
    raise ValueError(f"a '+' line continues a send or an expect, not {after}")


def parse_steps(text: str, name: str = "<script>") -> Tuple[List[Step], Dict[int, str]]:
    """Read the steps of a saved script, and where each was written (``name:line``).

    A ``+`` line adds its bytes to the ``send`` or ``expect`` before it: the
    step is one write (or one expectation), its origin the first line.

    Raises:
        ScriptFormatError: A line is not a step; the message names ``name:line``.

    Example:
        >>> text = '# netserve script 2\\nsend "hi\\\\n"\\n   + "yo"\\nclose\\n'
        >>> parse_steps(text, "a.script")
        ([Send(data=b'hi\\nyo'), Close()], {1: 'a.script:2', 2: 'a.script:4'})
    """
    version = _version(text, name)
    steps: List[Step] = []
    origins: Dict[int, str] = {}
    previous = 0  # the line of the last step line, for version 1's message
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        last = steps[-1] if steps else None
        try:
            if keyword == "+":
                steps[-1] = _continue(last, rest.strip())  # raises when last is None
                previous = number
                continue
            step = _step(keyword, rest.strip())
        except (ValueError, TypeError) as exc:
            message = str(exc)
            if keyword not in _KEYWORDS:
                message = f"unknown step {keyword!r}"
            raise ScriptFormatError(f"{name}:{number}: {message}") from None
        if version == 1 and _may_continue(last, step):
            raise ScriptFormatError(
                f"{name}:{number}: format 1 cannot tell if this {keyword} is part of the one on"
                f' line {previous}: change the header to {HEADER!r}, mark a part with + "..."'
            )
        steps.append(step)
        origins[len(steps)] = f"{name}:{number}"
        previous = number
    return steps, origins


def _may_continue(last: Optional[Step], step: Step) -> bool:
    # Version 1 wrote a multi-line send (expect) as consecutive send (expect) lines,
    # cut after each b"\n": a send line after a send ending with b"\n" is ambiguous.
    if type(last) is not type(step) or not isinstance(step, (Send, Expect)):
        return False
    return isinstance(last, (Send, Expect)) and last.data.endswith(b"\n")


_KEYWORDS = {"send", "expect", "expect_line", "expect_regex", "expect_until", "expect_response"}
_KEYWORDS |= {"+", "pause", *_BARE_STEPS}

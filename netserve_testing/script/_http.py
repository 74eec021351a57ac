"""HTTP/1.x on the wire: requests built as bytes, responses parsed from bytes.

Pure, as the rest of the script wing: :func:`build_request` returns the bytes a
client sends, and :func:`parse_response` reads one response from the bytes
received so far, saying "need more" until the response is complete. The
parsing is the standard library's own (:class:`http.client.HTTPResponse`: the
status line, headers, ``Content-Length``, chunked transfer encoding, a skipped
``100 Continue``, no body for ``HEAD``, 204 and 304), fed from a buffer that
raises "need more" where a socket would wait.
"""

from __future__ import annotations

import http.client
import json as json_module
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["HeadersLike", "ParsedResponse", "build_request", "parse_response"]

#: Headers as a mapping or as ``(name, value)`` pairs (pairs keep repeats and order).
HeadersLike = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]

# The longest status line of a 1xx response (http.client limits the other lines itself).
_MAX_HEAD = 65536


def _pairs(headers: HeadersLike) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"headers are a mapping or (name, value) pairs, not {item!r}")
    return [(str(name), str(value)) for name, value in items]


def build_request(
    method: str,
    path: str,
    *,
    headers: HeadersLike = None,
    body: Union[bytes, str, None] = None,
    json: Any = None,
    version: str = "HTTP/1.1",
) -> bytes:
    """Return the bytes of an HTTP request, as a client sends them.

    ``Host`` is added for HTTP/1.1 when not given, ``Content-Length`` when a
    body is given without it (or ``Transfer-Encoding``); ``json`` sets the body
    and ``Content-Type: application/json``. Headers go out in the order given.

    Example:
        >>> for line in build_request("POST", "/items", json={"n": 1}).split(b"\\r\\n"):
        ...     print(line.decode())
        POST /items HTTP/1.1
        Host: localhost
        Content-Type: application/json
        Content-Length: 8
        <BLANKLINE>
        {"n": 1}
    """
    if not method or not method.isascii() or " " in method:
        raise ValueError(f"request method must be a token, not {method!r}")
    if not version.startswith("HTTP/"):
        raise ValueError(f"request version must look like 'HTTP/1.1', not {version!r}")
    pairs = _pairs(headers)
    names = {name.lower() for name, _ in pairs}
    if json is not None:
        if body is not None:
            raise ValueError("send_request() takes body= or json=, not both")
        body = json_module.dumps(json)
        if "content-type" not in names:
            pairs.append(("Content-Type", "application/json"))
    data = body.encode("utf-8") if isinstance(body, str) else body
    if version == "HTTP/1.1" and "host" not in names:
        pairs.insert(0, ("Host", "localhost"))
    if data is not None and not names & {"content-length", "transfer-encoding"}:
        pairs.append(("Content-Length", str(len(data))))
    head = [f"{method} {path} {version}"]
    head.extend(f"{name}: {value}" for name, value in pairs)
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (data or b"")


@dataclass(frozen=True)
class ParsedResponse:
    """One HTTP response as the client read it: what ``expect_response`` returns.

    Attributes:
        version: ``"HTTP/1.0"`` or ``"HTTP/1.1"``.
        status: The status code.
        reason: The reason phrase.
        headers: ``(name, value)`` pairs in the order received.
        body: The body, de-chunked (empty for ``HEAD``, 1xx, 204 and 304).

    Example:
        >>> response, size = parse_response(
        ...     b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi", eof=False
        ... )
        >>> response.status, response.header("content-length"), response.body, size
        (200, '2', b'hi', 40)
    """

    version: str
    status: int
    reason: str
    headers: Tuple[Tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """Return the value of header ``name`` (any case), repeats joined by ``", "``, or None.

        Example:
            >>> headers = (("X-A", "1"), ("x-a", "2"))
            >>> ParsedResponse("HTTP/1.1", 200, "OK", headers, b"").header("X-a")
            '1, 2'
        """
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(found) if found else None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON.

        Example:
            >>> ParsedResponse("HTTP/1.1", 200, "OK", (), b'{"a": 1}').json()
            {'a': 1}
        """
        return json_module.loads(self.body)

    def format(self, body_limit: int = 160) -> str:
        """Return the response as it reads on the wire, the body shortened.

        Example:
            >>> response = ParsedResponse("HTTP/1.1", 404, "Not Found", (("Server", "x"),), b"no")
            >>> print(response.format())
            HTTP/1.1 404 Not Found
              Server: x
              body: b'no'
        """
        lines = [f"{self.version} {self.status} {self.reason}".rstrip()]
        lines.extend(f"  {name}: {value}" for name, value in self.headers)
        body = repr(self.body)
        if len(self.body) > body_limit:
            half = body_limit // 2
            body = f"{self.body[:half]!r} ... {self.body[-half:]!r} ({len(self.body)} bytes)"
        lines.append(f"  body: {body}")
        return "\n".join(lines)


class _NeedMore(Exception):
    # Raised by _Feed where a socket would wait for more bytes.
    pass


class _Feed:
    # A read-only file over the bytes received so far, for http.client. Where a socket
    # would block (before EOF), it raises _NeedMore instead of returning short data;
    # after EOF it returns short data, and http.client reports what is missing.

    def __init__(self, data: bytes, eof: bool) -> None:
        self._data = data
        self._eof = eof
        self.position = 0

    def readline(self, limit: int = -1) -> bytes:
        data, start = self._data, self.position
        end = data.find(b"\n", start)
        stop = len(data) if end < 0 else end + 1
        if limit is not None and limit >= 0 and stop - start > limit:
            stop = start + limit
        elif end < 0 and not self._eof:
            raise _NeedMore
        self.position = stop
        return data[start:stop]

    def read(self, size: Optional[int] = -1) -> bytes:
        data, start = self._data, self.position
        if size is None or size < 0:
            if not self._eof:
                raise _NeedMore
            stop = len(data)
        else:
            stop = start + size
            if stop > len(data) and not self._eof:
                raise _NeedMore
        self.position = min(stop, len(data))
        return data[start : self.position]

    def close(self) -> None:
        pass  # http.client closes its file when the body is read; the position stays.

    def flush(self) -> None:
        pass  # http.client flushes its file when it closes


class _Connection:
    # What http.client.HTTPResponse takes: something with makefile("rb").
    def __init__(self, feed: _Feed) -> None:
        self._feed = feed

    def makefile(self, mode: str) -> _Feed:
        return self._feed


def _ends_with_blank_line(data: bytes) -> bool:
    return data.endswith((b"\n\r\n", b"\n\n"))


def _interim(feed: _Feed) -> ParsedResponse:
    # A 1xx head alone (http.client skips a 100 Continue on its way to the final response).
    line = feed.readline(_MAX_HEAD).decode("latin-1").rstrip("\r\n")
    version, status, reason = [*line.split(None, 2), "", ""][:3]
    message = http.client.parse_headers(feed)
    return ParsedResponse(version, int(status), reason, tuple(message.items()), b"")


def parse_response(
    buffer: bytes, eof: bool, method: str = "GET", interim: bool = False
) -> Union[str, Tuple[ParsedResponse, int], None]:
    """Read one HTTP response from the start of ``buffer``.

    Args:
        buffer: The bytes received and not yet consumed.
        eof: Whether the server closed its side (nothing more will come).
        method: The method of the request it answers (``HEAD`` responses have no body).
        interim: Read a 1xx response (``100 Continue``) instead of skipping it.

    Returns:
        ``None`` while more bytes are needed; the parsed response and the number of
        bytes it took; or, for a malformed or cut response, a short description.

    Example:
        >>> parse_response(b"HTTP/1.1 200 OK\\r\\nContent-Le", eof=False) is None
        True
        >>> parse_response(b"SSH-2.0-OpenSSH\\r\\n", eof=False)
        "the status line does not start with 'HTTP/': b'SSH-2.0-OpenSSH\\\\r\\\\n'"
    """
    start = buffer[:5]
    if not b"HTTP/".startswith(start) and not start.startswith(b"HTTP/"):
        line = buffer[: buffer.find(b"\n") + 1 or 80]
        return f"the status line does not start with 'HTTP/': {line!r}"
    if not eof and b"\n\r\n" not in buffer and b"\n\n" not in buffer:
        return None  # no blank line yet: the head is not complete (the common case)
    feed = _Feed(buffer, eof)
    response = http.client.HTTPResponse(_Connection(feed), method=method)  # type: ignore[arg-type]
    try:
        if interim:
            parsed = _interim(feed)
            if not 100 <= parsed.status < 200:
                return f"a final response ({parsed.status}) where a 1xx one was expected"
            if not _ends_with_blank_line(buffer[: feed.position]):
                raise _NeedMore
            return parsed, feed.position
        response.begin()
        if not _ends_with_blank_line(buffer[: feed.position]):
            raise _NeedMore  # the header block is cut short (only before EOF, see _Feed)
        body = response.read()
        if response.chunked and not _ends_with_blank_line(buffer[: feed.position]):
            raise _NeedMore  # the trailer section is cut short
    except _NeedMore:
        # Raised by _Feed only before EOF; by the checks above also after it.
        return "the response is cut short by EOF" if eof else None
    except (http.client.HTTPException, ValueError) as exc:
        if eof and isinstance(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected)):
            return f"the response is cut short by EOF ({type(exc).__name__})"
        if isinstance(exc, http.client.IncompleteRead):
            return "malformed chunked body: a chunk size line is not hexadecimal"
        return f"malformed response: {exc!r}"
    finally:
        response.close()
    version = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
    parsed = ParsedResponse(
        version, response.status, response.reason, tuple(response.getheaders()), body
    )
    return parsed, feed.position

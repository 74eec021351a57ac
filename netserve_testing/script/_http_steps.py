"""HTTP steps: send a request, expect a response, both over any byte stream.

:class:`SendRequest` is a :class:`~netserve_testing.Send` whose bytes are an
HTTP request, so every player already knows how to perform it.
:class:`ExpectResponse` is an expectation like the others: it parses one
response from the bytes received (see :mod:`._http`) and checks only what the
test names (status, the headers it lists, body or JSON), so a ``Date`` header
needs nothing. On a mismatch it shows the parsed response beside the expected one.
"""

from __future__ import annotations

import json as json_module
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._http import ParsedResponse, parse_response
from ._steps import Expectation, Matched, Mismatch, Outcome, ScriptClient, Send, client_verb
from ._until import shorten

__all__ = ["NO_JSON", "BodyMatcher", "ExpectResponse", "HeaderMatcher", "SendRequest"]

#: What a body is checked against: exact bytes or text, a regex searched in it, or a predicate.
BodyMatcher = Union[bytes, str, "re.Pattern[Any]", Callable[[bytes], Any], None]
#: What a header value is checked against: exact text, ``None`` (absent), a regex or a predicate.
HeaderMatcher = Union[str, None, "re.Pattern[Any]", Callable[[str], Any]]


class _NoJson:
    # "json= not given" (None is a JSON value: null).
    def __repr__(self) -> str:
        return "NO_JSON"


NO_JSON: Any = _NoJson()


def _describe_matcher(matcher: Any) -> str:
    if isinstance(matcher, re.Pattern):
        return f"matching {matcher.pattern!r}"
    if callable(matcher):
        return f"accepted by {getattr(matcher, '__qualname__', repr(matcher))}"
    return repr(matcher)


def _body_problem(expected: BodyMatcher, body: bytes) -> Optional[str]:
    if expected is None:
        return None
    if isinstance(expected, (bytes, bytearray)):
        ok = body == expected
    elif isinstance(expected, str):
        ok = body == expected.encode("utf-8")
    elif isinstance(expected, re.Pattern):
        subject: Any = (
            body.decode("utf-8", "replace") if isinstance(expected.pattern, str) else body
        )
        ok = expected.search(subject) is not None
    else:
        ok = bool(expected(body))
    return None if ok else f"body {shorten(body)}, not {_describe_matcher(expected)}"


def _header_problem(name: str, expected: HeaderMatcher, value: Optional[str]) -> Optional[str]:
    if expected is None:
        return None if value is None else f"header {name}: {value!r} is present, not absent"
    if value is None:
        return f"header {name} is missing, not {_describe_matcher(expected)}"
    if isinstance(expected, str):
        ok = value == expected
    elif isinstance(expected, re.Pattern):
        ok = expected.search(value) is not None
    else:
        ok = bool(expected(value))
    return None if ok else f"header {name}: {value!r}, not {_describe_matcher(expected)}"


@dataclass(frozen=True)
class SendRequest(Send):
    """The client sends an HTTP request (its bytes, built by ``Script.send_request``).

    Example:
        >>> from netserve_testing import Script
        >>> step = Script().send_request("GET", "/", version="HTTP/1.0").steps[0]
        >>> step.describe(), step.data
        ('send request GET / HTTP/1.0 (18 bytes)', b'GET / HTTP/1.0\\r\\n\\r\\n')
    """

    method: str = "GET"
    target: str = "/"
    version: str = "HTTP/1.1"

    def describe(self) -> str:
        return f"send request {self.method} {self.target} {self.version} ({len(self.data)} bytes)"


@dataclass(frozen=True)
class ExpectResponse(Expectation):
    """The handler sends one whole HTTP response, with what the test names.

    Only what is given is checked: ``status``; each header in ``headers``
    (names in any case; a value is exact text, ``None`` for "absent", a
    compiled regex searched in the value, or a predicate); ``body`` (exact
    bytes or text, a regex or a predicate on the bytes); ``json`` (the body
    parsed as JSON, compared with ``==``). ``method`` is the request's, as a
    ``HEAD`` response has no body. A 1xx ``status`` reads an interim response
    such as ``100 Continue``; otherwise a ``100 Continue`` is skipped. The
    step's value is the :class:`~netserve_testing.ParsedResponse`.

    Example:
        >>> step = ExpectResponse(status=200, headers=(("content-type", "text/plain"),))
        >>> wire = b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n"
        >>> wire += b"Content-Length: 2\\r\\n\\r\\nok"
        >>> step.match(wire, False).value.body
        b'ok'
        >>> print(ExpectResponse(status=201).match(wire, False).received)
        HTTP/1.1 200 OK
          Content-Type: text/plain
          Content-Length: 2
          body: b'ok'
          (differs: status 200, not 201)
    """

    status: Optional[int] = None
    headers: Tuple[Tuple[str, HeaderMatcher], ...] = ()
    body: BodyMatcher = None
    json: Any = NO_JSON
    method: str = "GET"
    version: Optional[str] = None
    _interim: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None and not isinstance(self.status, int):
            raise TypeError(f"status must be an int, not {self.status!r}")
        object.__setattr__(self, "headers", tuple(_header_pairs(self.headers)))
        if self.body is not None and self.json is not NO_JSON:
            raise ValueError("expect_response() takes body= or json=, not both")
        interim = self.status is not None and 100 <= self.status < 200
        object.__setattr__(self, "_interim", interim)

    def apply(self, client: ScriptClient) -> Any:
        options: Dict[str, Any] = {"headers": self.headers or None, "body": self.body}
        if self.json is not NO_JSON:
            options["json"] = self.json
        verb = client_verb(client, "expect_response", self)
        return verb(self.status, method=self.method, version=self.version, **options)

    def describe(self) -> str:
        return f"expect {self._wanted()}"

    def _wanted(self) -> str:
        parts = []
        if self.version is not None:
            parts.append(f"version {self.version}")
        if self.status is not None:
            parts.append(f"status {self.status}")
        parts.extend(f"header {name}: {_describe_matcher(value)}" for name, value in self.headers)
        if self.body is not None:
            parts.append(f"body {_describe_matcher(self.body)}")
        if self.json is not NO_JSON:
            parts.append(f"json {self.json!r}")
        answer = f" to {self.method}" if self.method != "GET" else ""
        return f"an HTTP response{answer}" + (f" with {', '.join(parts)}" if parts else "")

    def problems(self, response: ParsedResponse) -> List[str]:
        """Return how ``response`` differs from this expectation (empty when it matches).

        Example:
            >>> response = ParsedResponse("HTTP/1.1", 404, "Not Found", (), b"")
            >>> ExpectResponse(status=200, headers={"X-Id": None}).problems(response)
            ['status 404, not 200']
        """
        found: List[str] = []
        if self.version is not None and response.version != self.version:
            found.append(f"version {response.version}, not {self.version}")
        if self.status is not None and response.status != self.status:
            found.append(f"status {response.status}, not {self.status}")
        for name, expected in self.headers:
            problem = _header_problem(name, expected, response.header(name))
            if problem:
                found.append(problem)
        problem = _body_problem(self.body, response.body)
        if problem:
            found.append(problem)
        if self.json is not NO_JSON:
            try:
                value = json_module.loads(response.body)
            except ValueError as exc:
                found.append(f"body is not JSON ({exc}): {shorten(response.body)}")
            else:
                if value != self.json:
                    found.append(f"json {value!r}, not {self.json!r}")
        return found

    def match(self, buffer: bytes, eof: bool) -> Outcome:
        outcome = parse_response(buffer, eof, self.method, self._interim)
        if outcome is None:
            return None
        if isinstance(outcome, str):
            return Mismatch(self._wanted(), f"{outcome}\n  bytes: {shorten(buffer)}")
        response, consumed = outcome
        found = self.problems(response)
        if found:
            return Mismatch(self._wanted(), f"{response.format()}\n  (differs: {'; '.join(found)})")
        return Matched(consumed, response)


def _header_pairs(headers: Any) -> List[Tuple[str, HeaderMatcher]]:
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, dict) else list(headers)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"expected headers are a dict or (name, matcher) pairs, not {item!r}")
    return items

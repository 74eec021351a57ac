"""The protocol verbs of a real stream client: read until a delimiter, HTTP, pauses.

A mix-in of :class:`~netserve_testing.StreamClient`. Each verb builds the same
step a :class:`~netserve_testing.Script` holds and waits for it with the
client's ``_await``, so a verb and its script step mean one thing in memory
and on a real socket.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any, List, Optional, Union

from ..script._http import HeadersLike, ParsedResponse, build_request
from ..script._http_steps import NO_JSON, BodyMatcher, ExpectResponse
from ..script._steps import Expectation
from ..script._until import DEFAULT_MAX_SIZE, ExpectUntil

if TYPE_CHECKING:
    from ..script._transcript import Transcript

__all__ = ["StreamProtocolVerbs"]


class StreamProtocolVerbs:
    """Verbs for framed and HTTP conversations, mixed into :class:`StreamClient`.

    Example:
        >>> import socket
        >>> from netserve_testing import StreamClient
        >>> a, b = socket.socketpair()
        >>> with StreamClient(a, "pair") as client:
        ...     b.sendall(b"VALUE k 0 2\\r\\nhi\\r\\nEND\\r\\n")
        ...     client.recv_until(b"END\\r\\n")
        b'VALUE k 0 2\\r\\nhi\\r\\nEND\\r\\n'
        >>> b.close()
    """

    if TYPE_CHECKING:  # provided by StreamClient
        transcript: Transcript
        sock: socket.socket
        _buffer: bytes
        _eof: bool

        def _await(self, expectation: Expectation) -> Any: ...
        def send(self, data: bytes) -> Any: ...

    def expect_until(self, delimiter: Union[bytes, str], max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Wait for bytes ending with ``delimiter`` (at most ``max_size``); return them all.

        Raises:
            ExpectationFailed: EOF, ``max_size`` bytes without the delimiter, or
                the timeout came first.

        Example:
            >>> client.send_line("get k").expect_until(b"END\\r\\n")  # doctest: +SKIP
            b'VALUE k 0 2\\r\\nhi\\r\\nEND\\r\\n'
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        return bytes(self._await(ExpectUntil(delimiter, max_size)))  # type: ignore[arg-type]

    def recv_until(self, delimiter: Union[bytes, str], max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Return the bytes up to and including ``delimiter`` (:meth:`expect_until`).

        Example:
            >>> head = client.recv_until(b"\\r\\n\\r\\n")  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        return self.expect_until(delimiter, max_size)

    def send_request(
        self,
        method: str,
        path: str,
        *,
        headers: HeadersLike = None,
        body: Union[bytes, str, None] = None,
        json: Any = None,
        version: str = "HTTP/1.1",
    ) -> Any:
        """Send an HTTP request, as ``Script.send_request``; returns the client.

        Example:
            >>> client.send_request("GET", "/").expect_response(200)  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        data = build_request(method, path, headers=headers, body=body, json=json, version=version)
        self._http_requests().append(method)
        return self.send(data)

    def _http_requests(self) -> List[str]:
        # The methods of requests sent with send_request() and not yet answered.
        pending: Optional[List[str]] = self.__dict__.get("_pending_requests")
        if pending is None:
            pending = self.__dict__["_pending_requests"] = []
        return pending

    def expect_response(
        self,
        status: Optional[int] = None,
        *,
        headers: Any = None,
        body: BodyMatcher = None,
        json: Any = NO_JSON,
        version: Optional[str] = None,
        method: Optional[str] = None,
    ) -> ParsedResponse:
        """Wait for one whole HTTP response and check what is named; return it parsed.

        Arguments as for ``Script.expect_response``: headers not named are
        ignored, the body is de-chunked, a ``HEAD`` response has none.

        Raises:
            ExpectationFailed: The response differs (shown beside the expected
                one), is malformed, or the timeout came first.

        Example:
            >>> client.send_request("GET", "/").expect_response(200).json()  # doctest: +SKIP
            {'ok': True}
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        pending = self._http_requests()
        interim = status is not None and 100 <= status < 200
        if method is None:
            method = pending[0] if pending else "GET"
        if pending and not interim:
            pending.pop(0)
        step = ExpectResponse(status, headers, body, json, method, version)
        response: ParsedResponse = self._await(step)
        return response

    def pause(self, seconds: float) -> Any:
        """Send nothing for ``seconds``, reading what comes meanwhile; returns the client.

        What arrives is kept for the next expectation; EOF ends the pause early.

        Example:
            >>> client.send_line("hi").pause(0.5).expect_closed()  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        if seconds < 0:
            raise ValueError(f"pause() seconds must be >= 0, not {seconds!r}")
        self.transcript.event(f"client pauses {seconds:g} s")
        deadline = time.monotonic() + seconds
        while not self._eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                self.transcript.event("connection reset by the server")
                self._eof = True
                break
            if chunk:
                self.transcript.outbound(chunk)
                self._buffer += chunk
            else:
                self.transcript.event("server closed the connection (EOF)")
                self._eof = True
        return self

"""HTTP steps: one script, in memory and against real HTTPServer / ThreadingHTTPServer kinds."""

from __future__ import annotations

import http.server
import json
import re
from pathlib import Path
from typing import Any, Callable, List

import pytest

from netserve_testing import (
    ExpectationFailed,
    ExpectResponse,
    Matched,
    Mismatch,
    ParsedResponse,
    Script,
    run_handler,
)
from netserve_testing.script._http import build_request, parse_response


class Api(http.server.BaseHTTPRequestHandler):
    """A small JSON API: GET/HEAD echo the path, POST echoes the body, /chunked streams."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hel", b"lo ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/malformed":
            self.wfile.write(b"HTTP/1.1 two hundred OK\r\n\r\n")
            self.close_connection = True
        elif self.path == "/short":  # promises more than it sends
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"abc")
            self.close_connection = True
        else:
            self._json(200, {"method": self.command, "path": self.path})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._json(201, {"got": body.decode()})


class Api10(Api):
    protocol_version = "HTTP/1.0"


SERVERS = {
    "memory": None,
    "HTTPServer": http.server.HTTPServer,
    "ThreadingHTTPServer": http.server.ThreadingHTTPServer,
}


@pytest.fixture(params=sorted(SERVERS))
def play(request: pytest.FixtureRequest) -> Callable[[type, Script], List[Any]]:
    """Play a script against a handler: in memory, or on a real HTTP server kind."""
    server_class = SERVERS[request.param]

    def player(handler: type, script: Script) -> List[Any]:
        if server_class is None:
            return run_handler(handler, script).values
        netserve = request.getfixturevalue("netserve")
        server = netserve.serve(handler, server_class=server_class)
        with server.connect() as client:
            return script.play(client)

    return player


def test_keep_alive_three_requests_on_one_connection(play) -> None:
    script = (
        Script()
        .send_request("GET", "/a")
        .expect_response(
            200, headers={"content-type": "application/json"}, json={"method": "GET", "path": "/a"}
        )
        .send_request("POST", "/items", json={"n": 1})
        .expect_response(201, json={"got": '{"n": 1}'})
        .send_request("HEAD", "/c")
        .expect_response(200, body=b"", headers={"Content-Length": re.compile(r"^\d+$")})
    )
    responses = play(Api, script)
    assert [response.status for response in responses] == [200, 201, 200]
    assert responses[0].header("DATE")  # present, and not named in the script


def test_pipelined_requests(play) -> None:
    script = (
        Script()
        .send_request("HEAD", "/1")
        .send_request("GET", "/2")
        .expect_response(200, body=b"")
        .expect_response(200, json={"method": "GET", "path": "/2"})
    )
    head, get = play(Api, script)
    assert (head.body, get.status) == (b"", 200)


def test_HTTP_1_0_closes_after_the_response(play) -> None:
    script = (
        Script()
        .send_request("GET", "/x", version="HTTP/1.0")
        .expect_response(200, version="HTTP/1.0", json={"method": "GET", "path": "/x"})
        .expect_closed()
    )
    play(Api10, script)


def test_Connection_close_on_HTTP_1_1(play) -> None:
    script = (
        Script()
        .send_request("GET", "/x", headers={"Connection": "close"})
        .expect_response(200)
        .expect_closed()
    )
    play(Api, script)


def test_chunked_response(play) -> None:
    script = Script().send_request("GET", "/chunked").expect_response(200, body=b"hello world")
    (response,) = play(Api, script)
    assert response.header("transfer-encoding") == "chunked"


def test_100_continue(play) -> None:
    script = (
        Script()
        .send_request("POST", "/up", headers={"Expect": "100-continue", "Content-Length": "2"})
        .expect_response(100)
        .send(b"hi")
        .expect_response(201, json={"got": "hi"})
    )
    interim, final = play(Api, script)
    assert (interim.status, interim.reason, final.status) == (100, "Continue", 201)


def test_a_skipped_100_continue(play) -> None:
    script = (
        Script()
        .send_request(
            "POST", "/up", headers={"Expect": "100-continue"}, body=b"hi"
        )  # body sent at once
        .expect_response(201, json={"got": "hi"})
    )
    play(Api, script)


def files(directory: Path) -> type:
    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Files


def test_SimpleHTTPRequestHandler_404_file_and_HEAD(play, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    handler = files(tmp_path)
    missing = (
        Script()
        .send_request("GET", "/missing.txt", version="HTTP/1.0")
        .expect_response(
            404, headers={"Content-Type": re.compile("text/html")}, body=re.compile(b"404")
        )
        .expect_closed()
    )
    play(handler, missing)
    found = Script().send_request("GET", "/hello.txt").expect_response(200, body="hello\n")
    play(handler, found)
    head = (
        Script()
        .send_request("HEAD", "/hello.txt")
        .expect_response(200, headers={"content-length": "6"}, body=b"")
        .expect_closed()
    )
    play(handler, head)


def test_malformed_response_fails(play) -> None:
    script = Script().send_request("GET", "/malformed").expect_response(200)
    with pytest.raises(ExpectationFailed) as failed:
        play(Api, script)
    message = str(failed.value)
    assert "script step 2 of 2 (expect an HTTP response with status 200)" in message
    assert "malformed response: BadStatusLine" in message
    assert "transcript:" in message


def test_a_body_cut_short_by_EOF_fails(play) -> None:
    script = Script().send_request("GET", "/short").expect_response(200)
    with pytest.raises(ExpectationFailed, match="cut short by EOF"):
        play(Api, script)


def test_a_failed_response_shows_the_parsed_one_beside_the_expected(play) -> None:
    script = (
        Script()
        .send_request("GET", "/a")
        .expect_response(404, headers={"Content-Type": "text/html", "X-Missing": "1"})
    )
    with pytest.raises(ExpectationFailed) as failed:
        play(Api, script)
    message = str(failed.value)
    assert "expected: an HTTP response with status 404, header Content-Type: 'text/html'" in message
    assert "received: HTTP/1.1 200 OK\n" in message
    assert "  Content-Type: application/json\n" in message
    assert (
        "(differs: status 200, not 404; header Content-Type: 'application/json', not 'text/html';"
        in message
    )
    assert "header X-Missing is missing" in message
    assert "transcript:\n" in message


# -- the parser and the matcher on their own ---------------------------------------------------

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"


def test_parse_response_needs_more_on_every_prefix() -> None:
    for size in range(len(CHUNKED)):
        assert parse_response(CHUNKED[:size], False) is None, size
        assert isinstance(parse_response(CHUNKED[:size], True), str), size
    parsed = parse_response(CHUNKED + b"HTTP/1.1", False)
    assert isinstance(parsed, tuple)
    assert parsed[0].body == b"abc"
    assert parsed[1] == len(CHUNKED)


def test_parse_response_bodies_without_a_length() -> None:
    wire = b"HTTP/1.0 200 OK\r\n\r\nuntil EOF"
    assert parse_response(wire, False) is None
    parsed = parse_response(wire, True)
    assert isinstance(parsed, tuple)
    assert parsed[0].body == b"until EOF"
    no_body = b"HTTP/1.1 204 No Content\r\n\r\n"
    assert parse_response(no_body, False) == (
        ParsedResponse("HTTP/1.1", 204, "No Content", (), b""),
        len(no_body),
    )


def test_parse_response_fails_early_on_what_is_not_HTTP() -> None:
    assert (
        parse_response(b"SSH-2", False) == "the status line does not start with 'HTTP/': b'SSH-2'"
    )
    assert parse_response(b"HTT", False) is None
    assert "not hexadecimal" in str(
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False)
    )


def test_ExpectResponse_matchers() -> None:
    wire = b'HTTP/1.1 200 OK\r\nX-Id: 42\r\nContent-Length: 7\r\n\r\n{"a":1}'
    assert isinstance(
        ExpectResponse(200, {"x-id": re.compile(r"\d+")}, json={"a": 1}).match(wire, False), Matched
    )
    assert isinstance(
        ExpectResponse(body=lambda body: body.startswith(b"{")).match(wire, False), Matched
    )
    outcome = ExpectResponse(headers={"X-Id": None}).match(wire, False)
    assert isinstance(outcome, Mismatch)
    assert "header X-Id: '42' is present, not absent" in outcome.received
    outcome = ExpectResponse(json=[1]).match(wire, False)
    assert isinstance(outcome, Mismatch)
    assert "json {'a': 1}, not [1]" in outcome.received
    with pytest.raises(ValueError, match="body= or json="):
        ExpectResponse(body=b"x", json=1)


def test_build_request() -> None:
    assert build_request("GET", "/", version="HTTP/1.0") == b"GET / HTTP/1.0\r\n\r\n"
    assert build_request("PUT", "/x", headers=[("Host", "h"), ("X", "1")], body="é") == (
        b"PUT /x HTTP/1.1\r\nHost: h\r\nX: 1\r\nContent-Length: 2\r\n\r\n\xc3\xa9"
    )
    with pytest.raises(ValueError, match="request method must be a token"):
        build_request("GE T", "/")
    with pytest.raises(ValueError, match="body= or json="):
        build_request("POST", "/", body=b"x", json=1)


def test_StreamClient_http_verbs(netserve) -> None:
    server = netserve.serve(Api, server_class=http.server.ThreadingHTTPServer)
    with server.connect() as client:
        client.send_request("HEAD", "/h")
        assert client.expect_response(200).body == b""
        response = client.send_request("GET", "/g").expect_response(200)
        assert response.json() == {"method": "GET", "path": "/g"}
        assert client.send_request("GET", "/c").recv_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200")


class Trickle(Api):
    """Writes every response one byte a write: each write is checked as it comes."""

    def setup(self) -> None:
        super().setup()
        write = self.wfile.write

        def bytewise(data: bytes) -> int:
            for index in range(len(data)):
                write(data[index : index + 1])
            return len(data)

        self.wfile.write = bytewise  # type: ignore[method-assign]


def test_responses_written_one_byte_at_a_time_in_memory() -> None:
    script = (
        Script()
        .send_request("GET", "/chunked")
        .expect_response(200, body=b"hello world")
        .send_request("GET", "/x")
        .expect_response(200, json={"method": "GET", "path": "/x"})
    )
    assert len(run_handler(Trickle, script).sends) > 100


def test_a_client_without_the_verb_is_told_which_step_needs_it() -> None:
    class Minimal:
        def send(self, data: bytes) -> None:
            pass

    with pytest.raises(NotImplementedError, match=r"Minimal has no expect_response\(\)"):
        Script().send_request("GET", "/").expect_response(200).play(Minimal())  # type: ignore[arg-type]


class UntilClose(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.0 response without Content-Length: the body ends when the server closes."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"the body ")
        self.wfile.write(b"ends at EOF")


def test_a_body_that_ends_when_the_server_closes(play) -> None:
    script = (
        Script()
        .send_request("GET", "/", version="HTTP/1.0")
        .expect_response(200, body=b"the body ends at EOF", headers={"Content-Length": None})
        .expect_closed()
    )
    play(UntilClose, script)

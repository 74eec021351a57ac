"""Recordings: transcripts and recorded chunks become scripts that replay in memory and for real."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import socketserver
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from netserve_testing import (
    Close,
    Expect,
    ExpectationFailed,
    ExpectClosed,
    ExpectResponse,
    GoldenFileMissing,
    GoldenScript,
    Pause,
    Reset,
    Script,
    Send,
    Slice,
    run_handler,
)


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class Lower(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.lower())


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "token": self.headers.get("X-Token")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


# -- the sources --------------------------------------------------------------------------------


def test_from_an_in_memory_run() -> None:
    run = run_handler(Upper, Script().send(b"a\n").send(b"b\n").expect(b"A\nB\n").close())
    script = Script.from_transcript(run.transcript)
    assert script.steps == (Send(b"a\nb\n"), Expect(b"A\nB\n"), Close(), ExpectClosed())
    script.run(Upper)


def test_from_a_real_client(netserve) -> None:
    server = netserve.serve(Upper)
    with server.connect() as client:
        client.send_line("one").expect_line("ONE")
        client.pause(0.01)
        client.send_line("two").close().expect_line("TWO")
        client.expect_closed()
    script = Script.from_transcript(client.transcript)
    assert script.steps == (
        Send(b"one\n"),
        Expect(b"ONE\n"),
        Pause(0.01),
        Send(b"two\n"),
        Close(),
        Expect(b"TWO\n"),
        ExpectClosed(),
    )
    script.run(Upper)
    script.run(server)


@dataclass
class ProxyChunk:
    """What a proxy might keep per chunk: a time, a direction, the bytes."""

    time: float
    direction: str
    data: bytes


def test_from_recorded_chunks_the_proxy_interface() -> None:
    chunks: List[Any] = [
        ("to_server", b"hel"),
        ProxyChunk(0.1, "to_server", b"lo\n"),
        ("fault", b"latency 10 ms"),  # other directions are skipped
        ProxyChunk(0.2, "to_client", b"HEL"),
        (0.3, "to_client", b"LO\n"),
        ("to_server", b""),  # the client closed
        ("to_client", b""),  # the server closed
    ]
    script = Script.from_transcript(chunks)
    assert script.steps == (Send(b"hello\n"), Expect(b"HELLO\n"), Close(), ExpectClosed())
    script.run(Upper)


def test_a_reset_is_recorded() -> None:
    run = run_handler(Upper, Script().send(b"x\n").expect(b"X\n").reset(), raise_errors=False)
    assert Script.from_transcript(run.transcript).steps[-1] == Reset()


def test_redact_replaces_secrets_in_both_directions() -> None:
    run = run_handler(Upper, Script().send(b"pw hunter2\n").expect(b"PW HUNTER2\n"))
    script = Script.from_transcript(
        run.transcript,
        redact=lambda data: data.replace(b"hunter2", b"*******").replace(b"HUNTER2", b"*******"),
    )
    assert b"hunter2" not in script.dumps().encode()
    assert b"HUNTER2" not in script.dumps().encode()
    assert script.steps[:2] == (Send(b"pw *******\n"), Expect(b"PW *******\n"))


# -- HTTP, recorded with http.client through a recording relay -----------------------------------


class Relay:
    """A one-connection TCP relay that keeps what passes as (direction, data) chunks."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.chunks: List[Tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()
        self._target = target
        self._threads: List[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept)
        self._accepter.start()

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        server = socket.create_connection(self._target)
        for source, sink, direction in (
            (client, server, "to_server"),
            (server, client, "to_client"),
        ):
            thread = threading.Thread(target=self._pump, args=(source, sink, direction))
            thread.start()
            self._threads.append(thread)
        self._sockets = (client, server)

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            with self._lock:
                self.chunks.append((direction, data))
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            sink.sendall(data)

    def close(self) -> None:
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()
        for sock in getattr(self, "_sockets", ()):
            sock.close()


@pytest.fixture
def recorded_http(netserve) -> Iterator[List[Tuple[str, bytes]]]:
    """Chunks of an http.client conversation with Api (keep-alive, two requests and a HEAD)."""
    server = netserve.serve(Api, server_class=http.server.ThreadingHTTPServer)
    relay = Relay(server.address)
    try:
        connection = http.client.HTTPConnection(*relay.address, timeout=5)
        for method, path in (("GET", "/a"), ("HEAD", "/b"), ("GET", "/c")):
            connection.request(method, path, headers={"X-Token": "s3cret"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        connection.close()
    finally:
        relay.close()
    return relay.chunks


def test_an_http_recording_replays_in_memory_and_on_a_real_server(
    recorded_http: List[Tuple[str, bytes]], netserve, tmp_path: Path
) -> None:
    redact = lambda data: data.replace(b"s3cret", b"XXXXXX")  # noqa: E731 - same length
    script = Script.from_transcript(recorded_http, redact=redact)
    responses = [step for step in script.steps if isinstance(step, ExpectResponse)]
    assert [(step.status, step.method) for step in responses] == [
        (200, "GET"),
        (200, "HEAD"),
        (200, "GET"),
    ]
    names = {name.lower() for step in responses for name, _ in step.headers}
    assert names == {"content-type", "content-length"}  # no Date, no Server
    assert responses[1].body is None
    assert b"s3cret" not in script.dumps().encode()
    path = tmp_path / "api.script"
    script.save(path)
    golden = Script.load(path)
    golden.run(Api)
    golden.run(netserve.serve(Api, server_class=http.server.HTTPServer))


def test_an_http_conversation_recorded_through_FaultProxy(netserve, tmp_path: Path) -> None:
    server = netserve.serve(Api, server_class=http.server.ThreadingHTTPServer)
    proxy = server.proxy(Slice(7, direction="both"))  # cut on the way; joined when recorded
    connection = http.client.HTTPConnection(*proxy.address, timeout=5)
    for method, path in (("GET", "/a"), ("HEAD", "/b")):
        connection.request(method, path, headers={"X-Token": "s3cret"})
        response = connection.getresponse()
        response.read()
    connection.close()
    (transcript,) = proxy.wait_for_connections(1)
    transcript.wait_closed()
    script = Script.from_transcript(
        transcript, redact=lambda data: data.replace(b"s3cret", b"XXXXXX")
    )
    assert [type(step).__name__ for step in script.steps] == [
        "Send",
        "ExpectResponse",
        "Send",
        "ExpectResponse",
        "Close",
        "ExpectClosed",
    ]
    script.save(tmp_path / "proxied.script")
    golden = Script.load(tmp_path / "proxied.script")
    golden.run(Api)
    golden.run(server)


# -- golden scripts ------------------------------------------------------------------------------


def test_GoldenScript_modes(tmp_path: Path) -> None:
    path = tmp_path / "upper.script"
    recording = run_handler(Upper, Script().send(b"hi\n").expect(b"HI\n")).transcript
    with pytest.raises(GoldenFileMissing, match="record it with --netserve-record=new"):
        GoldenScript(path).replay(Upper)
    assert not GoldenScript(path, "none").recording
    new = GoldenScript(path, "new")
    assert new.recording
    new.record(recording).run(Upper)
    assert not GoldenScript(path, "new").recording  # it exists now
    again = GoldenScript(path, "all")
    assert again.recording
    again.record(Script().send(b"x\n").expect(b"X\n"))
    assert not again.recording  # recorded once per run
    assert Script.load(path).steps[0] == Send(b"x\n")
    with pytest.raises(ValueError, match="record mode must be one of"):
        GoldenScript(path, "some")


def test_a_diverging_replay_names_the_golden_files_line(tmp_path: Path, netserve) -> None:
    path = tmp_path / "upper.script"
    GoldenScript(path, "new").record(
        run_handler(Upper, Script().send(b"a\nb\n").expect(b"A\nB\n")).transcript
    )
    for target in (Lower, netserve.serve(Lower)):
        with pytest.raises(ExpectationFailed) as failed:
            GoldenScript(path).replay(target)
        message = str(failed.value)
        # The recorded two-line expect is one step, named at its first line.
        assert f"script step 2 of 4 (expect b'A\\nB\\n') at {path}:4 failed" in message, message
        assert "transcript:" in message

"""Testing ``tcp_client.py`` against real servers started by the ``netserve`` fixture.

A client is tested against a server: the example servers' handlers, or a handler
written in the test to see exactly what the client sent.
"""

from __future__ import annotations

import socketserver

import pytest
import tcp_server
import tcp_stream_server
from tcp_client import main

from netserve_testing import ServerFactory, ServerKind


class Recorder(socketserver.StreamRequestHandler):
    """Replies with the repr of the line the client sent (its line ending included)."""

    def handle(self) -> None:
        self.wfile.write(repr(self.rfile.readline()).encode())


@pytest.mark.parametrize(
    "handler",
    [tcp_server.MyTCPHandler, tcp_stream_server.MyTCPHandler],
    ids=["tcp_server", "tcp_stream_server"],
)
def test_main_against_the_example_servers(
    netserve: ServerFactory, capsys: pytest.CaptureFixture[str], handler: type
) -> None:
    server = netserve.serve(handler)  # threading TCP on 127.0.0.1, a free port
    main(["--port", str(server.address[1]), "hello", "world", "with", "TCP"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == ["Sent:     hello world with TCP", "Received: HELLO WORLD WITH TCP"]


@pytest.mark.netserve_kinds("tcp")
def test_main_sends_one_line(
    netserve: ServerFactory, server_kind: ServerKind, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whatever the server's concurrency, the client sends its words as one line.
    server = netserve.serve(Recorder, server_kind)
    main(["--port", str(server.address[1]), "python", "is", "nice"])
    assert capsys.readouterr().out.splitlines()[-1] == "Received: b'python is nice\\n'"
    (request,) = server.wait_for_requests(1)
    assert request.error is None


def test_main_without_words_sends_an_empty_line(
    netserve: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = netserve.serve(Recorder)
    main(["--port", str(server.address[1])])
    assert capsys.readouterr().out.splitlines()[-1] == "Received: b'\\n'"

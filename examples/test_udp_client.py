"""Testing ``udp_client.py`` against real UDP servers started by the ``netserve`` fixture."""

from __future__ import annotations

import socketserver

import pytest
from udp_client import main
from udp_server import MyUDPHandler

from netserve_testing import ServerFactory, ServerKind


class Recorder(socketserver.BaseRequestHandler):
    """Replies with the repr of the datagram the client sent."""

    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(repr(data).encode(), self.client_address)


@pytest.mark.netserve_kinds("udp")
def test_main_against_the_example_server(
    netserve: ServerFactory, server_kind: ServerKind, capsys: pytest.CaptureFixture[str]
) -> None:
    server = netserve.serve(MyUDPHandler, server_kind)
    main(["--port", str(server.address[1]), "hello", "world", "with", "UDP"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == ["Sent:     hello world with UDP", "Received: HELLO WORLD WITH UDP"]


def test_main_sends_one_datagram_ending_in_a_newline(
    netserve: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = netserve.serve(Recorder, "udp-sync")
    main(["--port", str(server.address[1]), "hello", "UDP"])
    assert capsys.readouterr().out.splitlines()[-1] == "Received: b'hello UDP\\n'"
    assert len(server.wait_for_requests(1)) == 1

"""The two deliberate differences from socketserver, and the class attributes that undo them.

netserve removes the Unix socket file a server created on ``server_close()``
(``remove_socket_file``) and reports handler errors through ``logging`` (``log_errors``).
Code that relies on the standard library's way sets the attribute to False.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver

import pytest

import netserve

from ._support import connect, recv_until_eof


class Failing(netserve.BaseRequestHandler):
    def handle(self) -> None:
        raise ValueError("boom from the handler")


@pytest.mark.parametrize("class_name", ["UnixStreamServer", "UnixDatagramServer"])
def test_UnixServer_remove_socket_file_false_keeps_the_file_as_the_stdlib_does(
    class_name: str, unix_path: str
) -> None:
    base = getattr(netserve, class_name)
    assert base.remove_socket_file is True
    keeping = type("Keeping", (base,), {"remove_socket_file": False})
    with keeping(unix_path, netserve.BaseRequestHandler):
        assert os.path.exists(unix_path)
    assert os.path.exists(unix_path)  # left, as socketserver leaves it
    # The stdlib's behaviour, for comparison.
    os.unlink(unix_path)
    with getattr(socketserver, class_name)(unix_path, socketserver.BaseRequestHandler):
        pass
    assert os.path.exists(unix_path)


def test_UnixServer_removes_the_socket_file_by_default(unix_path: str) -> None:
    with netserve.UnixStreamServer(unix_path, netserve.BaseRequestHandler):
        assert os.path.exists(unix_path)
    assert not os.path.exists(unix_path)


def test_log_errors_false_prints_to_stderr_as_the_stdlib_does(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="netserve")

    class Printing(netserve.TCPServer):
        log_errors = False

    assert netserve.BaseServer.log_errors is True
    with Printing(("127.0.0.1", 0), Failing) as server, connect(server) as client:
        server.handle_request()
        assert recv_until_eof(client) == b""
        client_address = client.getsockname()
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert lines[0] == "-" * 40
    assert lines[1] == f"Exception occurred during processing of request from {client_address}"
    assert "Traceback (most recent call last):" in err
    assert "ValueError: boom from the handler" in err
    assert lines[-1] == "-" * 40
    assert not [record for record in caplog.records if record.name == "netserve"]


def test_log_errors_false_output_matches_the_stdlib_line_for_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def run(module: object) -> list[str]:
        class Boom(module.BaseRequestHandler):  # type: ignore[attr-defined,name-defined,misc]
            def handle(self) -> None:
                raise ValueError("boom")

        server_class = type("S", (module.TCPServer,), {"log_errors": False})  # type: ignore[attr-defined]
        server = server_class(("127.0.0.1", 0), Boom)
        with server, socket.create_connection(server.server_address) as client:
            server.handle_request()
            address = client.getsockname()
        err = capfd.readouterr().err.replace(str(address), "ADDRESS")
        return [line for line in err.splitlines() if not line.startswith("  ")]

    assert run(netserve) == run(socketserver)

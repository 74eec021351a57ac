"""handle_error reports through the ``netserve`` logger, and reaches stderr unconfigured."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

import netserve

from ._support import child_env, connect, recv_until_eof, serving, stream_exchange

MESSAGE = "exception while processing request from"


class Failing(netserve.BaseRequestHandler):
    """Raises ValueError('boom') for every request."""

    def handle(self) -> None:
        raise ValueError("boom")


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "netserve"]


def test_handle_error_logs_to_the_netserve_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="netserve")
    with netserve.TCPServer(("127.0.0.1", 0), Failing) as server, connect(server) as client:
        server.handle_request()
        assert recv_until_eof(client) == b""
        client_address = client.getsockname()
    (record,) = error_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"{MESSAGE} {client_address!r}"
    assert record.exc_info is not None
    exc_type, exc, _ = record.exc_info
    assert exc_type is ValueError
    assert str(exc) == "boom"
    assert "Traceback" in caplog.text
    assert "ValueError: boom" in caplog.text


def test_handle_error_logs_from_handler_threads(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="netserve")
    server = netserve.ThreadingTCPServer(("127.0.0.1", 0), Failing)
    with serving(server):
        assert stream_exchange(server, b"") == b""
    # server_close() joined the handler thread, so its record is in.
    (record,) = error_records(caplog)
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError


def test_handle_error_called_directly_logs_the_current_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="netserve")
    with netserve.TCPServer(("127.0.0.1", 0), Failing) as server:
        try:
            raise KeyError("direct")
        except KeyError:
            server.handle_error(None, ("192.0.2.1", 4242))
    (record,) = error_records(caplog)
    assert record.getMessage() == f"{MESSAGE} ('192.0.2.1', 4242)"
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


def run_program(body: str) -> subprocess.CompletedProcess[str]:
    program = textwrap.dedent(
        """
        import socket
        import netserve

        class Failing(netserve.BaseRequestHandler):
            def handle(self):
                raise ValueError("boom")

        def serve_one_failing_request():
            with netserve.TCPServer(("127.0.0.1", 0), Failing) as server:
                with socket.create_connection(server.server_address, timeout=10) as client:
                    server.handle_request()
                    client.recv(1)
        """
    ) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, env=child_env(), text=True, timeout=60
    )


def test_handle_error_reaches_stderr_when_logging_is_unconfigured() -> None:
    result = run_program("serve_one_failing_request()\nprint('still running')\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "still running\n"
    assert MESSAGE in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: boom" in result.stderr


def test_handle_error_follows_the_logging_configuration() -> None:
    result = run_program(
        """
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")
        serve_one_failing_request()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"netserve ERROR {MESSAGE}" in result.stdout
    assert "ValueError: boom" in result.stdout


def test_handle_error_can_be_silenced_through_logging() -> None:
    result = run_program(
        """
        import logging
        logging.getLogger("netserve").setLevel(logging.CRITICAL)
        serve_one_failing_request()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""

"""``python -m netserve`` options: ``--attr``, ``--server-class`` and ``--unix-dgram``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from netserve._cli import main, parse_attribute, parse_options

from .test_cli import (
    TIMEOUT,
    CliProcess,
    _assert_clean_stderr,
    _tcp_exchange,
    cli_starter,
    module_in_private_dir,
)

OPTIONS_MODULE = textwrap.dedent(
    """
    import socketserver

    class ShowSettings(socketserver.StreamRequestHandler):
        def handle(self):
            server = self.server
            self.wfile.write(repr((server.hub, server.limits, server.label)).encode())
    """
)


@pytest.fixture
def options_module() -> Iterator[Path]:
    """A private directory holding a uniquely named handlers module for these tests."""
    yield from module_in_private_dir(OPTIONS_MODULE, "cli_options")


@pytest.fixture
def start_cli() -> Iterator[Callable[..., CliProcess]]:
    """Start ``python -m netserve ARGS``; the children are killed and reaped at teardown."""
    yield from cli_starter()


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("max_children=8", ("max_children", 8)),
        ("hub=main", ("hub", "main")),
        ("hub='main'", ("hub", "main")),
        ("limits=(1, 2.5, None)", ("limits", (1, 2.5, None))),
        ("flag=True", ("flag", True)),
        ("path=/tmp/x", ("path", "/tmp/x")),
        ("empty=", ("empty", "")),
        ("text=a=b", ("text", "a=b")),
    ],
)
def test_parse_attribute(text: str, parsed: tuple[str, object]) -> None:
    assert parse_attribute(text) == parsed


def test_cli_attr_sets_server_class_attributes_a_handler_reads(
    start_cli: Callable[..., CliProcess], options_module: Path
) -> None:
    process = start_cli(
        f"{options_module.stem}:ShowSettings",
        "--tcp",
        "127.0.0.1:0",
        "--attr",
        "hub=main",
        "--attr",
        "limits={'a': [1, 2]}",
        "--attr",
        "label='x y'",
        pythonpath=options_module.parent,
    )
    banner = process.serving()
    assert _tcp_exchange(banner.port, b"") == b"('main', {'a': [1, 2]}, 'x y')"
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.output()
    _assert_clean_stderr(process)


def test_cli_server_class_takes_a_stdlib_class_as_is(
    start_cli: Callable[..., CliProcess], options_module: Path
) -> None:
    process = start_cli(
        f"{options_module.stem}:ShowSettings",
        "--server-class",
        "socketserver:ThreadingTCPServer",
        "--tcp",
        "127.0.0.1:0",
        "--attr",
        "hub=1",
        "--attr",
        "limits=2",
        "--attr",
        "label=3",
        pythonpath=options_module.parent,
    )
    banner = process.serving()
    assert banner.concurrency == "socketserver.ThreadingTCPServer"
    assert _tcp_exchange(banner.port, b"") == b"(1, 2, 3)"
    process.expect("stderr", r" ShowSettings \d+\.\d\d ms$")
    # The stdlib class has no request_shutdown(): its loop sees the flag at its next poll.
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^netserve: shut down after 1 request$")
    _assert_clean_stderr(process)


def test_cli_server_class_and_attr_with_netserve_forking(
    start_cli: Callable[..., CliProcess],
) -> None:
    process = start_cli(
        "--server-class", "netserve:ForkingTCPServer", "--tcp", "127.0.0.1:0", "--attr",
        "max_children=2",
    )  # fmt: skip
    banner = process.serving()
    assert banner.concurrency == "netserve.ForkingTCPServer"
    assert _tcp_exchange(banner.port, b"forked\n") == b"FORKED"
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.output()
    _assert_clean_stderr(process)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--attr", "1x=2"], "expected NAME=VALUE with NAME an identifier: '1x=2'"),
        (["--attr", "novalue"], "expected NAME=VALUE with NAME an identifier: 'novalue'"),
        (["--server-class", "socketserver"], "expected MODULE:CLASS, got 'socketserver'"),
        (["--server-class", "os:sep"], "'os:sep' is a str, not a server class"),
        (
            ["--server-class", "socketserver:BaseRequestHandler"],
            "is not a server class: it has no serve_forever() method",
        ),
        (
            ["--server-class", "netserve:TCPServer", "--forking"],
            "not allowed with argument --server-class",
        ),
        (["--unix-dgram", ""], "empty unix socket path: ''"),
    ],
)
def test_cli_option_usage_errors_name_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_a_setting_the_server_class_rejects_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--forking", "--tcp", "127.0.0.1:0", "--attr", "max_children=0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "max_children must be a positive int, not 0" in err
    assert "Traceback" not in err


def test_parse_options_unix_dgram_defaults_to_the_datagram_echo() -> None:
    options = parse_options(["--unix-dgram", "/tmp/x.sock", "--pool", "2"])
    assert (options.transport, options.address, options.concurrency) == (
        "unix-dgram",
        "/tmp/x.sock",
        "pool",
    )
    assert options.handler.__name__ == "UpperCaseDatagramEchoHandler"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")
def test_cli_unix_dgram_serves_datagram_echo_and_removes_the_file(
    start_cli: Callable[..., CliProcess],
) -> None:
    directory = tempfile.mkdtemp(prefix="ns-")
    try:
        path = os.path.join(directory, "echo.sock")
        process = start_cli("--unix-dgram", path)
        banner = process.expect("stdout", r"^netserve: serving (\S+) on ([\w-]+) (\S+) \((.+)\)$")
        assert banner.groups() == ("UpperCaseDatagramEchoHandler", "unix-dgram", path, "threading")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(os.path.join(directory, "client.sock"))  # to receive the reply
            sock.settimeout(TIMEOUT)
            sock.sendto(b"over unix datagrams\n", path)
            assert sock.recv(1024) == b"OVER UNIX DATAGRAMS"
        process.proc.send_signal(signal.SIGTERM)
        assert process.wait() == 0, process.output()
        assert not os.path.exists(path)
        _assert_clean_stderr(process)
    finally:
        shutil.rmtree(directory)


def test_cli_help_lists_the_new_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for option in ("--attr NAME=VALUE", "--server-class MODULE:CLASS", "--unix-dgram PATH"):
        assert option in out, out
    assert sys.executable  # the help is printed by the running interpreter

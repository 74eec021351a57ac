"""``python -m netserve --tls CERTFILE [--tls-key KEYFILE]``: serving TLS, and its usage errors."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
import trustme

from netserve._cli import main, parse_options

from .test_cli import TIMEOUT, CliProcess, run_cli

__all__ = ["run_cli"]  # the fixture, imported for the tests below


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throw-away certificate authority (``trustme.CA``, ECDSA), module scope."""
    return trustme.CA(key_type=trustme.KeyType.ECDSA)


@pytest.fixture(scope="module")
def pem_files(ca: trustme.CA) -> Iterator[tuple[Path, Path, Path]]:
    """``(combined, chain, key)``: the certificate chain with its key, and each alone."""
    cert = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA)
    directory = Path(tempfile.mkdtemp(prefix="ns-"))
    combined, chain, key = directory / "both.pem", directory / "chain.pem", directory / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(combined))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    cert.private_key_pem.write_to_path(str(key))
    yield combined, chain, key
    shutil.rmtree(directory)


def _tls_line(port: int, ca: trustme.CA, line: bytes) -> bytes:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname="localhost") as client:
        client.sendall(line)
        return client.makefile("rb").readline()


@pytest.mark.parametrize("separate_key", [False, True], ids=["combined-pem", "tls-key"])
def test_cli_tls_serves_echo_over_tls_and_logs_handshake_failures(
    run_cli: Callable[..., CliProcess],
    ca: trustme.CA,
    pem_files: tuple[Path, Path, Path],
    separate_key: bool,
) -> None:
    combined, chain, key = pem_files
    files = (
        ["--tls", str(chain), "--tls-key", str(key)] if separate_key else ["--tls", str(combined)]
    )
    process = run_cli("--tcp", "127.0.0.1:0", *files)
    banner = process.serving()
    assert banner.concurrency == "threading, tls"
    assert _tls_line(banner.port, ca, b"secret\n") == b"SECRET"
    with socket.create_connection(("127.0.0.1", banner.port), timeout=TIMEOUT) as plain:
        plain.sendall(b"plaintext\n")
        process.expect("stderr", r"tls handshake with \('127\.0\.0\.1', \d+\) failed: ")
    assert _tls_line(banner.port, ca, b"again\n") == b"AGAIN"  # still serving
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.output()
    assert "Traceback" not in process.output()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--tls", "no-such-cert.pem"],
            "argument --tls: cannot load certificate 'no-such-cert.pem'",
        ),
        (["--udp", "127.0.0.1:0", "--tls", "cert.pem"], "tls needs a stream transport"),
        (["--tls-key", "key.pem"], "argument --tls-key: needs --tls CERTFILE: 'key.pem'"),
    ],
)
def test_cli_tls_usage_errors_name_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_tls_key_that_does_not_match_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], ca: trustme.CA, pem_files: tuple[Path, Path, Path]
) -> None:
    _, chain, _ = pem_files
    other = ca.issue_cert("localhost", key_type=trustme.KeyType.ECDSA)
    with tempfile.TemporaryDirectory(prefix="ns-") as directory:
        wrong_key = Path(directory) / "other.key"
        other.private_key_pem.write_to_path(str(wrong_key))
        with pytest.raises(SystemExit):
            parse_options(["--tls", str(chain), "--tls-key", str(wrong_key)])
    err = capsys.readouterr().err
    assert f"cannot load certificate '{chain}' with key '{wrong_key}'" in err


def test_cli_tls_pem_without_a_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], pem_files: tuple[Path, Path, Path]
) -> None:
    _, chain, _ = pem_files
    with pytest.raises(SystemExit):
        parse_options(["--tls", str(chain)])
    assert f"argument --tls: cannot load certificate '{chain}'" in capsys.readouterr().err


def test_cli_tls_options_carry_a_server_context(pem_files: tuple[Path, Path, Path]) -> None:
    combined, _, _ = pem_files
    options = parse_options(["--unix", "/tmp/x.sock", "--tls", str(combined), "--sync"])
    assert options.ssl_context is not None
    assert options.ssl_context.protocol == ssl.PROTOCOL_TLS_SERVER
    assert options.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert parse_options(["--tcp", "127.0.0.1:0"]).ssl_context is None


def test_cli_tls_server_class_names_say_tls(pem_files: tuple[Path, Path, Path]) -> None:
    from netserve._cli import make_server

    combined, _, _ = pem_files
    server = make_server(
        parse_options(["--tcp", "127.0.0.1:0", "--tls", str(combined), "--pool", "2"])
    )
    try:
        assert type(server).__name__ == "ThreadPoolTLSTCPServer"
    finally:
        server.server_close()


def test_cli_tls_with_server_class_and_attr(pem_files: tuple[Path, Path, Path]) -> None:
    from netserve._cli import make_server

    combined, _, _ = pem_files
    argv = ["--tcp", "127.0.0.1:0", "--tls", str(combined), "--attr", "handshake_timeout=2.5"]
    server = make_server(parse_options([*argv, "--server-class", "netserve:ThreadingTCPServer"]))
    try:
        assert type(server).__name__ == "ThreadingTLSTCPServer"
        assert server.handshake_timeout == 2.5  # type: ignore[attr-defined]
    finally:
        server.server_close()


def test_cli_tls_refuses_a_datagram_server_class(
    capsys: pytest.CaptureFixture[str], pem_files: tuple[Path, Path, Path]
) -> None:
    combined, _, _ = pem_files
    with pytest.raises(SystemExit):
        parse_options(["--tls", str(combined), "--server-class", "netserve:UDPServer"])
    assert "tls needs a stream transport" in capsys.readouterr().err

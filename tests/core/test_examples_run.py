"""The examples in ``examples/`` run end to end, as scripts, with the seeds' clients."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Callable

import pytest

from .test_cli import ROOT, TIMEOUT, ChildProcess, child_env

EXAMPLES = ROOT / "examples"


@pytest.fixture
def run_example() -> Iterator[Callable[..., ChildProcess]]:
    """Start ``python -u examples/NAME ARGS``; children are killed and reaped at teardown."""
    started: list[ChildProcess] = []

    def start(name: str, *args: str) -> ChildProcess:
        command = [sys.executable, "-X", "dev", "-u", str(EXAMPLES / name), *args]
        process = ChildProcess(command, env=child_env(), cwd=str(ROOT))
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def _serving_port(process: ChildProcess) -> int:
    return int(process.expect("stdout", r"^serving on 127\.0\.0\.1:(\d+)$").group(1))


def _run_client(name: str, port: int, words: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-X", "dev", str(EXAMPLES / name), "--port", str(port), *words.split()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=child_env(),
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    return completed.stdout.splitlines()


def _stop(process: ChildProcess) -> None:
    process.proc.send_signal(signal.SIGINT)
    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^interrupted, closing the server$")
    assert "Traceback" not in "\n".join(process.lines["stderr"]), process.output()


@pytest.mark.parametrize(
    ("server", "wrote"),
    [("tcp_server.py", "Received from 127.0.0.1:"), ("tcp_stream_server.py", "127.0.0.1 wrote:")],
)
def test_examples_tcp_server_with_tcp_client(
    run_example: Callable[..., ChildProcess], server: str, wrote: str
) -> None:
    process = run_example(server, "--port", "0")
    port = _serving_port(process)

    for words in ("hello world with TCP", "python is nice"):
        assert _run_client("tcp_client.py", port, words) == [
            f"Sent:     {words}",
            f"Received: {words.upper()}",
        ]
        process.expect("stdout", rf"^{re.escape(wrote)}$")
        process.expect("stdout", rf"^b'{words}'$")
    _stop(process)


def test_examples_udp_server_with_udp_client(run_example: Callable[..., ChildProcess]) -> None:
    process = run_example("udp_server.py", "--port", "0")
    port = _serving_port(process)

    assert _run_client("udp_client.py", port, "hello world with UDP") == [
        "Sent:     hello world with UDP",
        "Received: HELLO WORLD WITH UDP",
    ]
    process.expect("stdout", r"^127\.0\.0\.1 wrote:$")
    process.expect("stdout", r"^b'hello world with UDP'$")
    _stop(process)


def test_examples_threading_server_runs_by_itself(
    run_example: Callable[..., ChildProcess],
) -> None:
    process = run_example("threading_server.py")

    assert process.wait() == 0, process.output()
    stdout = process.lines["stdout"]
    assert len(stdout) == 4, process.output()
    assert stdout[0].startswith("Server loop running in thread: Thread-")
    handler_threads = set()
    for number, line in enumerate(stdout[1:], start=1):
        match = re.fullmatch(rf"Received: (Thread-\d+[^:]*): Hello World {number}", line)
        assert match, process.output()
        handler_threads.add(match.group(1))
    assert len(handler_threads) == 3  # one new thread per request
    assert process.lines["stderr"] == []


def test_examples_handler_served_by_python_m_netserve() -> None:
    command = [sys.executable, "-X", "dev", "-m", "netserve"]
    command += ["examples.tcp_stream_server:MyTCPHandler", "--tcp", "127.0.0.1:0"]
    process = ChildProcess(command, env=child_env(), cwd=str(ROOT))
    try:
        match = process.expect("stdout", r"^netserve: serving MyTCPHandler on tcp \S+:(\d+) ")
        port = int(match.group(1))
        assert _run_client("tcp_client.py", port, "served by netserve") == [
            "Sent:     served by netserve",
            "Received: SERVED BY NETSERVE",
        ]
        process.proc.send_signal(signal.SIGTERM)
        assert process.wait() == 0, process.output()
        process.expect("stdout", r"^netserve: shut down after 1 request$")
    finally:
        process.close()

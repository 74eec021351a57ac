"""``python -m netserve``: serving, per-request logs, signals, and usage errors."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Optional

import pytest

from netserve._cli import (
    main,
    parse_host_port,
    parse_options,
    parse_pool_size,
    parse_unix_path,
)
from netserve._echo import UpperCaseDatagramEchoHandler, UpperCaseEchoHandler

TIMEOUT = 10.0
BANNER = r"^netserve: serving (\S+) on (\w+) (\S+) \((.+)\)$"

# A stream handler that says "ready" first: once the client has read it, the request is
# known to be running, which the signal tests need.
HANDLERS_MODULE = textwrap.dedent(
    """
    import socketserver

    class ReadyUpper(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"ready\\n")
            line = self.rfile.readline()
            self.wfile.write(line.upper())

    class ReadyPid(socketserver.StreamRequestHandler):
        def handle(self):
            import os
            self.wfile.write(b"%d\\n" % os.getpid())
            self.rfile.readline()

    class Failing(socketserver.BaseRequestHandler):
        def handle(self):
            raise ValueError("boom from the handler")

    class Holder:
        class Nested(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline()[::-1])

    NOT_A_CLASS = 42

    class NoHandle:
        def __init__(self, request, client_address, server):
            pass
    """
)


@dataclass(frozen=True)
class Banner:
    """The start line: ``netserve: serving HANDLER on TRANSPORT ADDRESS (CONCURRENCY)``."""

    handler: str
    transport: str
    address: str
    concurrency: str

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


class ChildProcess:
    """A child process whose stdout and stderr are read line by line, without blocking."""

    def __init__(
        self, command: list[str], env: Optional[dict[str, str]] = None, cwd: Optional[str] = None
    ) -> None:
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self._queue: queue.Queue[tuple[str, Optional[str]]] = queue.Queue()
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._cursor = {"stdout": 0, "stderr": 0}
        self._eof = {"stdout": False, "stderr": False}
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(name, pipe), daemon=True)
            for name, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put((name, line.rstrip("\n")))
        self._queue.put((name, None))

    def _pull(self, timeout: float) -> None:
        try:
            name, line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return
        if line is None:
            self._eof[name] = True
        else:
            self.lines[name].append(line)

    def expect(self, stream: str, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Return the next unread line of ``stream`` matching ``pattern``, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.lines[stream]
            while self._cursor[stream] < len(seen):
                line = seen[self._cursor[stream]]
                self._cursor[stream] += 1
                match = regex.search(line)
                if match:
                    return match
            left = deadline - time.monotonic()
            if self._eof[stream] or left <= 0:
                raise AssertionError(f"no {stream} line matched {pattern!r}\n{self.output()}")
            self._pull(left)

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the exit and for both pipes to be drained; return the exit status."""
        status = self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while not all(self._eof.values()) and time.monotonic() < deadline:
            self._pull(deadline - time.monotonic())
        return status

    def output(self) -> str:
        stdout, stderr = ("\n".join(self.lines[name]) for name in ("stdout", "stderr"))
        return f"--- stdout:\n{stdout}\n--- stderr:\n{stderr}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        for reader in self._readers:
            reader.join(TIMEOUT)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


class CliProcess(ChildProcess):
    """A ``python -m netserve ARGS`` child."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        super().__init__([sys.executable, "-X", "dev", "-m", "netserve", *args], env)

    def serving(self) -> Banner:
        """Wait for the start line and return it parsed."""
        return Banner(*self.expect("stdout", BANNER).groups())


ROOT = Path(__file__).resolve().parents[2]


def child_env(*paths: Path) -> dict[str, str]:
    """The environment for a child Python: ``paths``, then this checkout, on its path."""
    env = dict(os.environ)
    entries = [str(path) for path in (*paths, ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([*entries, *filter(None, [env.get("PYTHONPATH")])])
    return env


def module_in_private_dir(source: str, stem: str) -> Iterator[Path]:
    """Yield a uniquely named module holding ``source`` in a private directory, then remove it."""
    directory = Path(tempfile.mkdtemp(prefix="ns-"))
    module = directory / f"{stem}_{uuid.uuid4().hex[:8]}.py"
    module.write_text(source)
    yield module
    shutil.rmtree(directory)


def cli_starter() -> Iterator[Callable[..., CliProcess]]:
    """Yield ``start(*ARGS)`` running ``python -m netserve ARGS``; kills and reaps them after."""
    started: list[CliProcess] = []

    def start(*args: str, pythonpath: Optional[Path] = None) -> CliProcess:
        extra = [pythonpath] if pythonpath is not None else []
        process = CliProcess(list(args), child_env(*extra))
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture
def handlers_dir() -> Iterator[Path]:
    """A private directory holding ``cli_handlers.py`` (the HANDLERS_MODULE source)."""
    yield from module_in_private_dir(HANDLERS_MODULE, "cli_handlers")


@pytest.fixture
def run_cli() -> Iterator[Callable[..., CliProcess]]:
    """Start ``python -m netserve ARGS``; the children are killed and reaped at teardown."""
    yield from cli_starter()


def _custom(handlers_module: Path, name: str) -> str:
    return f"{handlers_module.stem}:{name}"


def _tcp_exchange(port: int, message: bytes) -> bytes:
    """Send ``message``, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(message)
        return _recv_until_eof(sock)


def _recv_until_eof(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _connect_ready(port: int) -> socket.socket:
    """Connect to a ReadyUpper handler and return once it is running."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.makefile("rb").readline()  # b"ready\n": the handler now waits for a line
    return sock


def _assert_clean_stderr(process: CliProcess) -> None:
    stderr = "\n".join(process.lines["stderr"])
    assert "Traceback" not in stderr, process.output()
    assert "ResourceWarning" not in stderr, process.output()


REQUEST_LOG = r"^\S+ \S+ 127\.0\.0\.1:\d+ {} \d+\.\d\d ms{}$"


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_cli_serves_echo_logs_requests_and_stops_on_signal(
    run_cli: Callable[..., CliProcess], sig: signal.Signals, name: str
) -> None:
    process = run_cli("--tcp", "127.0.0.1:0")
    banner = process.serving()
    assert (banner.handler, banner.transport, banner.concurrency) == (
        "UpperCaseEchoHandler",
        "tcp",
        "threading",
    )
    assert _tcp_exchange(banner.port, b"hello world with TCP\n") == b"HELLO WORLD WITH TCP"
    process.expect("stderr", REQUEST_LOG.format("UpperCaseEchoHandler", ""))
    assert _tcp_exchange(banner.port, b"python is nice\n") == b"PYTHON IS NICE"
    process.expect("stderr", REQUEST_LOG.format("UpperCaseEchoHandler", ""))

    process.proc.send_signal(sig)

    assert process.wait() == 0, process.output()
    process.expect("stdout", rf"^netserve: received {name}, waiting for running requests")
    process.expect("stdout", r"^netserve: shut down after 2 requests$")
    _assert_clean_stderr(process)


@pytest.mark.parametrize(
    ("flags", "concurrency"),
    [
        ([], "threading"),
        (["--threading"], "threading"),
        (["--forking"], "forking"),
        (["--pool", "2"], "pool of 2 threads"),
        (["--sync"], "one request at a time"),
    ],
)
def test_cli_serves_stdlib_handler_from_module(
    run_cli: Callable[..., CliProcess],
    handlers_dir: Path,
    flags: list[str],
    concurrency: str,
) -> None:
    spec = _custom(handlers_dir, "Holder.Nested")
    process = run_cli(spec, "--tcp", "127.0.0.1:0", *flags, pythonpath=handlers_dir.parent)
    banner = process.serving()
    assert (banner.handler, banner.concurrency) == ("Holder.Nested", concurrency)

    assert _tcp_exchange(banner.port, b"abc\n") == b"\ncba"
    process.expect("stderr", REQUEST_LOG.format(r"Holder\.Nested", ""))
    process.proc.send_signal(signal.SIGTERM)

    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^netserve: shut down after 1 request$")
    _assert_clean_stderr(process)


def test_cli_first_signal_waits_for_running_request(
    run_cli: Callable[..., CliProcess], handlers_dir: Path
) -> None:
    spec = _custom(handlers_dir, "ReadyUpper")
    process = run_cli(spec, "--tcp", "127.0.0.1:0", pythonpath=handlers_dir.parent)
    with _connect_ready(process.serving().port) as sock:
        process.proc.send_signal(signal.SIGTERM)
        process.expect("stdout", r"^netserve: received SIGTERM, waiting for running requests")
        sock.sendall(b"still served\n")
        assert _recv_until_eof(sock) == b"STILL SERVED\n"

    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^netserve: shut down after 1 request$")
    _assert_clean_stderr(process)


def test_cli_second_signal_exits_without_waiting(
    run_cli: Callable[..., CliProcess], handlers_dir: Path
) -> None:
    spec = _custom(handlers_dir, "ReadyUpper")
    process = run_cli(spec, "--tcp", "127.0.0.1:0", pythonpath=handlers_dir.parent)
    with _connect_ready(process.serving().port) as sock:
        process.proc.send_signal(signal.SIGINT)
        process.expect("stdout", r"^netserve: received SIGINT, waiting for running requests")
        process.proc.send_signal(signal.SIGINT)

        assert process.wait() == 1, process.output()
        assert _recv_until_eof(sock) == b""
    process.expect("stdout", r"^netserve: stopped after 1 request without waiting")


def test_cli_forked_child_ends_on_SIGTERM_and_the_parent_keeps_serving(
    run_cli: Callable[..., CliProcess], handlers_dir: Path
) -> None:
    spec = _custom(handlers_dir, "ReadyPid")
    process = run_cli(spec, "--tcp", "127.0.0.1:0", "--forking", pythonpath=handlers_dir.parent)
    port = process.serving().port
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        child = int(sock.makefile("rb").readline())
        assert child != process.proc.pid
        os.kill(child, signal.SIGTERM)  # the child must not take it for the parent's stop
        assert _recv_until_eof(sock) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        assert int(sock.makefile("rb").readline()) != child
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.output()


def test_cli_logs_handler_errors_and_keeps_serving(
    run_cli: Callable[..., CliProcess], handlers_dir: Path
) -> None:
    spec = _custom(handlers_dir, "Failing")
    process = run_cli(spec, "--tcp", "127.0.0.1:0", pythonpath=handlers_dir.parent)
    port = process.serving().port

    for _ in range(2):
        assert _tcp_exchange(port, b"x\n") == b""
        # The request line is written as the request ends, before handle_error() reports.
        process.expect("stderr", REQUEST_LOG.format("Failing", r" \(failed\)"))
        process.expect("stderr", r"exception while processing request from")
        process.expect("stderr", r"^ValueError: boom from the handler$")
    process.proc.send_signal(signal.SIGTERM)

    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^netserve: shut down after 2 requests$")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_cli_udp_serves_datagram_echo(run_cli: Callable[..., CliProcess], host: str) -> None:
    if host == "[::1]" and not socket.has_ipv6:
        pytest.skip("no ipv6")
    process = run_cli("--udp", f"{host}:0", "--pool", "3")
    banner = process.serving()
    assert (banner.handler, banner.transport) == ("UpperCaseDatagramEchoHandler", "udp")
    assert banner.address.startswith(f"{host}:")
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(b"hello world with UDP\n", (host.strip("[]"), banner.port))
        assert sock.recv(1024) == b"HELLO WORLD WITH UDP"
    process.expect("stderr", r" UpperCaseDatagramEchoHandler \d+\.\d\d ms$")
    process.proc.send_signal(signal.SIGTERM)

    assert process.wait() == 0, process.output()
    process.expect("stdout", r"^netserve: shut down after 1 request$")
    _assert_clean_stderr(process)


def test_cli_unix_serves_and_removes_socket_file(run_cli: Callable[..., CliProcess]) -> None:
    directory = tempfile.mkdtemp(prefix="ns-")
    try:
        path = os.path.join(directory, "echo.sock")
        process = run_cli("--unix", path)
        banner = process.serving()
        assert (banner.transport, banner.address) == ("unix", path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            sock.sendall(b"over unix\n")
            assert _recv_until_eof(sock) == b"OVER UNIX"
        process.expect("stderr", r" - UpperCaseEchoHandler \d+\.\d\d ms$")
        process.proc.send_signal(signal.SIGTERM)

        assert process.wait() == 0, process.output()
        assert not os.path.exists(path)
        _assert_clean_stderr(process)
    finally:
        shutil.rmtree(directory)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux's")
def test_cli_unix_abstract_name(run_cli: Callable[..., CliProcess]) -> None:
    name = f"netserve-test-{uuid.uuid4().hex}"
    process = run_cli("--unix", f"@{name}", "--sync")
    assert process.serving().address == f"@{name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect("\0" + name)
        sock.sendall(b"abstract\n")
        assert _recv_until_eof(sock) == b"ABSTRACT"
    process.proc.send_signal(signal.SIGINT)
    assert process.wait() == 0, process.output()


def test_cli_usage_error_is_not_a_traceback(run_cli: Callable[..., CliProcess]) -> None:
    process = run_cli("--tcp", "localhost:99999")

    assert process.wait() == 2
    process.expect("stderr", r"^usage: python -m netserve")
    process.expect("stderr", r"error: argument --tcp: port out of range 0-65535: 99999")
    _assert_clean_stderr(process)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tcp", "127.0.0.1:65536"], "argument --tcp: port out of range 0-65535: 65536"),
        (["--udp", "127.0.0.1:-1"], "argument --udp: port is not a number: '-1'"),
        (["--tcp", "::1:80"], "put an ipv6 host in brackets, as in [::1]:80: '::1:80'"),
        (["--tcp", ":80"], "argument --tcp: missing host before the port"),
        (["--tcp", "host.invalid:0"], "argument --tcp: cannot resolve host 'host.invalid'"),
        (["--unix", ""], "argument --unix: empty unix socket path: ''"),
        (["--pool", "0"], "argument --pool: pool size must be at least 1: '0'"),
        (["--pool", "many"], "argument --pool: pool size is not a whole number: 'many'"),
        (["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"], "not allowed with argument"),
        (["--forking", "--pool", "2"], "not allowed with argument"),
        (["EchoHandler"], "expected MODULE:HANDLER, got 'EchoHandler'"),
        (["no_such_module_here:H"], "cannot import module 'no_such_module_here'"),
        (["netserve:NoSuchHandler"], "module 'netserve' has no attribute 'NoSuchHandler'"),
        (["socketserver:TCPServer"], "'socketserver:TCPServer' is not a request handler class"),
        (["json:loads"], "'json:loads' is a function, not a request handler class"),
        (["--tcp", "[::1]"], "expected [IPV6]:PORT, got '[::1]'"),
    ],
)
def test_cli_usage_errors_name_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m netserve")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NOT_A_CLASS", "is a int, not a request handler class"),
        ("NoHandle", "is not a request handler class: it has no handle() method"),
    ],
)
def test_cli_rejects_non_handlers_from_module(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    handlers_dir: Path,
    name: str,
    message: str,
) -> None:
    monkeypatch.syspath_prepend(str(handlers_dir.parent))
    with pytest.raises(SystemExit) as exit_info:
        main([_custom(handlers_dir, name)])

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    sys.modules.pop(handlers_dir.stem, None)


def test_cli_module_failing_on_import_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="ns-"))
    try:
        module = directory / f"broken_{uuid.uuid4().hex[:8]}.py"
        module.write_text("raise RuntimeError('not today')\n")
        monkeypatch.syspath_prepend(str(directory))
        with pytest.raises(SystemExit) as exit_info:
            main([f"{module.stem}:Handler"])
    finally:
        shutil.rmtree(directory)

    assert exit_info.value.code == 2
    assert f"importing module '{module.stem}' failed: RuntimeError: not today" in (
        capsys.readouterr().err
    )


def test_cli_address_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["--tcp", f"127.0.0.1:{port}"]) == 1

    err = capsys.readouterr().err
    assert f"netserve: cannot serve on tcp 127.0.0.1:{port}: " in err
    assert "Traceback" not in err


def test_cli_defaults_to_echo_on_127_0_0_1_9999_threading() -> None:
    options = parse_options([])

    assert options.handler is UpperCaseEchoHandler
    assert (options.transport, options.address) == ("tcp", ("127.0.0.1", 9999))
    assert (options.concurrency, options.pool_size) == ("threading", None)


def test_cli_udp_defaults_to_datagram_echo() -> None:
    options = parse_options(["--udp", "0.0.0.0:5000", "--pool", "4"])

    assert options.handler is UpperCaseDatagramEchoHandler
    assert (options.transport, options.address) == ("udp", ("0.0.0.0", 5000))
    assert (options.concurrency, options.pool_size) == ("pool", 4)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::1]:8000", ("::1", 8000)),
        ("8080", ("127.0.0.1", 8080)),
    ],
)
def test_parse_host_port(text: str, parsed: tuple[str, int]) -> None:
    assert parse_host_port(text) == parsed


def test_parse_unix_path_and_pool_size() -> None:
    assert parse_unix_path("/run/echo.sock") == "/run/echo.sock"
    assert parse_unix_path("@echo") == "\0echo"
    assert parse_pool_size("16") == 16

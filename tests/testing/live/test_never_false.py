"""The live harness never false-passes, never hangs, never false-fails: pytest end to end.

Each test runs a user's test file in a pytest of its own and reads what that run
printed. Handlers in those files misbehave on purpose (they sleep, block, die, write
without end); nothing here waits on a sleep.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import time
from typing import Tuple

import pytest

from netserve_testing import ServerFactory, ServerKind
from netserve_testing.live._recorder import DEFAULT_POOL_SIZE, MIN_LISTEN_BACKLOG

pytest_plugins = ["pytester"]

DEADLINE = 0.5  # --netserve-teardown-timeout of the stuck-handler runs
#: What a stuck-handler test's teardown may take past the deadline, and what the run may
#: take to report and exit after its last teardown, however loaded the machine (2 s and
#: then 5 s were both seen exceeded under load). The stuck handlers sleep 600 s, so any
#: run that waited for one still fails, and the reports must name the 0.5 s deadline.
SLACK = 30.0
EXIT_SLACK = 30.0
RUN_TIMEOUT = 120  # a user's pytest that has not ended by then hangs: the test fails

STAMPS = """
import time
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    start = time.monotonic()
    yield
    with open("teardowns.txt", "a") as file:
        file.write(f"{start} {time.monotonic()}\\n")
"""

STUCK = """
import signal
import socket
import socketserver
import time

import pytest

KEPT = []  # clients the test keeps open, so a handler reading from them blocks

class Sleeper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())
        time.sleep(600)

class Reader(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"in\\n")
        self.request.recv(1)

class Deaf(socketserver.StreamRequestHandler):
    def handle(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        self.wfile.write(self.rfile.readline())
        time.sleep(600)

CLASSES = {
    "stdlib-sync": socketserver.TCPServer,
    "stdlib-threading": socketserver.ThreadingTCPServer,
    "stdlib-forking": socketserver.ForkingTCPServer,
}

def start(netserve, handler, kind):
    if kind in CLASSES:
        return netserve.serve(handler, server_class=CLASSES[kind])
    return netserve.serve(handler, kind)

@pytest.mark.parametrize(
    "kind",
    ["tcp-sync", "tcp-threading", "tcp-pool", "tcp-forking", "stdlib-sync",
     "stdlib-threading", "stdlib-forking"],
)
def test_sleeps(netserve, kind):
    start(netserve, Sleeper, kind).connect().send_line("hi").expect_line("hi")

@pytest.mark.parametrize("kind", ["tcp-threading", "tcp-forking"])
def test_blocks_in_recv(netserve, kind):
    server = start(netserve, Reader, kind)
    KEPT.append(socket.create_connection(server.address))
    assert KEPT[-1].recv(3) == b"in\\n"  # the handler runs

def test_ignores_signals(netserve):
    start(netserve, Deaf, "tcp-forking").connect().send_line("hi").expect_line("hi")
"""


def _run_timed(pytester: pytest.Pytester, *args: str) -> Tuple[pytest.RunResult, float]:
    # Runs pytest; returns its result and how long it took to exit after its last teardown
    # began... and checks that no teardown took longer than the deadline and the slack.
    pytester.makeconftest(STAMPS)
    result = pytester.runpytest_subprocess(*args, timeout=RUN_TIMEOUT)
    exited = time.monotonic()
    stamps = [
        tuple(map(float, line.split()))
        for line in (pytester.path / "teardowns.txt").read_text().splitlines()
    ]
    assert stamps, result.stdout.str()
    longest = max(end - start for start, end in stamps)
    assert longest < DEADLINE + SLACK, (longest, result.stdout.str())
    return result, exited - stamps[-1][1]


def test_a_stuck_handler_is_abandoned_reported_with_its_stack_and_never_waited_for(pytester):
    pytester.makepyfile(test_stuck=STUCK)
    result, exit_after = _run_timed(
        pytester, f"--netserve-teardown-timeout={DEADLINE}", "-p", "no:cacheprovider"
    )
    # No thread or child held the exit.
    assert exit_after < EXIT_SLACK, (exit_after, result.stdout.str())
    result.assert_outcomes(passed=10, errors=10)
    out = result.stdout.str()
    # Each report shows where the handler is: its function and line, threads and children.
    assert out.count(f"{DEADLINE} s after shutdown of ") == 10, out  # the deadline held
    assert out.count("time.sleep(600)") == 7, out  # the deaf child sent no stack
    assert out.count("self.request.recv(1)") == 2, out
    result.stdout.fnmatch_lines(['*File "*test_stuck.py", line *, in handle', "*time.sleep(600)"])
    assert "(abandoned)" in out
    assert "(killed), handling the request from ('127.0.0.1', " in out
    assert "transcript of its client:" in out
    assert "<<< b'hi\\n'" in out
    assert "(no stack: the child did not answer; it may block signals)" in out


DYING = """
import os
import signal
import socketserver

import pytest

from netserve_testing import ChildProcessDied

class Dies(socketserver.StreamRequestHandler):
    def handle(self):
        how = self.rfile.readline().strip()
        if how == b"kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif how == b"segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif how == b"exit":
            os._exit(3)

@pytest.mark.parametrize("how", ["kill", "segv", "exit"])
def test_child_dies(netserve, how):
    server = netserve.serve(Dies, "tcp-forking")
    server.connect().send_line(how).expect_closed()
    assert len(server.wait_for_requests(1)) == 1

def test_stdlib_child_dies(netserve):
    server = netserve.serve(Dies, server_class=socketserver.ForkingTCPServer)
    server.connect().send_line("kill").expect_closed()
    assert len(server.wait_for_requests(1)) == 1

def test_death_expected(netserve):
    server = netserve.serve(Dies, "unix_stream-forking")
    server.connect().send_line("kill").expect_closed()
    [record] = server.wait_for_requests(1)
    error = server.errors.expect(ChildProcessDied, match="killed by signal 9")
    assert record.error is error
    assert error.exception.signal == 9 and error.exception.pid == record.pid
"""


def test_a_forked_child_that_dies_unreported_fails_the_test(pytester):
    pytester.makepyfile(test_dying=DYING)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:faulthandler", timeout=RUN_TIMEOUT
    )
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "*ChildProcessDied: child process * killed by signal 9 (SIGKILL) while handling "
            "the request from ('127.0.0.1', *), without reporting it*",
            "*killed by signal 11 (SIGSEGV)*",
            "*child process * exited with status 3 while handling the request*",
        ]
    )


TEARDOWN = """
import socketserver

import pytest

class Chatty(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        for _ in range(100000):
            self.wfile.write(b"news " * 100 + b"\\n")

class Fails(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        raise ValueError("raised before teardown")

@pytest.mark.parametrize("kind", ["tcp-threading", "tcp-forking", "unix_stream-sync"])
def test_ends_with_unread_bytes(netserve, kind):
    netserve.serve(Chatty, kind).connect().send_line("hi").expect_regex(b"news")

def test_an_error_before_teardown_still_fails(netserve):
    server = netserve.serve(Fails)
    server.connect().send_line("hi").expect_closed()
"""


def test_teardown_closing_the_clients_is_no_handler_error(pytester):
    pytester.makepyfile(test_teardown_own=TEARDOWN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "ValueError: raised before teardown" in out
    assert "BrokenPipeError" not in out
    assert "ConnectionResetError" not in out


OTHER_CLIENTS = """
import http.client
import http.server
import socket
import socketserver

class UntilEOF(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"ready\\n")
        self.wfile.flush()
        self.rfile.read()  # until the client closes

class Web(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the handler reads until the client closes

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass

def test_create_connection(netserve):
    server = netserve.serve(UntilEOF, "tcp-forking")
    sock = socket.create_connection(server.address)
    with sock.makefile("rb") as replies:
        assert replies.readline() == b"ready\\n"  # the child serving it exists
    sock.close()
    assert server.wait_for_requests(1)[0].error is None

def test_http_client(netserve):
    server = netserve.serve(Web, "tcp-forking")
    connection = http.client.HTTPConnection(*server.address)
    connection.request("GET", "/")
    assert connection.getresponse().read() == b"hello"
    connection.close()
    assert server.wait_for_requests(1)[0].error is None
"""


def test_clients_of_any_library_close_against_forking_kinds(pytester):
    pytester.makepyfile(test_other_clients=OTHER_CLIENTS)
    result = pytester.runpytest_subprocess(
        "--netserve-timeout=3", "-p", "no:cacheprovider", timeout=RUN_TIMEOUT
    )
    result.assert_outcomes(passed=2)


KINDS = """
import pytest

@pytest.mark.netserve_kinds("inet", "sync,pool")
def test_narrowed(server_kind):
    pass
"""

NOTHING = """
import pytest

@pytest.mark.netserve_kinds("tcp", "udp")
def test_either(server_kind):
    pass
"""


def test_kinds_option_keeps_the_markers_narrowing_for_ipv6(pytester):
    pytester.makepyfile(test_kinds=KINDS)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--netserve-kinds=tcp6")
    result.stdout.fnmatch_lines(
        [
            "test_kinds.py::test_narrowed[[]tcp6-sync[]]",
            "test_kinds.py::test_narrowed[[]tcp6-pool[]]",
        ]
    )
    assert "2 tests collected" in result.stdout.str()
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--netserve-kinds=udp6 pool")
    result.stdout.fnmatch_lines(
        ["test_kinds.py::test_narrowed[[]udp6-pool[]]", "1 test collected*"]
    )


def test_a_marker_that_selects_nothing_says_how_to_write_either(pytester):
    pytester.makepyfile(test_nothing=NOTHING)
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*netserve_kinds('tcp', 'udp') selects no server kind: several selectors narrow "
            "(a kind must match each); for either, write 'tcp,udp'*"
        ]
    )


DIRS = """
import os
import shutil
import socketserver
import tempfile

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())

def test_removed_dir(netserve):
    server = netserve.serve(Upper, "unix_stream-threading")
    shutil.rmtree(os.path.dirname(server.address))

def test_unix_dir_under_tmpdir(netserve):
    server = netserve.serve(Upper, "unix_stream-threading")
    assert server.address.startswith(os.environ["TMPDIR"] + os.sep)
    server.connect().send_line("a").expect_line("A")

def test_tcp_makes_no_dir(netserve):
    before = set(os.listdir(tempfile.gettempdir()))
    netserve.serve(Upper, "tcp-threading").connect().send_line("a").expect_line("A")
    assert set(os.listdir(tempfile.gettempdir())) == before
"""


def test_private_dirs_only_for_unix_kinds_under_tmpdir_and_a_vanished_one_is_reported(
    pytester, monkeypatch
):
    tmpdir = tempfile.mkdtemp(prefix="nst", dir="/tmp")
    try:
        monkeypatch.setenv("TMPDIR", tmpdir)
        pytester.makepyfile(test_dirs=DIRS)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
        assert os.listdir(tmpdir) == []  # every private directory removed
    finally:
        shutil.rmtree(tmpdir)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*leak: socket directory removed before teardown (by the test?): *"]
    )
    assert "FileNotFoundError" not in result.stdout.str()


INTERRUPTED = """
import socketserver
import sys
import time

class Stuck(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        self.rfile.readline()  # the client never sends a second line

class Sleeper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())
        time.sleep(600)  # a thread: Ctrl-C does not reach it

def test_interrupted(netserve):
    netserve.serve(Sleeper).connect().send_line("in").expect_line("in")
    server = netserve.serve(Stuck, "tcp-forking")
    client = server.connect(timeout=60)
    client.send_line("x")
    server.connect(timeout=60)  # a second child
    sys.stdout.write("READY\\n")
    sys.stdout.flush()
    client.expect_line("never")
"""


def _read_until(stream: object, marker: bytes, timeout: float) -> bytes:
    # Reads a pipe until `marker` shows (or EOF, or the timeout), without sleeping.
    fd = stream.fileno()  # type: ignore[attr-defined]
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_is_pytests_interrupted_exit_with_the_servers_torn_down(pytester):
    pytester.makepyfile(test_interrupted=INTERRUPTED)
    command = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider"]
    command += ["--netserve-teardown-timeout=1", "test_interrupted.py"]
    with subprocess.Popen(
        command,
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: Ctrl-C reaches it and its children
    ) as process:
        out = _read_until(process.stdout, b"READY", RUN_TIMEOUT)
        assert b"READY" in out, out
        os.killpg(process.pid, signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=RUN_TIMEOUT)  # the sleeper: 600 s
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    text = (out + rest).decode()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text
    assert "no tests ran" in text
    assert "Traceback" not in text, text
    assert "pluggy/_" not in text, text
    assert "handler error" not in text, text
    assert "(abandoned)" in text, text  # teardown ran, reported the sleeper, did not wait


HIDDEN = """
import socketserver

from netserve_testing import Script

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())

class Hello(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"HELLO\\nno end")
        self.wfile.flush()
        self.rfile.read()

def test_expects_an_error(netserve):
    server = netserve.serve(Upper)
    server.errors.expect(ValueError)

def test_waits_for_a_request(netserve):
    netserve.serve(Upper).wait_for_requests(1, timeout=0.1)

def test_plays_a_script(netserve):
    server = netserve.serve(Upper)
    Script().send_line("hello").expect_line("HI").run(server)

def test_plays_a_script_that_times_out(netserve):
    server = netserve.serve(Hello, client_timeout=0.2)
    Script().send_line("x").expect_line("HELLO").expect_line("no end in sight").run(server)
"""


def test_failures_point_at_the_users_line(pytester):
    pytester.makepyfile(test_hidden=HIDDEN)
    # The default client timeout: a loaded machine must not turn the mismatch into a timeout.
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            ">       server.errors.expect(ValueError)",
            "E       AssertionError: no unhandled handler error ValueError matching ''; *",
            ">       netserve.serve(Upper).wait_for_requests(1, timeout=0.1)",
            "E       netserve_testing*RequestsTimeout: waited 0.1 s for 1 requests *",
            '>       Script().send_line("hello").expect_line("HI").run(server)',
            "E       *ExpectationFailed: script step 2 of 2 (expect line 'HI') failed",
            "E       expected: b'HI\\n'",
            "E       received: b'HELLO\\n'",
            "E       nearest: b'HELLO\\n' (the closest line received, *% alike)",
            ">       Script().send_line(*",
            "E       *ExpectationFailed: script step 3 of 3 (expect line 'no end in sight') failed",
            "E       expected: b'no end in sight\\n'",
            "E       received: b'no end'",
            "E       nearest: b'no end' (the closest line received, *% alike)",
            "E       timed out after 0.2 s waiting for line 'no end in sight'",
            "E       <<< b'HELLO\\nno end'",
        ]
    )
    assert "_records.py" not in out
    assert "_script.py" not in out
    assert "_harness.py" not in out


def test_inner_runs_load_only_the_plugins_they_need(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "randomly" not in out, out  # no reordering or reseeding behind the test's back


class _Lines(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:  # long-lived: answers every line until the client closes
            self.wfile.write(line)


def test_kit_servers_have_reproducible_defaults():
    with ServerFactory() as factory:
        pool = factory.serve(_Lines, "tcp-pool")
        assert pool.server.max_workers == DEFAULT_POOL_SIZE == 8  # whatever the cores
        assert pool.server.request_queue_size >= MIN_LISTEN_BACKLOG >= 128
        assert pool.server.daemon_threads  # an abandoned handler never holds the exit
        # Eight long-lived clients at once are served on any machine.
        clients = [pool.connect() for _ in range(8)]
        for number, client in enumerate(clients):
            client.send_line(str(number))
        for number, client in enumerate(clients):
            client.expect_line(str(number))
        own = factory.serve(
            _Lines, "tcp-pool", max_workers=2, request_queue_size=5, daemon_threads=False
        )
        assert (own.server.max_workers, own.server.request_queue_size) == (2, 5)
        assert own.server.daemon_threads is False
    kind = ServerKind.parse("udp-pool")
    assert (kind.transport, kind.concurrency) == ("udp", "pool")

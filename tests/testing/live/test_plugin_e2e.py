"""The pytest plugin end to end: a user's test file run by pytest in a subprocess."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import socket
import socketserver

import pytest

from netserve_testing import make_faker
from netserve_testing._payloads import derive_seed

kept = []


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        if line.startswith(b"boom"):
            raise ValueError("boom in " + self.server.__class__.__name__)
        self.wfile.write(line.upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


class Keeper(socketserver.BaseRequestHandler):
    def handle(self):
        kept.append(self.request.dup())


def test_passes(netserve):
    netserve.serve(Upper).connect().send_line("hi").expect_line("HI")


@pytest.mark.parametrize("kind", ["tcp-sync", "tcp-threading", "tcp-forking"])
def test_handler_raises(netserve, kind):
    netserve.serve(Upper, kind).connect().send_line("boom").expect_closed()


def test_expected_error_is_marked(netserve):
    server = netserve.serve(Upper, "unix_stream-forking")
    server.connect().send_line("boom").expect_closed()
    server.wait_for_requests(1)
    server.errors.expect(ValueError, match="boom in ForkingUnixStreamServer")


def test_stdlib_server_class(netserve):
    server = netserve.serve(Upper, server_class=socketserver.ThreadingTCPServer)
    server.connect().send_line("std").expect_line("STD")


def test_leaks_a_socket(netserve):
    netserve.serve(Keeper, "tcp-sync").connect().expect_closed()


def test_client_times_out(netserve):
    client = netserve.serve(Upper).connect(timeout=0.3)
    client.send(b"no end of line").expect_line("NO END")


@pytest.mark.netserve_kinds("datagram", "sync,pool")
def test_matrix(netserve, server_kind):
    netserve.serve(DatagramUpper, server_kind).connect().send(b"x").expect(b"X")


def test_faker_beside_fakers_own_fixture(request, netserve_faker, faker):
    seed = derive_seed(12345, request.node.nodeid)
    assert netserve_faker.payload(8) == make_faker(seed).payload(8)
    assert isinstance(faker.name(), str)
    assert netserve_faker.payload(4) == b"fail on purpose"
"""


def _check_outcome(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=8, failed=5, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*FAILED test_user.py::test_handler_raises?tcp-sync?*",
            "*FAILED test_user.py::test_handler_raises?tcp-threading?*",
            "*FAILED test_user.py::test_handler_raises?tcp-forking?*",
            "*ERROR test_user.py::test_leaks_a_socket*",
            "*FAILED test_user.py::test_client_times_out*",
            "*FAILED test_user.py::test_faker_beside_fakers_own_fixture*",
        ]
    )
    out = result.stdout.str()
    for server in ("TCPServer", "ThreadingTCPServer", "ForkingTCPServer"):
        assert f"ValueError: boom in {server} (client ('127.0.0.1', " in out
    # Each traceback once in the failure sections (with CI set, pytest repeats the full
    # messages in its short summary, so count before it).
    failures = out.split("short test summary info")[0]
    assert failures.count('in handle\n    raise ValueError("boom in " + self.server') == 3
    assert "netserve: 1 leak after teardown" in out
    assert "leak: socket left open: fd " in out
    assert "--- timed out after 0.3 s waiting for line 'NO END'" in out
    assert ">>> b'no end of line'" in out
    assert "replay with --netserve-seed=12345" in out


@pytest.fixture
def user_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # A generous client timeout: a loaded machine must not fail a step that gets its reply.
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeini("[pytest]\nnetserve_timeout = 30\nnetserve_seed = 12345\n")
    monkeypatch.setenv("PYTEST_ADDOPTS", os.environ["PYTEST_ADDOPTS"] + " -p faker")
    return pytester


def test_plugin_end_to_end(user_tests):
    result = user_tests.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    _check_outcome(result)
    result.stdout.fnmatch_lines(
        [
            "netserve: client timeout 30 s, teardown timeout 5 s, leak checks on, "
            "backend netserve, seed 12345",
        ]
    )
    result.stdout.fnmatch_lines_random(
        [
            "*test_matrix?udp-sync? PASSED*",
            "*test_matrix?udp-pool? PASSED*",
            "*test_matrix?unix_dgram-sync? PASSED*",
            "*test_matrix?unix_dgram-pool? PASSED*",
            "*test_stdlib_server_class PASSED*",
            "*test_expected_error_is_marked PASSED*",
        ]
    )


def test_plugin_end_to_end_under_xdist(user_tests):
    result = user_tests.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    _check_outcome(result)


def test_plugin_bad_option_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest_subprocess("--netserve-timeout=soon", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--netserve-timeout: expected seconds > 0, got 'soon'*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # Plugins autoload here, as for a user: -p no:netserve must still turn this one off.
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly")
    pytester.makepyfile("def test_uses(netserve):\n    pass\n")
    result = pytester.runpytest("-p", "no:netserve", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'netserve' not found*"])


KIND_TESTS = """
import pytest


def test_any(server_kind):
    assert server_kind.concurrency == "sync"


@pytest.mark.netserve_kinds("datagram")
def test_datagram(server_kind):
    assert not server_kind.is_stream


@pytest.mark.netserve_kinds("stream")
def test_stream(server_kind):
    raise AssertionError("--netserve-kinds leaves no stream kind")
"""


def test_plugin_netserve_kinds_option_narrows_every_test(pytester: pytest.Pytester):
    pytester.makepyfile(test_kinds=KIND_TESTS)
    result = pytester.runpytest_subprocess(
        "-v", "-rs", "--netserve-kinds=udp,unix_dgram sync", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines_random(
        [
            "*netserve: *, kinds 'udp,unix_dgram sync'",
            "*test_any?udp-sync? PASSED*",
            "*test_any?unix_dgram-sync? PASSED*",
            "*test_datagram?udp-sync? PASSED*",
            "*test_datagram?unix_dgram-sync? PASSED*",
            "SKIPPED * --netserve-kinds 'udp,unix_dgram sync' leaves none of the kinds of this*",
        ]
    )


def test_plugin_netserve_kinds_ini_key(pytester: pytest.Pytester):
    pytester.makepyfile(test_kinds=KIND_TESTS)
    pytester.makeini("[pytest]\nnetserve_kinds = udp-sync\n")
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines_random(
        ["*test_any?udp-sync? PASSED*", "*test_datagram?udp-sync? PASSED*"]
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "streams",
            "*--netserve-kinds: expected server kind selectors: unknown server kind "
            "selector 'streams'*",
        ),
        (
            "tcp udp",
            "*--netserve-kinds: expected server kind selectors: 'tcp udp' selects no server kind*",
        ),
    ],
    ids=["unknown", "selects-nothing"],
)
def test_plugin_bad_netserve_kinds_is_a_usage_error(pytester: pytest.Pytester, value, message):
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest_inprocess(f"--netserve-kinds={value}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


BACKEND_TESTS = """
import socketserver

import pytest


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())


@pytest.mark.netserve_kinds("tcp")
def test_tcp(netserve, server_kind):
    server = netserve.serve(Upper, server_kind)
    assert type(server.server).__module__ == "socketserver"
    server.connect().send_line("hi").expect_line("HI")


@pytest.mark.netserve_kinds("tcp-pool")
def test_pool_only(netserve, server_kind):
    raise AssertionError("the standard library has no thread pool server")
"""


def test_plugin_socketserver_backend_leaves_out_kinds_it_has_no_class_for(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(test_backend=BACKEND_TESTS)
    result = pytester.runpytest_subprocess(
        "-v", "-rs", "--netserve-backend=socketserver", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines_random(
        [
            "*test_tcp?tcp-sync? PASSED*",
            "*test_tcp?tcp-threading? PASSED*",
            "*test_tcp?tcp-forking? PASSED*",
            "SKIPPED * --netserve-backend socketserver has no server class for the kinds of "
            "this test (tcp-pool)*",
        ]
    )
    result.stdout.no_fnmatch_line("*tcp-pool? *")


FORK_TESTS = """
import os
import socketserver
import threading

import pytest


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())


@pytest.mark.parametrize("backend", ["netserve", "socketserver"])
def test_forking_server(netserve, backend):
    server = netserve.serve(Echo, "tcp-forking", backend=backend)
    server.connect().send_line("a").expect_line("a")


def test_users_own_fork():
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        pid = os.fork()  # USER FORK
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    finally:
        release.set()
        thread.join()
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="fork() warns from Python 3.12 on")
def test_plugin_hides_the_fork_warning_of_its_forking_servers_only(pytester: pytest.Pytester):
    # A forking server forks from its serving thread: Python 3.12+ warns on every
    # request. The plugin hides that warning, not the one a user's own fork() gets.
    pytester.makepyfile(test_forks=FORK_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_forks.py::test_users_own_fork",
            "*test_forks.py:*: DeprecationWarning: This process (pid=*) is multi-threaded, *",
            "*pid = os.fork()  # USER FORK",
            "*1 warning*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_forking_server*DeprecationWarning*")
    result.stdout.no_fnmatch_line("*_mixins.py*")
    result.stdout.no_fnmatch_line("*socketserver.py*")


LEAK_MARKER_TESTS = """
import threading

import pytest

release = threading.Event()
started = []


def background():
    # A user's own background thread, started on first use, outliving the test.
    if not started:
        started.append(threading.Thread(target=release.wait, daemon=True))
        started[0].start()


def test_checked(netserve):
    netserve.serve(object)
    background()


@pytest.mark.netserve_leak_check(False)
def test_unchecked(netserve):
    netserve.serve(object)
    release.set()
    started.clear()
    background()


def test_last():
    release.set()
"""


def test_plugin_netserve_leak_check_marker_turns_the_checks_off_for_one_test(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(test_marker=LEAK_MARKER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_checked*", "*leak: thread left running: <Thread(*"]
    )


def test_plugin_netserve_leak_check_marker_takes_a_bool(pytester: pytest.Pytester):
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.netserve_leak_check('off')\n"
        "def test_it(netserve):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*netserve_leak_check takes True or False, not ('off',)*"])
    result.assert_outcomes(errors=1)

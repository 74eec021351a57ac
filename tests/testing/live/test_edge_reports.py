"""Edges of the plugin's reports: one error counted once, children that exit early,
threads that would hold the interpreter, markers that select nothing; pytest end to end.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

RUN_TIMEOUT = 120  # a user's pytest that has not ended by then hangs: the test fails

ONE_ERROR = """
import socketserver

import pytest

class Raises(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        raise {exc}("from the handler")

@pytest.mark.parametrize("server_class", [None, socketserver.TCPServer], ids=["netserve", "stdlib"])
def test_expects_the_error(netserve, server_class):
    options = {{}} if server_class is None else {{"server_class": server_class}}
    server = netserve.serve(Raises, "tcp-sync", **options)
    client = server.connect()
    client.send_line("go")
    server.wait_for_requests(1)
    error = server.errors.expect({exc})
    assert error.client_address == client.sock.getsockname()
"""


@pytest.mark.parametrize("exc", ["SystemExit", "GeneratorExit"])
def test_a_sync_handler_error_that_ends_serve_forever_is_expected_once(pytester, exc):
    pytester.makepyfile(test_one=ONE_ERROR.format(exc=exc))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=2)


UNEXPECTED = """
import socketserver

class Raises(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        raise SystemExit("from the handler")

def test_does_not_expect_it(netserve):
    server = netserve.serve(Raises, "tcp-sync")
    server.connect().send_line("go")
    server.wait_for_requests(1)
"""


def test_a_sync_handler_error_that_ends_serve_forever_is_reported_once(pytester):
    pytester.makepyfile(test_one=UNEXPECTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(failed=1)  # no error at teardown: the loop's crash is the same
    out = result.stdout.str()
    assert "1 unhandled handler error" in out, out
    assert out.count("--- handler error") == 1, out


HOLDS_EXIT = """
import socketserver
import threading

import pytest

NEVER = threading.Event()

class Blocks(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())
        self.wfile.flush()
        NEVER.wait()  # forever: only the end of the process stops it

class NotDaemons(socketserver.ThreadingTCPServer):
    daemon_threads = False

@pytest.mark.parametrize("how", ["option", "class"])
def test_blocks_in_a_non_daemon_thread(netserve, how):
    if how == "option":
        server = netserve.serve(Blocks, "tcp-threading", daemon_threads=False)
    else:
        server = netserve.serve(Blocks, server_class=NotDaemons)
    server.connect().send_line("hi").expect_line("hi")
"""
HOLDS_EXIT_TIMEOUT = 60  # the old behaviour was to hang forever at exit


def test_an_abandoned_non_daemon_handler_thread_does_not_hold_pytests_exit(pytester):
    pytester.makepyfile(test_holds=HOLDS_EXIT)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--netserve-teardown-timeout=0.5", timeout=HOLDS_EXIT_TIMEOUT
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.assert_outcomes(passed=2, errors=2)
    out = result.stdout.str()
    assert out.count("(abandoned; not a daemon thread: the server class sets daemon_threads") == 2
    result.stdout.fnmatch_lines(["*= 2 passed, 2 errors in *"])  # the summary came first
    result.stderr.fnmatch_lines(
        [
            "netserve: handler thread * of test_holds.py::test_blocks_in_a_non_daemon_thread"
            "?option? (and 1 more) is still running and is not a daemon (the test's server "
            "class sets daemon_threads=False): ending the process with exit status 1 instead "
            "of waiting for it"
        ]
    )


CTRL_C_IN_THE_WRAPPER = """
import socketserver

from netserve_testing import ServerFactory

def test_interrupted_as_the_plugin_checks_errors(netserve, monkeypatch):
    # Ctrl-C landing while the plugin collects the errors the test left, after the call.
    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(ServerFactory, "take_unhandled_errors", interrupted)
    netserve.serve(socketserver.BaseRequestHandler)
"""


def test_ctrl_c_in_the_plugins_hook_wrapper_passes_through_cleanly(pytester):
    pytester.makepyfile(test_ctrl_c=CTRL_C_IN_THE_WRAPPER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out, out
    assert "PluggyTeardownRaisedWarning" not in out, out
    assert "pluggy/_" not in out, out


def test_the_plugins_hook_wrappers_are_new_style(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("netserve")
    assert plugin is not None
    impls = [
        impl
        for caller in pytestconfig.pluginmanager.get_hookcallers(plugin) or []
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    ]
    assert [impl.function.__name__ for impl in impls if impl.hookwrapper] == []
    assert {impl.function.__name__ for impl in impls if impl.wrapper} >= {
        "pytest_runtest_call",
        "pytest_runtest_makereport",
    }


NO_KIND = """
import pytest

@pytest.mark.netserve_kinds("udp", "stream")
def test_selects_nothing(server_kind):
    pass
"""
BAD_KIND = """
import pytest

@pytest.mark.netserve_kinds("no-such-kind")
def test_selects_garbage(server_kind):
    pass
"""


def test_a_marker_that_leaves_no_kind_is_one_clean_collection_error_line(pytester):
    pytester.makepyfile(test_no_kind=NO_KIND, test_bad_kind=BAD_KIND)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest stops on a collection error
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting test_no_kind.py _*",
            "test_no_kind.py::test_selects_nothing: @pytest.mark.netserve_kinds('udp', "
            "'stream') selects no server kind: several selectors narrow (a kind must match "
            "each); for either, write 'udp,stream'",
            "*= short test summary info =*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting test_bad_kind.py _*",
            "test_bad_kind.py::test_selects_garbage: @pytest.mark.netserve_kinds('no-such-kind'): "
            "unknown server kind 'no-such-kind': *",
        ]
    )
    assert "plugin.py" not in out, out
    assert "pluggy/" not in out, out
    assert "Traceback" not in out, out


EXITS_0 = """
import os
import socketserver

import pytest

from netserve_testing import ChildProcessDied

class Exits(socketserver.StreamRequestHandler):
    def handle(self):
        if self.rfile.readline().strip() == b"exit":
            os._exit(0)  # mid-request, without the end of the request being reported
        self.wfile.write(b"ok\\n")

BOTH = pytest.mark.parametrize(
    "server_class", [None, socketserver.ForkingTCPServer], ids=["kind", "stdlib"]
)

@BOTH
def test_exit_0_unexpected(netserve, server_class):
    options = {} if server_class is None else {"server_class": server_class}
    server = netserve.serve(Exits, "tcp-forking", **options)
    server.connect().send_line("exit").expect_closed()
    server.wait_for_requests(1)

def test_exit_0_expected(netserve):
    server = netserve.serve(Exits, "unix_stream-forking")
    server.connect().send_line("exit").expect_closed()
    [record] = server.wait_for_requests(1)
    error = server.errors.expect(ChildProcessDied, match="exited with status 0")
    assert record.error is error and error.exception.status == 0

@BOTH
def test_normal_children(netserve, server_class):
    options = {} if server_class is None else {"server_class": server_class}
    server = netserve.serve(Exits, "tcp-forking", **options)
    for _ in range(5):
        server.connect().send_line("hi").expect_line("ok")
    records = server.wait_for_requests(5)
    assert [record.error for record in records] == [None] * 5
"""


def test_a_forked_child_that_exits_with_status_0_mid_request_fails_the_test(pytester):
    pytester.makepyfile(test_exits=EXITS_0)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--netserve-backend=socketserver", timeout=RUN_TIMEOUT
    )
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ChildProcessDied: child process * exited with status 0 while handling the request "
            "from ('127.0.0.1', *), without reporting it*",
        ]
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=3, failed=2)

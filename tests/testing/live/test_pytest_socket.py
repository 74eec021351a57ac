"""The netserve fixture beside pytest-socket: allowed loopback works, a block says what to add."""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_socket")

pytest_plugins = ["pytester"]

USER_TESTS = """
import socketserver

import pytest

from netserve_testing import run_handler


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


@pytest.mark.netserve_kinds("tcp,udp,unix_stream,unix_dgram", "threading,forking")
def test_kinds(netserve, server_kind):
    server = netserve.serve(Upper if server_kind.is_stream else DatagramUpper, server_kind)
    if server_kind.is_stream:
        server.connect().send_line("x").expect_line("X")
    else:
        server.connect().send(b"x").expect(b"X")


def test_ipv6(netserve):
    netserve.serve(Upper, address=("::1", 0)).connect().send_line("x").expect_line("X")


@pytest.mark.enable_socket
def test_asks_for_sockets(netserve):
    netserve.serve(Upper).connect().send_line("x").expect_line("X")


def test_in_memory_needs_no_socket():
    assert run_handler(Upper, b"x\\n").sent == b"X\\n"
"""

INSULATE = ("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist")


def test_allowed_loopback_hosts_and_unix_sockets_run_every_kind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        *INSULATE, "--allow-hosts=127.0.0.1,::1", "--allow-unix-socket"
    )
    result.assert_outcomes(passed=11)


def test_disable_socket_fails_at_once_saying_what_to_add(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*INSULATE, "--disable-socket", "-W", "error")
    # The test that asks for sockets and the in-memory one pass; the others fail in setup.
    result.assert_outcomes(passed=2, errors=9)
    result.stdout.fnmatch_lines(
        [
            "*the netserve fixture needs sockets, and pytest-socket blocks them for "
            "test_user.py::test_ipv6: mark the test @pytest.mark.enable_socket (or request the "
            "socket_enabled fixture), or allow loopback for the whole run instead of "
            "--disable-socket: --allow-hosts=127.0.0.1,::1 --allow-unix-socket"
        ]
    )


def test_unix_sockets_not_allowed_says_to_add_allow_unix_socket(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        *INSULATE, "--allow-hosts=127.0.0.1,::1", "-k", "unix_stream"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*netserve: pytest-socket blocked a Unix socket connection: add --allow-unix-socket*"]
    )


def test_loopback_not_allowed_says_to_add_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        *INSULATE, "--allow-hosts=192.0.2.1", "--allow-unix-socket", "-k", "tcp-threading"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*netserve: pytest-socket blocked a connection to a loopback server: allow it with "
            "--allow-hosts=127.0.0.1,::1*"
        ]
    )


def test_disable_socket_with_unix_sockets_allowed_names_the_blocked_socket(
    pytester: pytest.Pytester,
) -> None:
    # Unix sockets still work; an inet server fails with the note of what to add.
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        *INSULATE, "--disable-socket", "--allow-unix-socket", "-k", "kinds"
    )
    result.assert_outcomes(passed=4, failed=4)
    result.stdout.fnmatch_lines(["*netserve: pytest-socket blocked a socket: mark the test*"])

"""ServerHandle / ServerFactory: serving any class, recording errors, teardown and leak checks."""

from __future__ import annotations

import os
import socket
import socketserver
import stat
import threading
from typing import ClassVar, List

import pytest

import netserve as core
from netserve_testing import (
    HandlerErrors,
    RequestsTimeout,
    ServerCheckFailed,
    ServerFactory,
    ServerHandle,
    serve,
)


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        if line.startswith(b"boom"):
            raise ValueError(f"boom from {line!r}")
        self.wfile.write(line.upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        if data.startswith(b"boom"):
            raise ValueError(f"boom from {data!r}")
        sock.sendto(data.upper(), self.client_address)


class LocalError(Exception):
    def __init__(self, first: str, second: str) -> None:  # not rebuildable by pickle
        super().__init__(f"{first} {second}")


def test_ServerHandle_serves_and_records_requests():
    with serve(Upper) as server:
        assert server.address[0] == "127.0.0.1"
        assert server.address[1] > 0
        server.connect().send_line("hi").expect_line("HI")
        (record,) = server.wait_for_requests(1)
        assert record.error is None
        assert record.ended >= record.started
        assert record.client_address[0] == "127.0.0.1"
        assert isinstance(server.server, core.ThreadingTCPServer)


@pytest.mark.netserve_kinds("all")
def test_ServerHandle_records_handler_errors_of_every_kind(netserve, server_kind):
    handler = Upper if server_kind.is_stream else DatagramUpper
    server = netserve.serve(handler, server_kind)
    client = server.connect()
    client.send_line("boom now")
    records = server.wait_for_requests(1)
    error = server.errors.expect(ValueError, match="boom from")
    assert records[0].error is not None
    assert records[0].error.message == error.message
    assert error.client_address == records[0].client_address
    assert 'raise ValueError(f"boom from {' in error.traceback
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert "socketserver.py" not in error.traceback
    forked = server_kind.concurrency == "forking"
    assert (error.pid != os.getpid()) is forked
    assert server.errors.unhandled() == []


def test_ServerHandle_forked_error_that_pickle_cannot_rebuild(netserve):
    class Raises(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            raise LocalError("not", "picklable")

    server = netserve.serve(Raises, "tcp-forking")
    server.connect().expect_closed()
    server.wait_for_requests(1)
    (error,) = server.errors
    assert error.exception is None
    assert error.type_names[:2] == ("LocalError", "Exception")
    assert error.matches(Exception, "not picklable")
    error.mark_handled()


def test_ServerFactory_reports_every_unhandled_error_with_traceback():
    factory = ServerFactory()
    server = factory.serve(Upper, "tcp-threading")
    for word in ("boom one", "boom two"):
        server.connect().send_line(word).expect_closed()
    server.wait_for_requests(2)
    with pytest.raises(ServerCheckFailed) as failed:
        factory.__exit__(None, None, None)
    message = str(failed.value)
    assert message.startswith("netserve: 2 unhandled handler errors")
    assert "handler error 1 of 2: ValueError: boom from b'boom" in message
    assert "handler error 2 of 2" in message
    assert message.count("Traceback (most recent call last):") == 2
    assert "(client ('127.0.0.1', " in message


def test_HandlerErrors_expect_names_what_was_seen():
    errors = HandlerErrors([])
    with pytest.raises(AssertionError, match=r"no unhandled handler error KeyError .*seen: none"):
        errors.expect(KeyError)


def test_wait_for_requests_times_out_without_requests(netserve):
    server = netserve.serve(Upper, "tcp-threading")
    with pytest.raises(
        RequestsTimeout, match=r"waited 0.05 s for 1 requests to ThreadingTCPServer"
    ):
        server.wait_for_requests(1, timeout=0.05)


def test_serve_stdlib_classes_and_a_users_subclass(netserve):
    class Counting(socketserver.ThreadingTCPServer):
        served: ClassVar[List[object]] = []

        def verify_request(self, request: object, client_address: object) -> bool:
            self.served.append(client_address)
            return True

    server = netserve.serve(Upper, server_class=Counting, daemon_threads=True)
    assert isinstance(server.server, Counting)
    assert server.server.daemon_threads
    assert type(server.server).__name__ == "Counting"
    server.connect().send_line("x").expect_line("X")
    server.wait_for_requests(1)
    assert len(Counting.served) == 1
    stdlib = netserve.serve(DatagramUpper, server_class=socketserver.UDPServer)
    stdlib.connect().send(b"q").expect(b"Q")


def test_serve_with_the_stdlib_backend_and_a_users_handle_error(netserve):
    seen: List[object] = []

    class Quiet(socketserver.TCPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            seen.append(client_address)

    server = netserve.serve(Upper, server_class=Quiet)
    server.connect().send_line("boom").expect_closed()
    server.wait_for_requests(1)
    assert len(seen) == 1  # a custom handle_error still runs
    server.errors.mark_handled()
    other = netserve.serve(Upper, "unix_stream-forking", backend="socketserver")
    assert not isinstance(other.server, core.BaseServer)
    other.connect().send_line("ok").expect_line("OK")


def test_serve_ipv6_and_attrs(netserve):
    class Greeter(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(self.server.greeting + b"\n")  # type: ignore[attr-defined]

    server = netserve.serve(Greeter, "tcp6-threading", attrs={"greeting": b"hello"})
    assert server.address[0] == "::1"
    server.connect().expect_line("hello")


def test_serve_rejects_bad_options(netserve):
    with pytest.raises(TypeError, match="unknown server option 'dameon_threads' for Threading"):
        netserve.serve(Upper, dameon_threads=True)
    with pytest.raises(ValueError, match="unix socket path is 208 bytes, the limit is 107"):
        netserve.serve(Upper, "unix_stream-sync", address="/tmp/" + "x" * 203)
    with pytest.raises(ValueError, match="unknown server kind 'tcp-fast'"):
        netserve.serve(Upper, "tcp-fast")


def test_unix_socket_dir_is_private_and_removed():
    factory = ServerFactory()
    server = factory.serve(Upper, "unix_stream-threading")
    directory = os.path.dirname(server.address)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert len(server.address) < 60
    assert factory.close() == ([], [])
    assert not os.path.exists(directory)


def test_leak_checks_name_a_stuck_handler_and_a_leftover_file():
    release = threading.Event()

    class Stuck(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"in\n")
            release.wait(10)

    factory = ServerFactory(teardown_timeout=0.1)
    server = factory.serve(Stuck, "unix_stream-threading")
    server.connect().expect_line("in")
    with open(os.path.join(os.path.dirname(server.address), "stray.sock"), "w"):
        pass
    errors, leaks = factory.close()
    release.set()
    assert errors == []
    assert any("still being handled in <" in leak for leak in leaks), leaks
    assert any(leak.endswith("stray.sock") for leak in leaks), leaks


def test_leak_check_names_a_socket_left_open():
    kept: List[socket.socket] = []

    class Keeper(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            kept.append(self.request.dup())

    factory = ServerFactory()
    factory.serve(Keeper, "tcp-sync").connect().expect_closed()
    errors, leaks = factory.close()
    kept[0].close()
    assert errors == []
    (leak,) = leaks
    assert leak.startswith("socket left open: fd "), leaks
    assert "a connection from ('127.0.0.1', " in leak, leaks


def test_stuck_forked_child_is_killed_and_reported():
    class Sleeper(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"forked\n")
            threading.Event().wait(30)

    handle = ServerHandle(Sleeper, "tcp-forking", teardown_timeout=0.2)
    handle.connect().expect_line("forked")
    errors, leaks = handle.close()
    assert errors == []
    assert len(leaks) == 1, leaks
    assert "still running 0.2 s after shutdown" in leaks[0]
    assert "(killed)" in leaks[0]


def test_close_twice_and_connect_after_close():
    handle = ServerHandle(Upper)
    assert handle.close() == ([], [])
    assert handle.close() == ([], [])
    with pytest.raises(ValueError, match=r"the server ThreadingTCPServer at .* is closed"):
        handle.connect()


_lazy_clients: List[socket.socket] = []


def _lazy_client(address: object) -> socket.socket:
    # A user's module-level client, made on first use and kept for later tests.
    if not _lazy_clients:
        _lazy_clients.append(socket.create_connection(address))  # type: ignore[arg-type]
    return _lazy_clients[0]


def test_leak_check_leaves_out_sockets_and_pipes_the_servers_do_not_own():
    factory = ServerFactory()
    server = factory.serve(Upper, "tcp-threading")
    client = _lazy_client(server.address[:2])
    client.sendall(b"kept\n")
    server.wait_for_requests(0)
    read_fd, write_fd = os.pipe()
    pair = socket.socketpair()
    try:
        errors, leaks = factory.close()
    finally:
        for sock in (client, *pair):
            sock.close()
        os.close(read_fd)
        os.close(write_fd)
        _lazy_clients.clear()
    assert (errors, leaks) == ([], [])


def test_leak_check_names_the_listening_socket_a_server_class_left_open():
    class NeverCloses(socketserver.TCPServer):
        def server_close(self) -> None:
            pass

    factory = ServerFactory()
    server = factory.serve(Upper, server_class=NeverCloses)
    errors, leaks = factory.close()
    server.server.socket.close()
    assert errors == []
    assert len(leaks) == 1, leaks
    assert leaks[0].startswith("socket left open: fd "), leaks
    assert f"opened by NeverCloses at {server.address!r}" in leaks[0], leaks

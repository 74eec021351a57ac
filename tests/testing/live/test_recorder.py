"""Records of forked children reach the test process at once, however many and however large."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from netserve_testing import ServerFactory


class Echo(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline())


class DatagramEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data, self.client_address)


def _record_readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("netserve records of ")]


@pytest.mark.parametrize("kind", ["tcp-forking", "unix_dgram-forking"])
def test_ServerHandle_forking_server_serves_many_requests_without_waits(kind):
    # Each forked child sends its record to the test process; with nobody reading
    # them until a wait or teardown, children blocked in send() and never exited, and
    # the server stopped at max_children. With the smallest send buffer and two
    # children at most, that lockup comes within a few requests: 40 show it is gone.
    factory = ServerFactory()
    try:
        server = factory.serve(
            Echo if kind.startswith("tcp") else DatagramEcho, kind, max_children=2
        )
        channel = server._recorder.channel[1]
        channel.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the kernel's minimum
        for i in range(40):
            client = server.connect()
            if server.is_stream:
                client.send_line(f"x{i}").expect_line(f"x{i}")
            else:
                client.send(f"x{i}".encode()).expect(f"x{i}".encode())
            client.close()
    finally:
        errors, leaks = factory.close()
    assert (errors, leaks) == ([], [])
    assert len(server.requests) == 40  # readable after close
    assert {record.pid for record in server.requests} == set(server._recorder.child_pids)
    assert _record_readers() == []


def test_ServerHandle_forked_child_sends_a_record_larger_than_a_datagram():
    big = "x" * 600_000

    class Big(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            raise ValueError(big)

    with ServerFactory() as factory:
        server = factory.serve(Big, "tcp-forking")
        server.connect().send_line("go").expect_closed()
        (record,) = server.wait_for_requests(1)
        assert record.error is not None
        assert record.error.message == big
        assert isinstance(record.error.exception, ValueError)
        server.errors.expect(ValueError)


def test_ServerHandle_record_reader_thread_is_joined_and_never_a_leak():
    with ServerFactory() as factory:
        server = factory.serve(Echo, "tcp-forking")
        assert len(_record_readers()) == 1
        server.connect().send_line("hi").expect_line("hi")
        server.wait_for_requests(1)
        errors, leaks = factory.close()
    assert (errors, leaks) == ([], [])
    assert _record_readers() == []


def test_ServerHandle_errors_of_forked_children_are_there_once_the_client_sees_the_end():
    # A child sends its record before it closes the connection: once the client
    # sees the end, server.errors (and the end of the test) must see the error.
    class Boom(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            raise ValueError(self.rfile.readline().decode().strip())

    with ServerFactory() as factory:
        server = factory.serve(Boom, "unix_stream-forking")
        for i in range(100):
            server.connect().send_line(f"boom {i}").expect_closed()
            assert len(server.errors) == i + 1
            assert len(server.requests) == i + 1
            assert len(factory.take_unhandled_errors()) == 1

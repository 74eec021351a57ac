"""run_handler and run_datagram_handler, with stdlib socketserver and netserve handlers alike."""

from __future__ import annotations

import importlib
import socket
import sys
from types import ModuleType
from typing import Any

import pytest

from netserve_testing import (
    ExpectationFailed,
    FakeServer,
    HandlerWouldBlock,
    Script,
    run_datagram_handler,
    run_handler,
)


@pytest.fixture(params=["socketserver", "netserve"])
def ss(request: pytest.FixtureRequest) -> ModuleType:
    """The handler base classes' module: the stdlib's socketserver or netserve."""
    return importlib.import_module(request.param)


# -- the socketserver documentation's example handlers --------------------------------------


def seed_tcp_handler(ss: ModuleType) -> Any:
    class MyTCPHandler(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.data = self.request.recv(1024).strip()
            self.request.sendall(self.data.upper())

    return MyTCPHandler


def seed_stream_handler(ss: ModuleType) -> Any:
    class MyTCPHandler(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.data = self.rfile.readline().strip()
            self.wfile.write(self.data.upper())

    return MyTCPHandler


def seed_udp_handler(ss: ModuleType) -> Any:
    class MyUDPHandler(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            data = self.request[0].strip()
            sock = self.request[1]
            sock.sendto(data.upper(), self.client_address)

    return MyUDPHandler


def seed_loop_handler(ss: ModuleType) -> Any:
    # From a tutorial: loops on recv() and stops only on ConnectionResetError.
    class MyTcpHandler(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            while True:
                try:
                    self.data = self.request.recv(1024).strip()
                    self.request.sendall(self.data.upper())
                except ConnectionResetError:
                    break

    return MyTcpHandler


def test_run_handler_seed_tcp_handler(ss: ModuleType) -> None:
    result = run_handler(seed_tcp_handler(ss), b"hello world\n")
    assert result.sent == b"HELLO WORLD"
    assert result.handler.data == b"hello world"
    assert result.closed_by == "server"
    assert result.socket.shutdowns == [socket.SHUT_WR]
    assert result.socket.closed


def test_run_handler_seed_tcp_handler_reads_only_the_first_chunk(ss: ModuleType) -> None:
    # One recv() returns what has arrived: a split request is a real bug of this handler.
    result = run_handler(seed_tcp_handler(ss), [b"hello ", b"world\n"])
    assert result.sent == b"HELLO"
    assert result.unread == b"world\n"


def test_run_handler_seed_stream_handler_any_chunking(ss: ModuleType) -> None:
    for chunking in (None, "bytewise", 3, "random"):
        result = run_handler(seed_stream_handler(ss), b"hello\nignored", chunking=chunking)
        assert result.sent == b"HELLO", chunking
        assert result.handler.data == b"hello"


def test_run_handler_seed_loop_handler_stops_on_reset(ss: ModuleType) -> None:
    # then="reset": the RST has arrived with the data. As on Linux TCP, reads still
    # get the queued data, but a write fails at once (ECONNRESET): no reply gets out.
    result = run_handler(seed_loop_handler(ss), [b"one", b"two"], then="reset")
    assert result.sends == []
    assert result.reset
    # In a script the reset comes when the handler reads again: both replies get through.
    script = Script().send(b"one").expect(b"ONE").send(b"two").expect(b"TWO").reset()
    assert script.run(seed_loop_handler(ss)).sends == [b"ONE", b"TWO"]


def test_run_handler_seed_loop_handler_would_spin_after_eof(ss: ModuleType) -> None:
    with pytest.raises(HandlerWouldBlock, match="would loop forever: it read EOF"):
        run_handler(seed_loop_handler(ss), b"one")


def test_run_datagram_handler_seed_udp_handler(ss: ModuleType) -> None:
    result = run_datagram_handler(seed_udp_handler(ss), b"hello\n")
    assert result.replies == [(b"HELLO", ("127.0.0.1", 50000))]
    assert result.reply == b"HELLO"
    assert result.server.socket is result.socket


def test_run_datagram_handler_unix(ss: ModuleType) -> None:
    result = run_datagram_handler(seed_udp_handler(ss), b"hi", family=socket.AF_UNIX)
    assert result.replies == [(b"HI", "/tmp/netserve-fake-client.sock")]
    with pytest.raises(TypeError, match="NoneType"):
        run_datagram_handler(
            seed_udp_handler(ss), b"hi", family=socket.AF_UNIX, client_address=None
        )


def test_run_datagram_handler_DatagramRequestHandler(ss: ModuleType) -> None:
    class Reverse(ss.DatagramRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.wfile.write(self.rfile.read()[::-1])

    result = run_datagram_handler(Reverse, b"abc", client_address=("10.1.1.1", 53))
    assert result.replies == [(b"cba", ("10.1.1.1", 53))]
    assert result.handler.packet == b"abc"


def test_run_datagram_handler_truncates_to_max_packet_size(ss: ModuleType) -> None:
    class Length(ss.DatagramRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.wfile.write(str(len(self.packet)).encode())

    result = run_datagram_handler(Length, b"x" * 10_000)
    assert result.truncated
    assert result.reply == b"8192"
    small = run_datagram_handler(Length, b"x" * 10, max_packet_size=4)
    assert small.reply == b"4"
    server = FakeServer(socket_type=socket.SOCK_DGRAM, max_packet_size=16)
    assert run_datagram_handler(Length, b"x" * 20, server=server).reply == b"16"


def test_DatagramRun_reply_requires_exactly_one(ss: ModuleType) -> None:
    class Silent(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            return None

    result = run_datagram_handler(Silent, b"ping")
    with pytest.raises(ExpectationFailed, match=r"expected one reply to \('127.0.0.1', 50000\)"):
        assert result.reply


# -- StreamRequestHandler variants ------------------------------------------------------------


def test_run_handler_stream_handler_buffered_wfile(ss: ModuleType) -> None:
    class Buffered(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        wbufsize = 1024
        disable_nagle_algorithm = True

        def handle(self) -> None:
            for line in self.rfile:
                self.wfile.write(line.upper())

    result = run_handler(Buffered, b"a\nb\nc\n", chunking="bytewise")
    assert result.sent == b"A\nB\nC\n"
    assert result.sends == [b"A\nB\nC\n"]  # one flush in finish()
    assert result.socket.sockopts[(socket.IPPROTO_TCP, socket.TCP_NODELAY)] == 1


def test_run_handler_stream_handler_unbuffered_rfile(ss: ModuleType) -> None:
    class Raw(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        rbufsize = 0

        def handle(self) -> None:
            self.wfile.write(self.rfile.read(4))
            self.wfile.write(self.rfile.read(100))

    result = run_handler(Raw, [b"ab", b"cdef"])
    assert result.sends == [b"ab", b"cdef"]  # a raw read returns one chunk


def test_run_handler_stream_handler_timeout_on_the_fake_clock(ss: ModuleType) -> None:
    class Patient(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        timeout = 30

        def handle(self) -> None:
            try:
                self.rfile.readline()
            except socket.timeout:
                self.wfile.write(b"idle timeout\n")

    result = run_handler(Patient, b"", then="quiet")
    assert result.sent == b"idle timeout\n"
    assert result.socket.timeouts == 1
    assert result.socket.gettimeout() == 30


def test_run_handler_quiet_client_without_timeout_would_block(ss: ModuleType) -> None:
    with pytest.raises(HandlerWouldBlock, match=r"would block forever: recv_into\(8192\)"):
        run_handler(seed_stream_handler(ss), b"no newline", then="quiet")


def test_run_handler_handler_that_closes_itself(ss: ModuleType) -> None:
    class Closer(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.sendall(b"bye")
            self.request.shutdown(socket.SHUT_RDWR)
            self.request.close()

    result = run_handler(Closer, b"")
    assert result.closed_by == "handler"
    assert result.socket.shutdowns == [socket.SHUT_RDWR]  # the server's shutdown met EBADF


def test_run_handler_server_attributes_and_calls(ss: ModuleType) -> None:
    class Admin(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            if self.rfile.readline().strip() == self.server.password:
                self.wfile.write(b"stopping\n")
                self.server.request_shutdown()

    server = FakeServer(password=b"secret")
    result = run_handler(Admin, b"secret\n", server=server)
    assert result.sent == b"stopping\n"
    assert server.shutdown_requested
    assert server.RequestHandlerClass is Admin
    assert result.server is server
    assert run_handler(Admin, b"nope\n", server=FakeServer(password=b"x")).sent == b""


def test_run_handler_addresses(ss: ModuleType) -> None:
    class Who(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.sendall(repr((self.client_address, self.request.getsockname())).encode())

    assert run_handler(Who).text == "(('127.0.0.1', 50000), ('127.0.0.1', 8000))"
    assert run_handler(Who, client_address=("10.0.0.9", 1234)).text.startswith(
        "(('10.0.0.9', 1234)"
    )
    assert run_handler(Who, family=socket.AF_INET6).text == (
        "(('::1', 50000, 0, 0), ('::1', 8000, 0, 0))"
    )
    assert run_handler(Who, family=socket.AF_UNIX).text == "('', '/tmp/netserve-fake.sock')"


def test_run_handler_error_propagates_with_transcript_note(ss: ModuleType) -> None:
    class Broken(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.wfile.write(b"220 ready\r\n")
            command = self.rfile.readline()
            raise ValueError(f"bad command {command!r}")

    with pytest.raises(ValueError, match="bad command") as info:
        run_handler(Broken, b"HELO x\r\n")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "<<< b'220 ready\\r\\n'" in notes
    assert ">>> b'HELO x\\r\\n'" in notes
    assert "--- handler's socket closed" in notes  # the server still closed the request


def test_run_handler_raise_errors_false_keeps_error_and_handler(ss: ModuleType) -> None:
    class Broken(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.seen = self.request.recv(10)
            raise KeyError("missing")

    result = run_handler(Broken, b"data", raise_errors=False)
    assert isinstance(result.error, KeyError)
    assert result.handler.seen == b"data"
    assert result.socket.closed


def test_run_handler_random_chunking_seed_is_reproducible(ss: ModuleType) -> None:
    class Recorder(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.reads = []
            while data := self.request.recv(100):
                self.reads.append(data)

    payload = [b"GET / HTTP/1.0\r\n", b"Host: x\r\n", b"\r\n"]
    first = run_handler(Recorder, payload, chunking="random", seed=1234).handler.reads
    again = run_handler(Recorder, payload, chunking="random", seed=1234).handler.reads
    assert first == again
    assert b"".join(first) == b"".join(payload)
    transcript = run_handler(Recorder, payload, chunking="random", seed=1234).transcript.format()
    assert "seed=1234; replay with chunking='random', seed=1234" in transcript


def test_run_handler_max_send_catches_ignored_send_result(ss: ModuleType) -> None:
    class Careless(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.send(b"a long reply")

    assert run_handler(Careless, max_send=4).sent == b"a lo"


def test_run_handler_factory_callable() -> None:
    built = []

    def factory(request: Any, client_address: Any, server: Any) -> str:
        built.append(client_address)
        request.sendall(b"made")
        return "handler"

    result = run_handler(factory)
    assert result.handler == "handler"
    assert result.sent == b"made"
    assert built == [("127.0.0.1", 50000)]


def test_run_handler_keyboard_interrupt_is_never_swallowed() -> None:
    import socketserver

    class Interrupted(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_handler(Interrupted, raise_errors=False)


def test_run_handler_then_argument_is_checked() -> None:
    import socketserver

    with pytest.raises(ValueError, match="then must be one of"):
        run_handler(socketserver.BaseRequestHandler, b"", then="later")


def test_HandlerRun_text_and_lines() -> None:
    import socketserver

    class Lines(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall("un\r\ndeux\nété\n".encode())

    result = run_handler(Lines)
    assert result.lines == ["un", "deux", "été"]
    assert result.text.endswith("été\n")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="add_note() is new in 3.11")
def test_run_handler_uses_add_note_on_311() -> None:
    import socketserver

    class Broken(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as info:
        run_handler(Broken, b"x")
    assert info.value.__notes__[0].startswith("conversation with the handler")


def test_run_handler_leaves_no_reference_cycles() -> None:
    # A run must be freed by reference counting alone: garbage cycles would make the
    # cycle collector run every few runs (it once cost a tenth of each run).
    import gc
    import socketserver
    import weakref

    class Chat(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                self.wfile.write(line.upper())

    script = Script().send_line("a").expect_line("A").close().expect_closed()
    gc.collect()
    gc.disable()
    try:
        for inbound in (b"a\n", script):
            result = run_handler(Chat, inbound)
            peer = result.socket.peer  # the peer is part of the run too
            refs = [weakref.ref(obj) for obj in (result.socket, result.handler, peer)]
            del result, peer
            assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()


def test_HandlerRun_closed_by_says_who_ended_the_connection_for_the_client(
    ss: ModuleType,
) -> None:
    def handler(*hows: int) -> Any:
        class ShutsDown(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
            def handle(self) -> None:
                for how in hows:
                    self.request.shutdown(how)

        return ShutsDown

    assert run_handler(handler(socket.SHUT_RD), b"").closed_by == "server"
    assert run_handler(handler(socket.SHUT_WR), b"").closed_by == "handler"
    assert run_handler(handler(socket.SHUT_RD, socket.SHUT_WR), b"").closed_by == "handler"


def test_HandlerRun_reset_is_the_client_reset_seen_or_not(ss: ModuleType) -> None:
    class Ignores(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.recv(3)

    unseen = run_handler(Ignores, b"abc", then="reset")
    assert unseen.reset
    assert unseen.error is None
    assert not run_handler(Ignores, b"abc").reset

"""The fakes at the kernel's edges: would-block that cannot be swallowed, flags, resets, select.

Each behaviour here was checked against real socketpair, TCP and Unix pairs on Linux
(the conformance checks run the same assertions on both).
"""

from __future__ import annotations

import errno
import select
import selectors
import socket
import socketserver

import pytest

from netserve_testing import (
    FakeDatagramSocket,
    FakeStreamSocket,
    HandlerWouldBlock,
    NetserveTestingBaseException,
    NetserveTestingError,
    Script,
    run_datagram_handler,
    run_handler,
)

# -- 1. HandlerWouldBlock cannot be swallowed ------------------------------------------------


class CatchesException(socketserver.StreamRequestHandler):
    # xmlrpc's do_POST does this: any Exception becomes an error response.
    def handle(self) -> None:
        try:
            self.rfile.read(10)
        except Exception:
            self.wfile.write(b"error\n")


class BareExcept(socketserver.StreamRequestHandler):
    # wsgiref's ServerHandler.run() does this.
    def handle(self) -> None:
        try:
            self.rfile.read(10)
        except:  # noqa: E722 - the habit under test
            self.wfile.write(b"error\n")


class CatchesEverything(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            self.request.recv(10)
        except BaseException:
            self.request.sendall(b"caught\n")


def test_HandlerWouldBlock_is_no_Exception_but_in_the_family() -> None:
    assert not issubclass(HandlerWouldBlock, Exception)
    assert issubclass(HandlerWouldBlock, NetserveTestingBaseException)
    assert issubclass(NetserveTestingError, NetserveTestingBaseException)
    assert not issubclass(HandlerWouldBlock, NetserveTestingError)


def test_run_handler_would_block_passes_through_except_Exception() -> None:
    with pytest.raises(HandlerWouldBlock, match=r"would block forever: recv_into"):
        run_handler(CatchesException, b"short", then="quiet")


def test_run_handler_would_block_passes_through_a_bare_except() -> None:
    # The bare except does catch it; the socket remembers, and run_handler reports it.
    with pytest.raises(HandlerWouldBlock, match="would block forever") as info:
        run_handler(BareExcept, b"short", then="quiet")
    assert "the handler caught this and went on" in "".join(getattr(info.value, "__notes__", []))


def test_run_handler_would_block_caught_as_BaseException_is_still_reported() -> None:
    for raise_errors in (True, False):
        with pytest.raises(HandlerWouldBlock):
            run_handler(CatchesEverything, then="quiet", raise_errors=raise_errors)


def test_run_handler_xmlrpc_handler_waiting_for_a_body_would_block() -> None:
    # Content-Length promises more than the client sends: a real server would hang in
    # rfile.read(); do_POST's `except Exception` used to turn it into a passing 500.
    from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, bind_and_activate=False)
    request = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<?xml"
    with pytest.raises(HandlerWouldBlock):
        run_handler(SimpleXMLRPCRequestHandler, request, then="quiet", server=server)
    assert server.socket.fileno() == -1


def test_run_datagram_handler_would_block_caught_is_still_reported() -> None:
    class ReadsAgain(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                self.request[1].recvfrom(10)
            except BaseException:
                self.caught = True

    with pytest.raises(HandlerWouldBlock, match="no datagram is queued"):
        run_datagram_handler(ReadsAgain, b"one")


# -- 2, 3. flags -----------------------------------------------------------------------------


def test_FakeStreamSocket_MSG_DONTWAIT_with_a_timeout_times_out() -> None:
    sock = FakeStreamSocket()
    sock.settimeout(0.01)
    with pytest.raises(socket.timeout):
        sock.recv(1, socket.MSG_DONTWAIT)
    assert sock.timeouts == 1
    sock.settimeout(None)
    with pytest.raises(BlockingIOError):
        sock.recv(1, socket.MSG_DONTWAIT)


def test_FakeDatagramSocket_MSG_DONTWAIT_with_a_timeout_times_out() -> None:
    sock = FakeDatagramSocket()
    sock.settimeout(0.01)
    with pytest.raises(socket.timeout):
        sock.recv(1, socket.MSG_DONTWAIT)


def test_FakeStreamSocket_short_MSG_WAITALL_without_timeout_would_block() -> None:
    sock = FakeStreamSocket(b"a")
    with pytest.raises(HandlerWouldBlock, match=r"MSG_WAITALL.*it has 1 of 2 bytes"):
        sock.recv(2, socket.MSG_WAITALL)


def test_FakeStreamSocket_MSG_WAITALL_short_with_timeout_eof_or_nonblocking() -> None:
    sock = FakeStreamSocket(b"a")
    sock.settimeout(5)
    assert sock.recv(2, socket.MSG_WAITALL) == b"a"
    sock = FakeStreamSocket(b"a")
    assert sock.recv(2, socket.MSG_WAITALL | socket.MSG_DONTWAIT) == b"a"
    sock = FakeStreamSocket(b"a", then="eof")
    assert sock.recv(2, socket.MSG_WAITALL) == b"a"


def test_run_handler_MSG_WAITALL_in_lockstep_gets_the_rest() -> None:
    class Header(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(self.request.recv(4, socket.MSG_WAITALL))

    script = Script().send(b"ab").send(b"cd").expect(b"abcd")
    assert run_handler(Header, script, chunking=1).sent == b"abcd"


# -- 4-9. resets and closes --------------------------------------------------------------------


def test_FakeStreamSocket_tcp_reset_fails_the_next_write_at_once() -> None:
    sock = FakeStreamSocket(b"queued", then="reset")
    with pytest.raises(ConnectionResetError):
        sock.send(b"x")
    assert sock.recv(10) == b"queued"
    assert sock.recv(10) == b""
    with pytest.raises(BrokenPipeError):
        sock.send(b"x")


def test_FakeStreamSocket_unix_peer_reset_is_a_close() -> None:
    sock = FakeStreamSocket(b"hi", then="reset", family=socket.AF_UNIX)
    with pytest.raises(BrokenPipeError):
        sock.send(b"x")
    assert sock.recv(10) == b"hi"
    assert sock.recv(10) == b""
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    # Unread output turns the close into a reset for the reader.
    sock = FakeStreamSocket(family=socket.AF_UNIX)
    sock.sendall(b"never read")
    sock.peer.reset()
    with pytest.raises(BrokenPipeError):
        sock.send(b"x")
    with pytest.raises(ConnectionResetError):
        sock.recv(10)
    assert sock.recv(10) == b""


def test_FakeStreamSocket_unix_script_reset_after_reading_the_reply_is_a_close() -> None:
    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(10):
                self.request.sendall(data.upper())

    read_all = Script().send(b"a").expect(b"A").reset()
    assert run_handler(Echo, read_all, family=socket.AF_UNIX).error is None
    unread = Script().send(b"a").reset()
    with pytest.raises(ConnectionResetError):
        run_handler(Echo, unread, family=socket.AF_UNIX)


def test_FakeStreamSocket_SO_ERROR_reports_a_reset_once() -> None:
    sock = FakeStreamSocket(then="reset")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR, 4) == b"\0\0\0\0"
    assert sock.recv(10) == b""


def test_FakeStreamSocket_tcp_names_after_reset_are_ENOTCONN() -> None:
    sock = FakeStreamSocket(then="reset")
    for call in (sock.getpeername, lambda: sock.shutdown(socket.SHUT_WR)):
        with pytest.raises(OSError, match="not connected") as info:
            call()
        assert info.value.errno == errno.ENOTCONN


def test_run_handler_close_with_unread_data_resets_the_client() -> None:
    class OneLine(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(self.rfile.readline().upper())

    # Tests usually never see it: the reply got out, the handler passed. A TCP client
    # that had sent its EOF gets a clean close (FIN both ways, then nothing to reset).
    assert not run_handler(OneLine, [b"one\n", b"two\n"]).reset_sent
    tcp = run_handler(OneLine, [b"one\n", b"two\n"], then="quiet")
    assert tcp.reset_sent
    assert tcp.unread == b"two\n"
    assert "the client gets a reset" in tcp.transcript.format()
    # TCP: the server shut down writing first, so the client reads the reply and EOF;
    # its next send fails.
    assert tcp.socket.peer.recv(100) == b"ONE\n"
    assert tcp.socket.peer.recv(100) == b""
    with pytest.raises(BrokenPipeError):
        tcp.socket.peer.send(b"more\n")
    # Unix: the client reads the reply, then ConnectionResetError.
    unix = run_handler(OneLine, [b"one\n", b"two\n"], family=socket.AF_UNIX)
    assert unix.reset_sent
    assert unix.socket.peer.recv(100) == b"ONE\n"
    with pytest.raises(ConnectionResetError):
        unix.socket.peer.recv(100)
    # Everything read: a clean close.
    assert not run_handler(OneLine, b"one\n").reset_sent


def test_FakePeer_after_its_reset_is_closed() -> None:
    sock = FakeStreamSocket()
    sock.peer.reset()
    for call in (lambda: sock.peer.send(b"x"), lambda: sock.peer.recv(1), sock.peer.close):
        with pytest.raises(OSError, match="Bad file descriptor") as info:
            call()
        assert info.value.errno == errno.EBADF


def test_FakePeer_send_to_a_closed_socket() -> None:
    tcp = FakeStreamSocket()
    tcp.close()
    tcp.peer.send(b"dropped")  # TCP takes one send, and answers with a reset
    with pytest.raises(BrokenPipeError):
        tcp.peer.send(b"x")
    assert "dropped, answered with a reset" in tcp.transcript.format()
    unix = FakeStreamSocket(family=socket.AF_UNIX)
    unix.close()
    with pytest.raises(BrokenPipeError):
        unix.peer.send(b"x")


def test_FakeStreamSocket_settimeout_True_is_one_second() -> None:
    sock = FakeStreamSocket()
    sock.settimeout(True)
    assert sock.gettimeout() == 1.0


# -- 10. select, poll, selectors -------------------------------------------------------------


def test_FakeStreamSocket_select_poll_selectors_raise_NotImplementedError() -> None:
    sock = FakeStreamSocket(b"x")
    with pytest.raises(NotImplementedError, match=r"FakeStreamSocket does not model fileno"):
        select.select([sock], [], [], 0)
    with pytest.raises(NotImplementedError, match="select"):
        select.poll().register(sock, select.POLLIN)
    with selectors.DefaultSelector() as selector, pytest.raises(NotImplementedError):
        selector.register(sock, selectors.EVENT_READ)
    sock.close()
    assert sock.fileno() == -1


def test_FakeStreamSocket_makefile_repr_needs_no_descriptor() -> None:
    sock = FakeStreamSocket()
    with sock.makefile("rb") as rfile, sock.makefile("w") as wfile:
        assert "fake socket" in repr(rfile)
        assert "fake socket" in repr(wfile)


def test_run_handler_select_in_a_handler_names_the_call() -> None:
    class Idle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            ready, _, _ = select.select([self.request], [], [], 5)
            if ready:
                self.request.sendall(self.request.recv(10))

    with pytest.raises(NotImplementedError, match=r"select\(\), poll\(\) and selectors") as info:
        run_handler(Idle, b"hi")
    assert "transcript" in "".join(getattr(info.value, "__notes__", []))


def test_FakeDatagramSocket_fileno_is_not_modelled() -> None:
    sock = FakeDatagramSocket()
    with pytest.raises(NotImplementedError, match="fileno"):
        sock.fileno()
    sock.close()
    assert sock.fileno() == -1

"""socketserver's private names that real code touches, with the same meaning in netserve.

``_threads``, ``_Threads``, ``_NoThreads``, ``_ServerSelector``, ``_SocketWriter``,
``_BaseServer__shutdown_request`` and ``_BaseServer__is_shut_down``, and a server whose
``__init__`` was replaced or skipped (as some test suites do) that can still
``shutdown()`` and ``server_close()``.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any

import pytest

import netserve

from ._support import TIMEOUT, call_with_timeout, connect, serving, start_serving, stream_exchange


class Quick(netserve.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())


def test_ThreadingMixIn__threads_reaps_finished_threads() -> None:
    # CPython's test_threads_reaped: ten sequential requests do not keep ten threads.
    class Server(netserve.ThreadingMixIn, netserve.TCPServer):
        pass

    with Server(("127.0.0.1", 0), netserve.StreamRequestHandler) as server:
        assert len(server._threads) == 0
        assert isinstance(server._threads, netserve._NoThreads)
        for _ in range(10):
            with socket.create_connection(server.server_address, timeout=TIMEOUT):
                server.handle_request()
        assert isinstance(server._threads, netserve._Threads)
        assert len(server._threads) < 10
        assert all(isinstance(thread, threading.Thread) for thread in server._threads)
    assert len(server._threads) == 0  # server_close() joined and emptied it


def test_ThreadingMixIn__threads_stays_NoThreads_without_block_on_close() -> None:
    class Server(netserve.ThreadingMixIn, netserve.TCPServer):
        block_on_close = False

    with Server(("127.0.0.1", 0), Quick) as server, serving(server):
        assert stream_exchange(server, b"hi\n") == b"HI\n"
        assert "_threads" not in vars(server)
        assert len(server._threads) == 0


def test_Threads_append_ignores_daemons_and_forgets_finished_threads() -> None:
    threads = netserve._Threads()
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    release = threading.Event()
    running = threading.Thread(target=release.wait, args=(TIMEOUT,))
    running.start()
    try:
        threads.append(done)
        threads.append(running)  # reaps `done`, which has finished
        assert threads == [running]
        threads.append(threading.Thread(target=lambda: None, daemon=True))
        assert threads == [running]
    finally:
        release.set()
    threads.join()
    assert threads == []
    assert not running.is_alive()
    assert threads.pop_all() == []


def test_a_mixin_may_set__threads_to_NoThreads_in_its_class_body() -> None:
    # Public mix-ins written for socketserver do this: it must not fail at import.
    class NoJoin(netserve.ThreadingMixIn, netserve.TCPServer):
        _threads = netserve._NoThreads()

    with NoJoin(("127.0.0.1", 0), Quick) as server:
        with connect(server) as client:
            client.sendall(b"a\n")
            server.handle_request()
            assert client.recv(16) == b"A\n"
        NoJoin._threads.join()


def test__ServerSelector_is_a_selector_class_and_a_patch_takes_effect() -> None:
    assert issubclass(netserve._ServerSelector, selectors.BaseSelector)
    made: list[selectors.BaseSelector] = []

    class Recording(selectors.SelectSelector):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    original = netserve._ServerSelector
    netserve._ServerSelector = Recording  # type: ignore[misc]  # as eventlet users do
    try:
        with netserve.TCPServer(("127.0.0.1", 0), Quick) as server, serving(server):
            assert stream_exchange(server, b"x\n") == b"X\n"
    finally:
        netserve._ServerSelector = original  # type: ignore[misc]
    assert made, "serve_forever() did not use the patched _ServerSelector"


def test__SocketWriter_sends_everything_and_is_what_wbufsize_0_gives() -> None:
    left, right = socket.socketpair()
    with left, right:
        writer = netserve._SocketWriter(left)
        assert writer.writable()
        assert writer.write(memoryview(b"abc")) == 3
        assert writer.fileno() == left.fileno()
        assert right.recv(16) == b"abc"

    class Check(netserve.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(type(self.wfile).__name__.encode())

    with netserve.TCPServer(("127.0.0.1", 0), Check) as server, connect(server) as client:
        server.handle_request()
        assert client.recv(64) == b"_SocketWriter"


def test_setting__BaseServer__shutdown_request_in_a_handler_stops_serve_forever() -> None:
    class Stop(netserve.BaseRequestHandler):
        def handle(self) -> None:
            self.server._BaseServer__shutdown_request = True

    with netserve.TCPServer(("127.0.0.1", 0), Stop) as server:
        connect(server).close()
        call_with_timeout(lambda: server.serve_forever(poll_interval=3600))
        assert server._BaseServer__shutdown_request is False  # reset, as socketserver does
        assert server._BaseServer__is_shut_down.is_set()


def test_setting__BaseServer__shutdown_request_from_another_thread_wakes_the_loop() -> None:
    # socketserver notices within poll_interval; with an hour-long poll_interval, the
    # loop returning proves it was woken at once.
    with netserve.TCPServer(("127.0.0.1", 0), Quick) as server:
        thread = start_serving(server, poll_interval=3600)
        assert stream_exchange(server, b"x\n") == b"X\n"  # the loop is running
        assert not server._BaseServer__is_shut_down.is_set()
        server._BaseServer__shutdown_request = True
        thread.join(TIMEOUT)
        assert not thread.is_alive()


def test_a_server_whose_init_was_skipped_can_shutdown_and_close() -> None:
    # The minimal form of what some test suites do: __init__ patched away, the two private
    # attributes set on the class, then shutdown() and server_close().
    class Server(netserve.ThreadingMixIn, netserve.TCPServer):
        def __init__(self, *args: Any) -> None:
            pass

    server = Server()
    call_with_timeout(server.shutdown)
    server.socket = socket.socket()
    server.server_close()
    assert server.socket.fileno() == -1

    class Patched(netserve.ThreadingMixIn, netserve.TCPServer):
        def __init__(self, *args: Any) -> None:
            pass

    waited = threading.Event()

    class Done:
        def wait(self, timeout: Any = None) -> bool:
            waited.set()
            return True

    Patched._BaseServer__is_shut_down = Done()  # type: ignore[attr-defined]
    Patched._BaseServer__shutdown_request = True  # type: ignore[attr-defined]
    patched = Patched()
    call_with_timeout(patched.shutdown)
    assert waited.is_set()


@pytest.mark.parametrize(
    "base",
    [netserve.TCPServer, netserve.UDPServer, netserve.UnixStreamServer],
    ids=["TCPServer", "UDPServer", "UnixStreamServer"],
)
def test_a_server_whose_init_was_skipped_can_server_close_without_a_socket(base: type) -> None:
    # No socket was ever made: server_close() has nothing to close, and says nothing.
    class Server(netserve.ThreadingMixIn, base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            pass

    server = Server()
    call_with_timeout(server.shutdown)
    server.server_close()
    server.server_close()  # twice, as a with block after an explicit close does
    assert not hasattr(server, "socket")


def test_a_server_whose_init_was_skipped_can_serve_after_setting_up_by_hand() -> None:
    class Server(netserve.TCPServer):
        def __init__(self, *args: Any) -> None:
            pass

    server = Server()
    server.RequestHandlerClass = Quick
    server.socket = socket.socket()
    server.socket.bind(("127.0.0.1", 0))
    server.socket.listen()
    server.server_address = server.socket.getsockname()
    with server, serving(server, poll_interval=3600):
        assert stream_exchange(server, b"ok\n") == b"OK\n"


@pytest.mark.parametrize("name", ["_ServerSelector", "_SocketWriter", "_Threads", "_NoThreads"])
def test_private_names_stay_out_of___all__(name: str) -> None:
    assert hasattr(netserve, name)
    assert name not in netserve.__all__

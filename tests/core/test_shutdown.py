"""Shutting down: shutdown() at once whatever poll_interval, no deadlock, request_shutdown()."""

from __future__ import annotations

import queue
import re
import signal
import threading
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    DatagramEchoUpperHandler,
    EchoUpperHandler,
    call_with_timeout,
    connect,
    exchange,
    recv_until_eof,
    start_serving,
    stop_serving,
)

#: How long a "prompt" shutdown may take before the test gives up; the stdlib needs an hour.
PROMPT = 5.0

SERVER_CLASSES = [
    "TCPServer",
    "UDPServer",
    "UnixStreamServer",
    "UnixDatagramServer",
    "ThreadingTCPServer",
    "ThreadingUDPServer",
    "ThreadPoolTCPServer",
    "ThreadPoolUnixDatagramServer",
]


def make_server(class_name: str, unix_dir: str) -> Any:
    handler = (
        DatagramEchoUpperHandler
        if "Datagram" in class_name or "UDP" in class_name
        else (EchoUpperHandler)
    )
    address = f"{unix_dir}/server.sock" if "Unix" in class_name else ("127.0.0.1", 0)
    return getattr(netserve, class_name)(address, handler)


def shutdown_in_thread(server: Any) -> threading.Event:
    """Call ``server.shutdown()`` in a thread; the returned event is set once it returns."""
    done = threading.Event()

    def run() -> None:
        server.shutdown()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


@pytest.mark.parametrize("class_name", SERVER_CLASSES)
def test_shutdown_returns_promptly_whatever_poll_interval(class_name: str, unix_dir: str) -> None:
    server = make_server(class_name, unix_dir)
    with server:
        thread = start_serving(server, poll_interval=3600)
        assert exchange(server, b"serving\n", unix_dir) == b"SERVING"
        done = shutdown_in_thread(server)
        assert done.wait(PROMPT), "shutdown() waited for poll_interval"
        thread.join(PROMPT)
        assert not thread.is_alive()


def test_shutdown_right_after_starting_serve_forever_returns_promptly() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        thread = start_serving(server, poll_interval=3600)
        assert shutdown_in_thread(server).wait(PROMPT)
        thread.join(PROMPT)
        assert not thread.is_alive()


def test_shutdown_issued_before_serve_forever_still_stops_it() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        done = shutdown_in_thread(server)
        call_with_timeout(lambda: server.serve_forever(poll_interval=3600), PROMPT)
        assert done.wait(PROMPT)


def test_request_shutdown_before_serve_forever_makes_it_return_at_once() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        server.request_shutdown()
        call_with_timeout(lambda: server.serve_forever(poll_interval=3600), PROMPT)


def test_serve_forever_can_run_again_after_shutdown() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        for word in (b"first", b"second"):
            thread = start_serving(server, poll_interval=3600)
            assert exchange(server, word + b"\n") == word.upper()
            assert shutdown_in_thread(server).wait(PROMPT)
            thread.join(PROMPT)
            assert not thread.is_alive()


def test_shutdown_waits_for_the_request_in_progress() -> None:
    started = threading.Event()
    release = threading.Event()

    class Slow(netserve.BaseRequestHandler):
        def handle(self) -> None:
            started.set()
            release.wait(TIMEOUT)
            self.request.sendall(b"finished")

    with netserve.TCPServer(("127.0.0.1", 0), Slow) as server:
        thread = start_serving(server)
        with connect(server) as client:
            assert started.wait(TIMEOUT)
            done = shutdown_in_thread(server)
            assert not done.wait(0.2), "shutdown() returned while serve_forever() was busy"
            release.set()
            assert done.wait(TIMEOUT)
            assert recv_until_eof(client) == b"finished"
        thread.join(TIMEOUT)
        assert not thread.is_alive()


def test_shutdown_from_many_threads_at_once() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        thread = start_serving(server, poll_interval=3600)
        assert exchange(server, b"x\n") == b"X"
        dones = [shutdown_in_thread(server) for _ in range(5)]
        assert all(done.wait(PROMPT) for done in dones)
        thread.join(PROMPT)
        assert not thread.is_alive()


def test_shutdown_from_the_serving_thread_raises_ShutdownDeadlockError() -> None:
    raised: queue.Queue[BaseException] = queue.Queue()

    class Stopper(netserve.BaseRequestHandler):
        def handle(self) -> None:
            try:
                self.server.shutdown()
            except BaseException as exc:
                raised.put(exc)
            self.server.request_shutdown()
            self.request.sendall(b"stopping")

    with netserve.TCPServer(("127.0.0.1", 0), Stopper) as server:
        thread = start_serving(server, poll_interval=3600)
        with connect(server) as client:
            assert recv_until_eof(client) == b"stopping"
        error = raised.get(timeout=TIMEOUT)
        thread.join(PROMPT)
        assert not thread.is_alive(), "request_shutdown() from a handler did not stop the server"
    assert isinstance(error, netserve.ShutdownDeadlockError)
    assert isinstance(error, RuntimeError)
    assert re.search("serve_forever|deadlock", str(error)), str(error)


def test_shutdown_from_service_actions_raises_ShutdownDeadlockError() -> None:
    raised: queue.Queue[BaseException] = queue.Queue()

    class Server(netserve.TCPServer):
        def service_actions(self) -> None:
            try:
                self.shutdown()
            except BaseException as exc:
                raised.put(exc)
            self.request_shutdown()

    with Server(("127.0.0.1", 0), EchoUpperHandler) as server:
        call_with_timeout(lambda: server.serve_forever(poll_interval=0.01))
    assert isinstance(raised.get(timeout=TIMEOUT), netserve.ShutdownDeadlockError)


def test_request_shutdown_from_a_handler_stops_the_server() -> None:
    served: list[bytes] = []

    class StopAfterThis(netserve.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            served.append(line)
            self.server.request_shutdown()
            self.wfile.write(line.upper())

    with netserve.TCPServer(("127.0.0.1", 0), StopAfterThis) as server:
        thread = start_serving(server, poll_interval=3600)
        assert exchange(server, b"last\n") == b"LAST\n"
        thread.join(PROMPT)
        assert not thread.is_alive()
    assert served == [b"last\n"]


def test_request_shutdown_returns_at_once_and_stops_serve_forever() -> None:
    with netserve.ThreadingTCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        thread = start_serving(server, poll_interval=3600)
        assert exchange(server, b"x\n") == b"X"
        call_with_timeout(server.request_shutdown, PROMPT)
        thread.join(PROMPT)
        assert not thread.is_alive()


def test_request_shutdown_twice_is_consumed_by_one_serve_forever() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        # Both requests precede serve_forever(), so exactly one run consumes them; a request
        # made while a run is ending may instead stop the next run, as in socketserver.
        server.request_shutdown()
        server.request_shutdown()
        call_with_timeout(lambda: server.serve_forever(poll_interval=3600), PROMPT)
        thread = start_serving(server, poll_interval=3600)
        assert exchange(server, b"again\n") == b"AGAIN"
        stop_serving(server, thread)


def test_serve_forever_twice_at_once_is_a_RuntimeError() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        thread = start_serving(server, poll_interval=3600)
        try:
            assert exchange(server, b"first\n") == b"FIRST"
            with pytest.raises(RuntimeError, match="already running"):
                server.serve_forever()
            assert exchange(server, b"still serving\n") == b"STILL SERVING"
        finally:
            stop_serving(server, thread)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
def test_request_shutdown_from_a_signal_handler_stops_serve_forever() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    main_thread = threading.get_ident()
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:

        def on_signal(signum: int, frame: Any) -> None:
            server.request_shutdown()

        returned = threading.Event()
        forced: list[bool] = []

        def client() -> None:
            # Prove the loop is serving, then interrupt it with the signal.
            assert exchange(server, b"ping\n") == b"PING"
            signal.pthread_kill(main_thread, signal.SIGUSR1)
            if not returned.wait(TIMEOUT):  # keep a broken server from hanging the run
                forced.append(True)
                server.request_shutdown()

        previous = signal.signal(signal.SIGUSR1, on_signal)
        try:
            thread = threading.Thread(target=client, daemon=True)
            thread.start()
            server.serve_forever(poll_interval=3600)  # returns once the signal is handled
            returned.set()
            thread.join(TIMEOUT)
        finally:
            signal.signal(signal.SIGUSR1, previous)
        assert forced == [], "serve_forever() ignored request_shutdown() from a signal handler"

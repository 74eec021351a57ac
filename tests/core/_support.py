"""Helpers shared by the core tests: serving in a thread, loopback clients, bounded waits.

Every wait in the core suite is bounded by :data:`TIMEOUT`, so a broken server fails a test
instead of hanging the run. Nothing here sleeps: callers wait on events, queues and sockets.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
from typing import Any, Callable, Iterator, TypeVar

import netserve

#: Upper bound, in seconds, for every wait in the suite (never a measured duration).
TIMEOUT = 10.0

T = TypeVar("T")


def call_with_timeout(func: Callable[[], T], timeout: float = TIMEOUT) -> T:
    """Run ``func`` in a daemon thread; return its result or fail if it does not return in time."""
    results: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def run() -> None:
        try:
            results.put((True, func()))
        except BaseException as exc:
            results.put((False, exc))

    threading.Thread(target=run, daemon=True, name=f"call-{func!r}").start()
    try:
        ok, value = results.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"{func!r} did not return within {timeout} s") from None
    if not ok:
        raise value
    result: T = value
    return result


def start_serving(server: netserve.BaseServer, poll_interval: float = 0.5) -> threading.Thread:
    """Start ``server.serve_forever(poll_interval)`` in a daemon thread and return the thread."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        daemon=True,
        name="serve_forever",
    )
    thread.start()
    return thread


def stop_serving(server: netserve.BaseServer, thread: threading.Thread) -> None:
    """Shut ``server`` down (bounded), join its serving thread and close it."""
    try:
        call_with_timeout(server.shutdown)
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "serve_forever() did not return after shutdown()"
    finally:
        server.server_close()


@contextlib.contextmanager
def serving(server: netserve.BaseServer, poll_interval: float = 0.5) -> Iterator[threading.Thread]:
    """Serve ``server`` in a thread for the ``with`` block; shut down and close it afterwards."""
    thread = start_serving(server, poll_interval)
    try:
        yield thread
    finally:
        stop_serving(server, thread)


def connect(server: netserve.TCPServer) -> socket.socket:
    """Return a stream socket connected to ``server`` (any family), with a bounded timeout."""
    sock = socket.socket(server.address_family, socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT)
        sock.connect(server.server_address)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_until_eof(sock: socket.socket) -> bytes:
    """Read from ``sock`` until the peer closes its side."""
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def stream_exchange(server: netserve.TCPServer, payload: bytes) -> bytes:
    """Connect, send ``payload``, half-close, and return everything the server sent back."""
    with connect(server) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recv_until_eof(sock)


def datagram_client(server: netserve.TCPServer, unix_dir: str | None = None) -> socket.socket:
    """Return a datagram socket able to talk to ``server`` and receive its replies.

    The client is bound first, so its address is known before it sends: an IP client to the
    server's host, a Unix client to a fresh path in ``unix_dir`` (removed with that directory).
    """
    sock = socket.socket(server.address_family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(TIMEOUT)
        if server.address_family == getattr(socket, "AF_UNIX", None):
            assert unix_dir is not None, "a unix datagram client needs a directory to bind in"
            sock.bind(_fresh_name(unix_dir))
        else:
            sock.bind((server.server_address[0], 0))
    except BaseException:
        sock.close()
        raise
    return sock


_client_counter = iter(range(1_000_000))


def _fresh_name(directory: str) -> str:
    # A path not used before in this process; the directory is private to one test.
    return os.path.join(directory, f"c{os.getpid()}-{next(_client_counter)}")


def datagram_exchange(
    server: netserve.TCPServer, payload: bytes, unix_dir: str | None = None
) -> bytes:
    """Send one datagram to ``server`` and return the one datagram it sends back."""
    with datagram_client(server, unix_dir) as sock:
        sock.sendto(payload, server.server_address)
        data, _ = sock.recvfrom(65536)
        return data


def exchange(server: netserve.TCPServer, payload: bytes, unix_dir: str | None = None) -> bytes:
    """Round-trip ``payload`` with ``server``, stream or datagram alike."""
    if server.socket_type == socket.SOCK_DGRAM:
        return datagram_exchange(server, payload, unix_dir)
    return stream_exchange(server, payload)


def child_env() -> dict[str, str]:
    """Environment for a child Python that must import this very ``netserve`` checkout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(netserve.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def have_ipv6() -> bool:
    """Return True if this host can bind a socket to ``::1``."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def open_fds() -> set[int]:
    """Return this process's open file descriptors (Linux ``/proc``)."""
    return {int(name) for name in os.listdir("/proc/self/fd")}


class EchoUpperHandler(netserve.StreamRequestHandler):
    """Upper-cases one line: the seeds' example stream handler."""

    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().strip().upper())


class DatagramEchoUpperHandler(netserve.DatagramRequestHandler):
    """Upper-cases one datagram through ``rfile``/``wfile``."""

    def handle(self) -> None:
        self.wfile.write(self.rfile.read().strip().upper())


class Held(netserve.BaseRequestHandler):
    """Signals ``server.started``, then holds the request until ``server.release`` is set."""

    def handle(self) -> None:
        server: Any = self.server
        server.handler_thread = threading.current_thread()
        server.started.set()
        server.release.wait(TIMEOUT)
        server.events.append("handler done")


def held_server(server_class: Any, **attributes: Any) -> Any:
    server_class = type("Server", (server_class,), attributes)
    server = server_class(("127.0.0.1", 0), Held)
    server.started = threading.Event()
    server.release = threading.Event()
    server.events = []
    return server


def close_in_thread(server: Any) -> threading.Event:
    """Call ``server.server_close()`` in a thread; the returned event is set once it returns."""
    closed = threading.Event()

    def close() -> None:
        server.server_close()
        server.events.append("closed")
        closed.set()

    threading.Thread(target=close, daemon=True).start()
    return closed


def assert_server_close_waits_for_the_handler(server: Any) -> None:
    thread = start_serving(server)
    with connect(server):
        assert server.started.wait(TIMEOUT)
        call_with_timeout(server.shutdown)
        thread.join(TIMEOUT)
        closed = close_in_thread(server)
        assert not closed.wait(0.2), "server_close() returned while a handler was running"
        server.release.set()
        assert closed.wait(TIMEOUT)
    assert server.events == ["handler done", "closed"]


def assert_server_close_does_not_wait(server: Any) -> None:
    thread = start_serving(server)
    try:
        with connect(server):
            assert server.started.wait(TIMEOUT)
            call_with_timeout(server.shutdown)
            thread.join(TIMEOUT)
            closed = close_in_thread(server)
            assert closed.wait(TIMEOUT), "server_close() waited for a running handler"
            assert server.events == ["closed"]
    finally:
        server.release.set()
        server.handler_thread.join(TIMEOUT)
    assert server.events == ["closed", "handler done"]


class Rendezvous(netserve.BaseRequestHandler):
    """Replies only once two handlers are running at once (``server.barrier`` of 2)."""

    def handle(self) -> None:
        server: Any = self.server
        server.threads.put(threading.current_thread())
        server.barrier.wait(TIMEOUT)
        if isinstance(self.request, tuple):
            data, sock = self.request
            sock.sendto(data.upper(), self.client_address)
        else:
            self.request.sendall(self.request.recv(1024).upper())


def address_for(class_name: str, unix_dir: str) -> Any:
    """A fresh address for the netserve class named ``class_name``: Unix path or port 0."""
    return f"{unix_dir}/server.sock" if "Unix" in class_name else ("127.0.0.1", 0)


def assert_serves_two_requests_at_once(class_name: str, unix_dir: str) -> None:
    """Two requests to a ``class_name`` server run at once, in two threads, neither the loop's."""
    server: Any = getattr(netserve, class_name)(address_for(class_name, unix_dir), Rendezvous)
    server.barrier = threading.Barrier(2)
    server.threads = queue.Queue()
    with serving(server) as serve_thread:
        if server.socket_type == socket.SOCK_STREAM:
            with connect(server) as first, connect(server) as second:
                first.sendall(b"one")
                second.sendall(b"two")
                assert first.recv(1024) == b"ONE"
                assert second.recv(1024) == b"TWO"
        else:
            first = datagram_client(server, unix_dir)
            second = datagram_client(server, unix_dir)
            with first, second:
                first.sendto(b"one", server.server_address)
                second.sendto(b"two", server.server_address)
                assert first.recv(1024) == b"ONE"
                assert second.recv(1024) == b"TWO"
        handler_threads = {server.threads.get(timeout=TIMEOUT) for _ in range(2)}
        assert len(handler_threads) == 2
        assert serve_thread not in handler_threads

"""BaseRequestHandler, StreamRequestHandler and DatagramRequestHandler."""

from __future__ import annotations

import io
import queue
import signal
import socket
import sys
import threading
from typing import Any

import pytest

import netserve

from ._support import (
    TIMEOUT,
    connect,
    datagram_client,
    recv_until_eof,
    serving,
    stream_exchange,
)

BIG = 8 * 1024 * 1024


class ErrorRecordingTCPServer(netserve.TCPServer):
    """Puts the type of each exception handle_error sees on ``self.errors``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.errors: queue.Queue[Any] = queue.Queue()
        super().__init__(*args, **kwargs)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.put(sys.exc_info()[1])


def run_one(handler: Any, payload: bytes = b"") -> tuple[bytes, ErrorRecordingTCPServer]:
    """Serve one TCP request with ``handler`` and return (reply, server)."""
    server = ErrorRecordingTCPServer(("127.0.0.1", 0), handler)
    with server, connect(server) as client:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        server.handle_request()
        return recv_until_eof(client), server


def test_BaseRequestHandler_runs_setup_handle_finish_from_init() -> None:
    calls: list[Any] = []

    class Handler(netserve.BaseRequestHandler):
        def setup(self) -> None:
            calls.append(("setup", self.request, self.client_address, self.server))

        def handle(self) -> None:
            calls.append("handle")
            self.request.sendall(b"handled")

        def finish(self) -> None:
            calls.append("finish")

    with netserve.TCPServer(("127.0.0.1", 0), Handler) as server, connect(server) as client:
        server.handle_request()
        assert recv_until_eof(client) == b"handled"
        (name, request, client_address, seen_server), *rest = calls
        assert name == "setup"
        assert isinstance(request, socket.socket)
        assert client_address == client.getsockname()
        assert seen_server is server
        assert rest == ["handle", "finish"]


def test_BaseRequestHandler_defaults_do_nothing() -> None:
    reply, server = run_one(netserve.BaseRequestHandler, b"ignored")
    assert reply == b""
    assert server.errors.empty()


def test_BaseRequestHandler_finish_is_skipped_if_setup_raised() -> None:
    calls: list[str] = []

    class Handler(netserve.BaseRequestHandler):
        def setup(self) -> None:
            calls.append("setup")
            raise ValueError("setup failed")

        def handle(self) -> None:
            calls.append("handle")

        def finish(self) -> None:
            calls.append("finish")

    _, server = run_one(Handler)
    assert calls == ["setup"]
    assert isinstance(server.errors.get(timeout=TIMEOUT), ValueError)


def test_BaseRequestHandler_finish_runs_even_if_handle_raised() -> None:
    calls: list[str] = []

    class Handler(netserve.BaseRequestHandler):
        def handle(self) -> None:
            calls.append("handle")
            raise ValueError("handle failed")

        def finish(self) -> None:
            calls.append("finish")

    _, server = run_one(Handler)
    assert calls == ["handle", "finish"]
    assert isinstance(server.errors.get(timeout=TIMEOUT), ValueError)


def test_StreamRequestHandler_class_attributes() -> None:
    assert netserve.StreamRequestHandler.rbufsize == -1
    assert netserve.StreamRequestHandler.wbufsize == 0
    assert netserve.StreamRequestHandler.timeout is None
    assert netserve.StreamRequestHandler.disable_nagle_algorithm is False


def test_StreamRequestHandler_connection_rfile_wfile() -> None:
    seen: dict[str, Any] = {}

    class Handler(netserve.StreamRequestHandler):
        def handle(self) -> None:
            seen["connection"] = self.connection
            seen["request"] = self.request
            seen["rfile"] = self.rfile
            seen["wfile"] = self.wfile
            line = self.rfile.readline()
            rest = self.rfile.read()
            self.wfile.write(line.upper() + rest[::-1])

    reply, _ = run_one(Handler, b"first line\nabc")
    assert reply == b"FIRST LINE\ncba"
    assert seen["connection"] is seen["request"]
    assert isinstance(seen["rfile"], io.BufferedReader)
    assert isinstance(seen["wfile"], io.BufferedIOBase)
    assert seen["rfile"].closed
    assert seen["wfile"].closed


def test_StreamRequestHandler_rbufsize_zero_gives_an_unbuffered_rfile() -> None:
    seen: queue.Queue[Any] = queue.Queue()

    class Handler(netserve.StreamRequestHandler):
        rbufsize = 0

        def handle(self) -> None:
            seen.put(self.rfile)
            self.wfile.write(self.rfile.readline())

    reply, _ = run_one(Handler, b"raw\n")
    assert reply == b"raw\n"
    rfile = seen.get(timeout=TIMEOUT)
    assert isinstance(rfile, io.RawIOBase)


def test_StreamRequestHandler_buffered_wfile_is_flushed_in_finish() -> None:
    seen: queue.Queue[Any] = queue.Queue()

    class Handler(netserve.StreamRequestHandler):
        wbufsize = 65536

        def handle(self) -> None:
            seen.put(self.wfile)
            self.wfile.write(b"buffered ")
            self.wfile.write(b"reply")

    reply, _ = run_one(Handler)
    assert reply == b"buffered reply"
    assert isinstance(seen.get(timeout=TIMEOUT), io.BufferedWriter)


def test_StreamRequestHandler_timeout_raises_socket_timeout_to_handle_error() -> None:
    class Handler(netserve.StreamRequestHandler):
        timeout = 0.05

        def handle(self) -> None:
            self.rfile.readline()

    with ErrorRecordingTCPServer(("127.0.0.1", 0), Handler) as server, connect(server) as client:
        server.handle_request()  # the client stays silent
        error = server.errors.get(timeout=TIMEOUT)
        assert isinstance(error, socket.timeout)
        assert recv_until_eof(client) == b""


def test_StreamRequestHandler_timeout_sets_the_connection_timeout() -> None:
    seen: queue.Queue[Any] = queue.Queue()

    class Handler(netserve.StreamRequestHandler):
        timeout = 7.5

        def handle(self) -> None:
            seen.put(self.connection.gettimeout())

    run_one(Handler)
    assert seen.get(timeout=TIMEOUT) == 7.5


@pytest.mark.parametrize("disable", [False, True])
def test_StreamRequestHandler_disable_nagle_algorithm_sets_TCP_NODELAY(disable: bool) -> None:
    seen: queue.Queue[int] = queue.Queue()

    class Handler(netserve.StreamRequestHandler):
        disable_nagle_algorithm = disable

        def handle(self) -> None:
            seen.put(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    run_one(Handler)
    assert bool(seen.get(timeout=TIMEOUT)) is disable


class BigWriter(netserve.StreamRequestHandler):
    """Writes :data:`BIG` bytes through an unbuffered wfile and records write()'s result."""

    def handle(self) -> None:
        server: Any = self.server
        server.wfile_type = type(self.wfile)
        server.written = self.wfile.write(server.payload)


def big_server() -> Any:
    server: Any = netserve.TCPServer(("127.0.0.1", 0), BigWriter)
    server.payload = bytes(range(256)) * (BIG // 256)
    return server


def read_slowly(sock: socket.socket, size: int, on_first_chunk: Any = None) -> bytes:
    """Read ``size`` bytes in small pieces, so the sender has to block in between."""
    received = bytearray()
    while len(received) < size:
        chunk = sock.recv(4096)
        if not chunk:
            break
        if not received and on_first_chunk is not None:
            on_first_chunk()
        received += chunk
    return bytes(received)


def test_StreamRequestHandler_unbuffered_wfile_write_sends_everything() -> None:
    server = big_server()
    with server, connect(server) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        with serving(server):
            received = read_slowly(client, BIG)
            assert received == server.payload
        assert server.written == BIG
        assert issubclass(server.wfile_type, io.BufferedIOBase)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
def test_StreamRequestHandler_unbuffered_write_survives_a_signal() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    server = big_server()
    main_thread = threading.get_ident()
    interrupted = threading.Event()
    received: queue.Queue[bytes] = queue.Queue()

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()

    def reader(client: socket.socket) -> None:
        received.put(
            read_slowly(client, BIG, lambda: signal.pthread_kill(main_thread, signal.SIGUSR1))
        )

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        with server, connect(server) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            thread = threading.Thread(target=reader, args=(client,), daemon=True)
            thread.start()
            server.handle_request()  # the handler runs here, in the main thread
            assert received.get(timeout=TIMEOUT) == server.payload
            thread.join(TIMEOUT)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert interrupted.is_set()
    assert server.written == BIG


def test_DatagramRequestHandler_rfile_wfile_over_the_packet() -> None:
    seen: queue.Queue[Any] = queue.Queue()

    class Handler(netserve.DatagramRequestHandler):
        def handle(self) -> None:
            seen.put((self.packet, self.socket, self.rfile, self.wfile))
            first = self.rfile.readline()
            rest = self.rfile.read()
            self.wfile.write(first.upper())
            self.wfile.write(rest[::-1])

    server = netserve.UDPServer(("127.0.0.1", 0), Handler)
    with server, datagram_client(server) as client:
        client.sendto(b"line one\nxyz", server.server_address)
        server.handle_request()
        assert client.recv(65536) == b"LINE ONE\nzyx"
        packet, sock, rfile, wfile = seen.get(timeout=TIMEOUT)
        assert packet == b"line one\nxyz"
        assert sock is server.socket
        assert isinstance(rfile, io.BufferedIOBase)
        assert isinstance(wfile, io.BufferedIOBase)


def test_DatagramRequestHandler_sends_the_reply_in_finish() -> None:
    events: list[str] = []

    class Handler(netserve.DatagramRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"part one, ")
            self.wfile.write(b"part two")
            events.append("handle done")

        def finish(self) -> None:
            events.append("finish")
            super().finish()

    server = netserve.UDPServer(("127.0.0.1", 0), Handler)
    with server, datagram_client(server) as client:
        client.sendto(b"go", server.server_address)
        server.handle_request()
        assert client.recv(65536) == b"part one, part two"
    assert events == ["handle done", "finish"]


def test_DatagramRequestHandler_empty_reply_is_an_empty_datagram() -> None:
    class Handler(netserve.DatagramRequestHandler):
        def handle(self) -> None:
            self.rfile.read()

    server = netserve.UDPServer(("127.0.0.1", 0), Handler)
    with server, datagram_client(server) as client:
        client.sendto(b"go", server.server_address)
        server.handle_request()
        assert client.recvfrom(65536) == (b"", server.server_address)


def test_DatagramRequestHandler_over_unix_datagrams(unix_dir: str, unix_path: str) -> None:
    class Handler(netserve.DatagramRequestHandler):
        def handle(self) -> None:
            self.wfile.write(self.rfile.read().upper())

    server = netserve.UnixDatagramServer(unix_path, Handler)
    with server, datagram_client(server, unix_dir) as client:
        client.sendto(b"unix datagram", unix_path)
        server.handle_request()
        assert client.recv(65536) == b"UNIX DATAGRAM"


def test_StreamRequestHandler_over_unix_streams(unix_path: str) -> None:
    class Handler(netserve.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(self.rfile.readline().upper())

    server = netserve.UnixStreamServer(unix_path, Handler)
    with serving(server):
        assert stream_exchange(server, b"unix stream\n") == b"UNIX STREAM\n"

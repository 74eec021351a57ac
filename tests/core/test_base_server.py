"""BaseServer's documented template methods, exercised through a TCPServer on loopback."""

from __future__ import annotations

import queue
import socket
import sys
import threading
from typing import Any

import pytest

import netserve

from ._support import TIMEOUT, call_with_timeout, connect, recv_until_eof, serving


class RecordingHandler(netserve.BaseRequestHandler):
    """Records its steps in ``server.calls`` and answers ``ok``."""

    server: RecordingServer

    def setup(self) -> None:
        self.server.calls.append("setup")

    def handle(self) -> None:
        self.server.calls.append("handle")
        self.request.sendall(b"ok")

    def finish(self) -> None:
        self.server.calls.append("finish")


class RecordingServer(netserve.TCPServer):
    """A TCPServer that records every override point it goes through."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls: list[str] = []
        self.accept = True
        super().__init__(*args, **kwargs)

    def get_request(self) -> Any:
        self.calls.append("get_request")
        return super().get_request()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.calls.append("verify_request")
        return self.accept

    def process_request(self, request: Any, client_address: Any) -> None:
        self.calls.append("process_request")
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.calls.append("finish_request")
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.calls.append("shutdown_request")
        super().shutdown_request(request)

    def close_request(self, request: Any) -> None:
        self.calls.append("close_request")
        super().close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.calls.append(f"handle_error:{sys.exc_info()[0].__name__}")  # type: ignore[union-attr]

    def handle_timeout(self) -> None:
        self.calls.append("handle_timeout")


class Abort(BaseException):
    """A BaseException that is not an Exception, like KeyboardInterrupt."""


def test_BaseServer_stores_its_constructor_arguments() -> None:
    server = netserve.BaseServer(("127.0.0.1", 0), netserve.BaseRequestHandler)
    assert server.server_address == ("127.0.0.1", 0)
    assert server.RequestHandlerClass is netserve.BaseRequestHandler
    assert server.timeout is None
    server.server_close()


def test_BaseServer_verify_request_accepts_by_default() -> None:
    server = netserve.BaseServer(("127.0.0.1", 0), netserve.BaseRequestHandler)
    assert server.verify_request(object(), ("127.0.0.1", 1)) is True


def test_TCPServer_server_address_and_handler_class() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), RecordingHandler) as server:
        host, port = server.server_address
        assert host == "127.0.0.1"
        assert port != 0
        assert server.server_address == server.socket.getsockname()
        assert server.RequestHandlerClass is RecordingHandler


def test_BaseServer_fileno_is_the_listening_socket() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), RecordingHandler) as server:
        assert server.fileno() == server.socket.fileno()
        assert isinstance(server.fileno(), int)


def test_BaseServer_context_manager_returns_server_and_closes_it() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), RecordingHandler)
    with server as entered:
        assert entered is server
    assert server.socket.fileno() == -1


def test_BaseServer_handle_request_calls_the_override_points_in_order() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        with connect(server) as client:
            server.handle_request()
            assert recv_until_eof(client) == b"ok"
        assert server.calls == [
            "get_request",
            "verify_request",
            "process_request",
            "finish_request",
            "setup",
            "handle",
            "finish",
            "shutdown_request",
            "close_request",
        ]


def test_BaseServer_get_request_returns_the_connection_and_client_address() -> None:
    server = netserve.TCPServer(("127.0.0.1", 0), RecordingHandler)
    with server, connect(server) as client:
        request, client_address = server.get_request()
        with request:
            assert client_address == client.getsockname()
            assert request.getpeername() == client.getsockname()


def test_BaseServer_verify_request_false_refuses_but_still_shuts_the_request_down() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.accept = False
        with connect(server) as client:
            server.handle_request()
            assert recv_until_eof(client) == b""
        assert server.calls == [
            "get_request",
            "verify_request",
            "shutdown_request",
            "close_request",
        ]


def test_BaseServer_get_request_oserror_is_ignored() -> None:
    class FailingAccept(RecordingServer):
        def get_request(self) -> Any:
            self.calls.append("get_request")
            raise ConnectionAbortedError("aborted before accept")

    with FailingAccept(("127.0.0.1", 0), RecordingHandler) as server:
        with connect(server):
            server.handle_request()
        assert server.calls == ["get_request"]


def test_BaseServer_handle_error_is_called_for_an_exception() -> None:
    class Failing(netserve.BaseRequestHandler):
        def handle(self) -> None:
            raise ValueError("boom")

    with RecordingServer(("127.0.0.1", 0), Failing) as server:
        with connect(server) as client:
            server.handle_request()
            assert recv_until_eof(client) == b""
        assert "handle_error:ValueError" in server.calls
        assert server.calls[-2:] == ["shutdown_request", "close_request"]
        # The server keeps serving after the error.
        server.RequestHandlerClass = RecordingHandler
        with connect(server) as client:
            server.handle_request()
            assert recv_until_eof(client) == b"ok"


def test_BaseServer_handle_error_receives_request_and_client_address() -> None:
    seen: list[Any] = []

    class Failing(netserve.BaseRequestHandler):
        def handle(self) -> None:
            raise KeyError("missing")

    class Server(netserve.TCPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            seen.append((request, client_address, sys.exc_info()[0]))

    with Server(("127.0.0.1", 0), Failing) as server, connect(server) as client:
        server.handle_request()
        recv_until_eof(client)
        request, client_address, exc_type = seen[0]
        assert isinstance(request, socket.socket)
        assert client_address == client.getsockname()
        assert exc_type is KeyError


def test_BaseServer_base_exception_closes_the_request_and_propagates() -> None:
    class Aborting(netserve.BaseRequestHandler):
        def handle(self) -> None:
            raise Abort

    with RecordingServer(("127.0.0.1", 0), Aborting) as server:
        with connect(server) as client:
            with pytest.raises(Abort):
                server.handle_request()
            assert recv_until_eof(client) == b""
        assert not any(call.startswith("handle_error") for call in server.calls)
        assert "shutdown_request" in server.calls
        assert "close_request" in server.calls


def test_BaseServer_base_exception_propagates_out_of_serve_forever() -> None:
    class Aborting(netserve.BaseRequestHandler):
        def handle(self) -> None:
            raise Abort

    raised: queue.Queue[BaseException | None] = queue.Queue()

    def serve() -> None:
        try:
            server.serve_forever()
        except BaseException as exc:
            raised.put(exc)
        else:
            raised.put(None)

    with RecordingServer(("127.0.0.1", 0), Aborting) as server:
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with connect(server) as client:
            assert recv_until_eof(client) == b""
            assert isinstance(raised.get(timeout=TIMEOUT), Abort)
        thread.join(TIMEOUT)


def test_BaseServer_handle_request_times_out_with_the_timeout_attribute() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.timeout = 0.01
        call_with_timeout(server.handle_request)
        assert server.calls == ["handle_timeout"]


def test_BaseServer_handle_request_times_out_with_the_socket_timeout() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.socket.settimeout(0.01)
        call_with_timeout(server.handle_request)
        assert server.calls == ["handle_timeout"]


def test_BaseServer_handle_request_uses_the_shorter_of_both_timeouts() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.timeout = 3600
        server.socket.settimeout(0.01)
        call_with_timeout(server.handle_request)
        assert server.calls == ["handle_timeout"]


def test_BaseServer_handle_request_serves_a_waiting_client_without_timeout() -> None:
    with RecordingServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.timeout = 3600
        with connect(server) as client:
            call_with_timeout(server.handle_request)
            assert recv_until_eof(client) == b"ok"
        assert "handle_timeout" not in server.calls


def test_BaseServer_default_handle_timeout_does_nothing() -> None:
    with netserve.TCPServer(("127.0.0.1", 0), RecordingHandler) as server:
        server.timeout = 0.01
        call_with_timeout(server.handle_request)


def test_BaseServer_serve_forever_calls_service_actions_each_pass() -> None:
    passes = 0
    three_passes = threading.Event()

    class Server(netserve.TCPServer):
        def service_actions(self) -> None:
            nonlocal passes
            passes += 1
            if passes >= 3:
                three_passes.set()

    server = Server(("127.0.0.1", 0), RecordingHandler)
    with serving(server, poll_interval=0.01):
        assert three_passes.wait(TIMEOUT), "service_actions() was not called on each pass"


def test_BaseServer_serve_forever_calls_service_actions_after_a_request() -> None:
    after_request = threading.Event()

    class Server(RecordingServer):
        def service_actions(self) -> None:
            if "close_request" in self.calls:
                after_request.set()

    server = Server(("127.0.0.1", 0), RecordingHandler)
    with serving(server, poll_interval=3600):
        with connect(server) as client:
            assert recv_until_eof(client) == b"ok"
        assert after_request.wait(TIMEOUT)


def test_BaseServer_serve_forever_serves_many_requests() -> None:
    server = RecordingServer(("127.0.0.1", 0), RecordingHandler)
    with serving(server):
        for _ in range(5):
            with connect(server) as client:
                assert recv_until_eof(client) == b"ok"

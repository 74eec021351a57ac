"""run_handler(server=...) with real server classes: no socket bound, nothing leaked."""

from __future__ import annotations

import socket
import socketserver
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import pytest

import netserve
from netserve_testing import FakeServer, run_handler


class WhoAmI(BaseHTTPRequestHandler):
    # Reports what it sees of its server, as a page.
    def do_GET(self) -> None:
        body = (
            f"{self.server.server_name} {self.server.server_port} "
            f"{self.server.server_address!r} {self.request.getsockname()!r}"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


GET = b"GET / HTTP/1.0\r\nHost: example\r\n\r\n"


@pytest.mark.parametrize("server_class", [HTTPServer, ThreadingHTTPServer])
def test_run_handler_HTTPServer_class(server_class: Any) -> None:
    result = run_handler(WhoAmI, GET, server=server_class)
    assert result.sent.startswith(b"HTTP/1.0 200 OK\r\n")
    server = result.server
    assert isinstance(server, server_class)
    assert server.socket.fileno() == -1  # built unbound, closed at once
    assert server.server_port == 8000
    assert server.server_name == socket.getfqdn("127.0.0.1")
    body = result.sent.split(b"\r\n\r\n", 1)[1].decode()
    assert body == f"{server.server_name} 8000 ('127.0.0.1', 8000) ('127.0.0.1', 8000)"


def test_run_handler_HTTPServer_instance_built_unbound() -> None:
    server = HTTPServer(("127.0.0.1", 8080), WhoAmI, bind_and_activate=False)
    result = run_handler(WhoAmI, GET, server=server)
    assert result.server is server
    assert server.socket.fileno() == -1
    assert server.server_port == 8080
    assert result.sent.endswith(b"('127.0.0.1', 8080) ('127.0.0.1', 8080)")


def test_run_handler_leaves_a_bound_server_socket_alone() -> None:
    server = HTTPServer(("127.0.0.1", 0), WhoAmI)
    try:
        result = run_handler(WhoAmI, GET, server=server)
        assert result.sent.startswith(b"HTTP/1.0 200")
        assert server.socket.fileno() != -1
    finally:
        server.server_close()


def test_run_handler_SimpleXMLRPCServer_with_registered_functions() -> None:
    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, bind_and_activate=False)
    server.register_function(pow)
    server.register_function(lambda a, b: a + b, "add")
    body = xmlrpc.client.dumps((2, 10), "pow").encode()
    request = (
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    result = run_handler(SimpleXMLRPCRequestHandler, request, server=server)
    head, _, payload = result.sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert xmlrpc.client.loads(payload)[0] == (1024,)
    assert server.socket.fileno() == -1


def test_run_handler_SimpleXMLRPCServer_without_server_fails_loudly() -> None:
    # The old workaround: FakeServer lacks _marshaled_dispatch, and do_POST swallows the
    # AttributeError into an empty 500. Say so in the test that tries it.
    server = FakeServer(logRequests=False)
    body = xmlrpc.client.dumps((2, 10), "pow").encode()
    request = (
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
    ) + body
    result = run_handler(SimpleXMLRPCRequestHandler, request, server=server)
    assert result.sent.startswith(b"HTTP/1.0 500")
    assert "_marshaled_dispatch" in server.missing
    assert "handler asked its FakeServer for '_marshaled_dispatch'" in result.transcript.format()


def _hello_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']} {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


class QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_run_handler_WSGIServer_with_its_app() -> None:
    server = WSGIServer(("127.0.0.1", 8000), QuietWSGIRequestHandler, bind_and_activate=False)
    server.set_app(_hello_app)
    result = run_handler(QuietWSGIRequestHandler, b"GET /hi HTTP/1.0\r\n\r\n", server=server)
    head, _, body = result.sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert body == f"{socket.getfqdn('127.0.0.1')}:8000 /hi".encode()
    assert server.base_environ["SERVER_PORT"] == "8000"  # setup_environ() was done
    assert server.socket.fileno() == -1


@pytest.mark.parametrize(
    ("server_class", "family"),
    [
        (socketserver.TCPServer, socket.AF_INET),
        (socketserver.UnixStreamServer, socket.AF_UNIX),
        (netserve.TCPServer, socket.AF_INET),
        (netserve.ThreadingTCPServer, socket.AF_INET),
    ],
)
def test_run_handler_server_class_sets_the_family(server_class: Any, family: int) -> None:
    seen: List[Any] = []

    class Record(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            seen.append((self.request.family, self.server.server_address))
            seen.append((family, self.request.getsockname()))
            self.request.sendall(self.request.recv(10))

    result = run_handler(Record, b"ping", server=server_class)
    assert result.sent == b"ping"
    assert seen[0] == seen[1]
    assert result.server.socket.fileno() == -1


def test_run_handler_server_class_that_cannot_be_built_unbound() -> None:
    class Odd(socketserver.TCPServer):
        def __init__(self, port: int) -> None:
            raise AssertionError("never built")

    with pytest.raises(TypeError, match=r"server=Odd cannot be built as Odd\(server_address"):
        run_handler(socketserver.BaseRequestHandler, b"", server=Odd)

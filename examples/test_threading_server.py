"""Testing ``threading_server.py``: a handler that names the thread that handled the request.

Unit tests run the handler in memory with ``run_handler`` (in the test's own
thread); integration tests serve it with the example's own ``ThreadedTCPServer``,
and on every stream server kind, where the request records say which thread (or
forked child) handled each request.
"""

from __future__ import annotations

import threading

import pytest
from threading_server import ThreadedTCPRequestHandler, ThreadedTCPServer, client

from netserve_testing import Script, ServerFactory, ServerKind, run_handler

# -- unit tests: the handler in memory -----------------------------------------------------------


def test_ThreadedTCPRequestHandler_one_liner() -> None:
    # run_handler calls the handler in the calling thread, here the test's.
    result = run_handler(ThreadedTCPRequestHandler, b"Hello World 1")
    assert result.text == f"{threading.current_thread().name}: Hello World 1"


def test_ThreadedTCPRequestHandler_answers_the_first_chunk_only() -> None:
    # Like tcp_server.py, one recv(): a message split in two is answered in part.
    result = run_handler(ThreadedTCPRequestHandler, [b"Hello ", b"World"])
    assert result.text.endswith(": Hello ")
    assert result.unread == b"World"


def test_ThreadedTCPRequestHandler_rejects_non_ascii() -> None:
    # str(data, "ascii") raises on any other byte: the client gets no reply at all.
    with pytest.raises(UnicodeDecodeError, match="'ascii' codec can't decode byte 0xc3"):
        run_handler(ThreadedTCPRequestHandler, "Grüße".encode())


# -- integration tests ---------------------------------------------------------------------------


def test_ThreadedTCPServer_one_thread_per_request(netserve: ServerFactory) -> None:
    # The example's own server class, as the example runs it, with three clients.
    server = netserve.serve(ThreadedTCPRequestHandler, server_class=ThreadedTCPServer)
    for number in (1, 2, 3):
        conversation = server.connect().send(f"Hello World {number}".encode())
        # The request record names the thread that ran the handler: the reply must too.
        request = server.wait_for_requests(number)[-1]
        conversation.expect(f"{request.thread}: Hello World {number}".encode())
        conversation.expect_closed()
    threads = {request.thread for request in server.requests}
    assert len(threads) == 3
    assert threading.current_thread().name not in threads


def test_client_prints_the_reply(
    netserve: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example's client() function, against the example's server.
    server = netserve.serve(ThreadedTCPRequestHandler, server_class=ThreadedTCPServer)
    ip, port = server.address
    client(ip, port, "Hello World 1")
    (request,) = server.wait_for_requests(1)
    assert capsys.readouterr().out == f"Received: {request.thread}: Hello World 1\n"


@pytest.mark.netserve_kinds("stream")
def test_ThreadedTCPRequestHandler_served(netserve: ServerFactory, server_kind: ServerKind) -> None:
    # The handler uses no client address: it serves TCP and Unix stream sockets alike.
    server = netserve.serve(ThreadedTCPRequestHandler, server_kind)
    conversation = server.connect().send(b"Hello World")
    (request,) = server.wait_for_requests(1)
    conversation.expect(f"{request.thread}: Hello World".encode())
    conversation.expect_closed()


@pytest.mark.netserve_kinds("stream")
def test_ThreadedTCPRequestHandler_served_non_ascii_is_a_handler_error(
    netserve: ServerFactory, server_kind: ServerKind
) -> None:
    server = netserve.serve(ThreadedTCPRequestHandler, server_kind)
    Script().send("Grüße".encode()).expect_closed().run(server)
    server.wait_for_requests(1)
    # Unmarked, this error would fail the test at teardown with the handler's
    # traceback (from a thread or a forked child alike); expecting it marks it handled.
    error = server.errors.expect(UnicodeDecodeError, match="can't decode byte 0xc3")
    assert 'str(self.request.recv(1024), "ascii")' in error.traceback

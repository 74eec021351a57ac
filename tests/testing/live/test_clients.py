"""Scripted real-socket clients: verbs, matcher semantics, timeouts and transcripts."""

from __future__ import annotations

import os
import socket
import socketserver
from typing import Iterator, Tuple

import pytest

from netserve_testing import (
    DatagramClient,
    ExpectationFailed,
    ServerFactory,
    StreamClient,
    TCPClient,
    UDPClient,
    UnixDatagramClient,
    UnixStreamClient,
    connect,
)
from netserve_testing.script import Script


@pytest.fixture
def pair() -> Iterator[Tuple[StreamClient, socket.socket]]:
    """A StreamClient on one end of a socketpair; the raw peer on the other."""
    ours, peer = socket.socketpair()
    client = StreamClient(ours, "pair", timeout=0.2)
    yield client, peer
    client.disconnect()
    peer.close()


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


def test_StreamClient_expectations_consume_what_they_match(pair):
    client, peer = pair
    peer.sendall(b"HELLO\r\n250 ok go\nraw")
    assert client.expect_line("HELLO") == "HELLO"
    assert client.expect_regex(rb"^250 (\w+)").group(1) == b"ok"
    assert client.expect(b"ra") == b"ra"
    assert client.recv_exactly(1) == b"w"
    peer.sendall(b"a line\n")
    assert client.recv_line() == b"a line\n"
    peer.shutdown(socket.SHUT_WR)
    client.expect_closed()


def test_StreamClient_send_and_half_close(pair):
    client, peer = pair
    client.send(b"abc").send_line("de", newline="\r\n").close()
    received = b""
    while chunk := peer.recv(100):
        received += chunk
    assert received == b"abcde\r\n"
    peer.sendall(b"still readable\n")
    client.expect_line("still readable")


def test_StreamClient_mismatch_shows_transcript(pair):
    client, peer = pair
    client.send(b"PING\n")
    peer.sendall(b"PANG\n")
    with pytest.raises(ExpectationFailed) as failed:
        client.expect_line("PONG")
    message = str(failed.value)
    assert "expected b'PONG\\n', received b'PANG\\n'" in message
    assert ">>> b'PING\\n'" in message
    assert "<<< b'PANG\\n'" in message
    assert "!!! expected" in message


def test_StreamClient_timeout_fails_with_transcript(pair):
    client, peer = pair
    peer.sendall(b"part")
    with pytest.raises(
        ExpectationFailed, match=r"timed out after 0.2 s waiting for line 'partial'"
    ):
        client.expect_line("partial")
    assert "<<< b'part'" in client.transcript.format()


def test_StreamClient_recv_until_closed_returns_the_rest(pair):
    client, peer = pair
    peer.sendall(b"first\n")
    assert client.recv_line() == b"first\n"
    peer.sendall(b"Thread-7: no line ending")
    peer.shutdown(socket.SHUT_WR)
    assert client.recv_until_closed() == b"Thread-7: no line ending"
    assert client.recv_until_closed() == b""


def test_StreamClient_recv_until_closed_times_out_with_transcript(pair):
    client, peer = pair
    peer.sendall(b"open")
    with pytest.raises(
        ExpectationFailed, match=r"timed out after 0\.2 s waiting for the connection to close"
    ) as failed:
        client.recv_until_closed()
    assert "<<< b'open'" in str(failed.value)


def test_StreamClient_eof_before_enough_bytes(pair):
    client, peer = pair
    peer.sendall(b"ab")
    peer.shutdown(socket.SHUT_WR)
    eof = "expected: 3 bytes\nreceived: b'ab' then EOF\nnearest: b'ab'"
    with pytest.raises(ExpectationFailed, match=eof):
        client.recv_exactly(3)


def test_StreamClient_expect_closed_fails_on_extra_bytes(pair):
    client, peer = pair
    peer.sendall(b"extra")
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(ExpectationFailed, match="expected EOF"):
        client.expect_closed()


def test_StreamClient_rejects_wrong_types_and_timeouts(pair):
    client, _ = pair
    with pytest.raises(TypeError, match=r"send\(\) takes bytes, not str"):
        client.send("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"send_line\(\) takes str"):
        client.send_line(b"bytes")  # type: ignore[arg-type]
    a, b = socket.socketpair()
    b.close()
    with pytest.raises(ValueError, match="client timeout must be > 0 seconds, not 0"):
        StreamClient(a, "pair", timeout=0)


def test_TCPClient_reset_is_seen_by_the_handler():
    class Reader(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while self.request.recv(100):
                pass

    with ServerFactory() as factory:
        server = factory.serve(Reader, "tcp-threading")
        client = server.connect()
        client.send(b"half").reset()
        assert client.closed
        records = server.wait_for_requests(1)
        assert records[0].error is server.errors.expect(ConnectionResetError)


@pytest.mark.netserve_kinds("stream")
def test_connect_and_Script_play_against_every_stream_kind(netserve, server_kind):
    server = netserve.serve(Upper, server_kind)
    with connect(server.address, server_kind.id) as client:
        assert isinstance(client, (TCPClient, UnixStreamClient))
        Script().send_line("one").expect_line("ONE").close().expect_closed().play(client)


@pytest.mark.netserve_kinds("datagram")
def test_datagram_clients_against_every_datagram_kind(netserve, server_kind):
    server = netserve.serve(DatagramUpper, server_kind)
    client = server.connect()
    assert isinstance(client, (UDPClient, UnixDatagramClient))
    client.send(b"ping").expect(b"PING")
    assert client.send_line("line").expect_line("LINE") == "LINE"
    assert client.send(b"id 42").expect_regex(rb"ID (\d+)").group(1) == b"42"
    with pytest.raises(NotImplementedError, match="expect_closed"):
        client.expect_closed()


def test_DatagramClient_mismatch_and_timeout(netserve):
    server = netserve.serve(DatagramUpper, "udp-sync")
    client = server.connect()  # the reply must come in time, however loaded the machine
    assert isinstance(client, DatagramClient)
    with pytest.raises(ExpectationFailed, match="expected: the datagram b'nope'\nreceived: b'X'"):
        client.send(b"x").expect(b"nope")
    client.timeout = 0.2  # nothing more comes: only the timeout ends the wait
    with pytest.raises(ExpectationFailed, match=r"timed out after 0.2 s waiting for a datagram"):
        client.recv()


def test_UnixDatagramClient_with_a_bind_path_removes_it(netserve):
    server = netserve.serve(DatagramUpper, "unix_dgram-sync")
    path = server.address + ".client"
    with UnixDatagramClient(server.address, bind_path=path) as client:
        client.send(b"a").expect(b"A")
    assert not os.path.exists(path)


def test_connect_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown client kind 'carrier-pigeon'"):
        connect(("127.0.0.1", 1), "carrier-pigeon")
    with pytest.raises(TypeError, match="not 42"):
        connect(42)  # type: ignore[arg-type]


def test_Script_play_fails_on_bytes_received_after_the_last_expectation(
    pair: Tuple[StreamClient, socket.socket],
) -> None:
    client, peer = pair
    peer.sendall(b"HI\nGARBAGE\n")
    with pytest.raises(ExpectationFailed, match=r"sent b'GARBAGE\\n' after the last expectation"):
        Script().expect_line("HI").play(client)


def test_Script_play_does_not_wait_for_more_after_the_last_expectation(
    pair: Tuple[StreamClient, socket.socket],
) -> None:
    client, peer = pair
    peer.sendall(b"HI\n")
    Script().expect_line("HI").play(client)  # nothing buffered: passes at once
    peer.sendall(b"more\n")
    Script().send(b"x").play(client)  # no expectation: nothing is checked
    assert client.buffered == b""
    assert client.recv_line() == b"more\n"

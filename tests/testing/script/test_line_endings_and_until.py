"""Declared line endings and read-until: pure matchers, in memory, and on real sockets."""

from __future__ import annotations

import itertools
import socket
import socketserver
from typing import ClassVar, Iterator, List, Tuple

import pytest

from netserve_testing import (
    ExpectationFailed,
    ExpectLine,
    ExpectRegex,
    ExpectUntil,
    Matched,
    Mismatch,
    Script,
    StreamClient,
    run_handler,
)


class Memcached(socketserver.StreamRequestHandler):
    """A memcached text-protocol subset that ends its lines as told."""

    ending = b"\r\n"
    once = False  # answer one command, then end the connection

    def handle(self) -> None:
        for line in self.rfile:
            words = line.split()
            if words[:1] == [b"quit"]:
                return
            self.wfile.write(self.reply(words))
            if self.once:
                return

    def reply(self, words: List[bytes]) -> bytes:
        store = {b"k": b"hello"}
        end = self.ending
        out = b""
        for key in words[1:] if words[:1] == [b"get"] else ():
            if key in store:
                out += b"VALUE %s 0 %d%s%s%s" % (key, len(store[key]), end, store[key], end)
        return out + b"END" + end


class BareLF(Memcached):
    ending = b"\n"


def test_ExpectLine_with_a_declared_ending_tells_CRLF_from_LF() -> None:
    crlf, lf = ExpectLine("END", newline="\r\n"), ExpectLine("END", newline="\n")
    assert crlf.match(b"END\r\nx", False) == Matched(5, "END")
    assert lf.match(b"END\nx", False) == Matched(4, "END")
    assert crlf.match(b"END\nx", False) == Mismatch("b'END\\r\\n'", "b'END\\n'")
    assert lf.match(b"END\r\nx", False) == Mismatch("b'END\\n'", "b'END\\r\\n'")
    assert crlf.match(b"END\r", False) is None
    assert crlf.match(b"END\r", True) == Mismatch("b'END\\r\\n'", "b'END\\r' then EOF")
    # Without a declared ending, both pass, as before.
    assert ExpectLine("END").match(b"END\n", False) == Matched(4, "END")
    assert ExpectLine("END").match(b"END\r\n", False) == Matched(5, "END")
    with pytest.raises(ValueError, match="newline must be"):
        ExpectLine("END", newline="\r")


def test_ExpectRegex_with_a_declared_ending() -> None:
    step = ExpectRegex.of(rb"^VALUE (\w+)", newline="\r\n")
    outcome = step.match(b"VALUE k 0 5\r\n", False)
    assert isinstance(outcome, Matched)
    assert outcome.value.group(1) == b"k"
    assert isinstance(step.match(b"VALUE k 0 5\n", False), Mismatch)


@pytest.mark.parametrize("declared", ["\r\n", "\n"])
@pytest.mark.parametrize("handler", [Memcached, BareLF], ids=["crlf", "lf"])
def test_Script_newline_in_memory(declared: str, handler: type) -> None:
    script = (
        Script(newline=declared)
        .send_line("get k")
        .expect_line("VALUE k 0 5")
        .expect_line("hello")
        .expect_line("END")
        .send_line("quit")
    )
    assert script.steps[0].data == f"get k{declared}".encode()  # type: ignore[attr-defined]
    if handler.ending == declared.encode():
        assert run_handler(handler, script).values == ["VALUE k 0 5", "hello", "END"]
        return
    with pytest.raises(ExpectationFailed) as failed:
        run_handler(handler, script)
    message = str(failed.value)
    assert "script step 2 of 5 (expect line 'VALUE k 0 5' ending" in message
    wanted = ("VALUE k 0 5" + declared).encode()
    assert f"expected: {wanted!r}" in message
    assert f"received: {b'VALUE k 0 5' + handler.ending!r}" in message
    assert "transcript:" in message


def test_Script_send_line_keeps_LF_when_no_newline_is_declared() -> None:
    assert Script().send_line("hi").steps[0].data == b"hi\n"  # type: ignore[attr-defined]
    assert Script(newline="\r\n").send_line("hi", newline="\n").steps[0].data == b"hi\n"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="newline must be"):
        Script(newline="\r\r")


# -- read until --------------------------------------------------------------------------------

REPLY = b"VALUE k 0 5\r\nhello\r\nEND\r\ntail"


def _splits(data: bytes, parts: int) -> Iterator[List[bytes]]:
    for cuts in itertools.combinations(range(1, len(data)), parts - 1):
        bounds = (0, *cuts, len(data))
        yield [data[a:b] for a, b in zip(bounds, bounds[1:])]


def test_ExpectUntil_decides_the_same_on_every_prefix() -> None:
    step = ExpectUntil(b"END\r\n")
    whole = len(REPLY) - len(b"tail")
    for size in range(len(REPLY) + 1):
        outcome = step.match(REPLY[:size], False)
        if size < whole:
            assert outcome is None, size
            assert isinstance(step.match(REPLY[:size], True), Mismatch), size
        else:
            assert outcome == Matched(whole, REPLY[:whole]), size


def test_ExpectUntil_fails_at_max_size() -> None:
    step = ExpectUntil(b"\r\n\r\n", max_size=8)
    assert step.match(b"abcd\r\n\r\n", False) == Matched(8, b"abcd\r\n\r\n")
    outcome = step.match(b"abcde\r\n\r\n", False)
    assert outcome == Mismatch("b'\\r\\n\\r\\n' within 8 bytes", "b'abcde\\r\\n\\r' without it")
    with pytest.raises(ValueError, match="shorter than the delimiter"):
        ExpectUntil(b"abc", max_size=2)
    with pytest.raises(ValueError, match="must not be empty"):
        ExpectUntil(b"")


class Writer(socketserver.BaseRequestHandler):
    """Sends REPLY in the pieces it is given (one send() each)."""

    pieces: ClassVar[List[bytes]] = []

    def handle(self) -> None:
        self.request.recv(100)
        for piece in self.pieces:
            self.request.sendall(piece)


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_expect_until_in_memory_on_every_split_of_the_reply(parts: int) -> None:
    script = Script().send(b"get k\r\n").expect_until(b"END\r\n").expect(b"tail")
    for pieces in _splits(REPLY, parts):
        handler = type("Split", (Writer,), {"pieces": pieces})
        assert run_handler(handler, script).values[0] == REPLY[:-4], pieces


def test_expect_until_in_memory_on_every_inbound_chunking() -> None:
    script = Script(newline="\r\n").send_line("get k").expect_until("END\r\n").send_line("quit")
    for chunking in (None, "bytewise", 3, "random"):
        seed = 7 if chunking == "random" else None
        run = run_handler(Memcached, script, chunking=chunking, seed=seed)
        assert run.values == [REPLY[:-4]]


def test_expect_until_fails_when_the_delimiter_never_comes() -> None:
    script = Script(newline="\r\n").send_line("get k").expect_until(b"STORED\r\n", max_size=64)
    with pytest.raises(ExpectationFailed, match=r"expected: b'STORED\\r\\n' within 64 bytes"):
        run_handler(Memcached, script.send_line("quit"))


@pytest.fixture
def pair() -> Iterator[Tuple[StreamClient, socket.socket]]:
    ours, peer = socket.socketpair()
    client = StreamClient(ours, "pair", timeout=2)
    yield client, peer
    client.disconnect()
    peer.close()


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_StreamClient_recv_until_on_every_split(
    pair: Tuple[StreamClient, socket.socket], parts: int
) -> None:
    client, peer = pair
    for pieces in _splits(REPLY, parts):
        for piece in pieces:
            peer.sendall(piece)
        assert client.recv_until(b"END\r\n") == REPLY[:-4]
        assert client.expect(b"tail") == b"tail"


def test_StreamClient_line_endings_and_until(pair: Tuple[StreamClient, socket.socket]) -> None:
    client, peer = pair
    peer.sendall(b"OK\r\nOK\n")
    assert client.expect_line("OK", newline="\r\n") == "OK"
    with pytest.raises(ExpectationFailed, match=r"expected b'OK\\r\\n', received b'OK\\n'"):
        client.expect_line("OK", newline="\r\n")
    assert client.expect_line("OK", newline="\n") == "OK"
    client.newline = "\r\n"
    client.send_line("hi")
    assert peer.recv(10) == b"hi\r\n"
    peer.sendall(b"abcdef")
    with pytest.raises(ExpectationFailed, match="within 4 bytes"):
        client.expect_until(b"\n", max_size=4)
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(ExpectationFailed, match="then EOF"):
        client.expect_until(b"\n\n", max_size=100)


def test_CRLF_script_on_a_real_server(netserve) -> None:
    script = (
        Script(newline="\r\n")
        .send_line("get k")
        .expect_line("VALUE k 0 5")
        .expect_until(b"END\r\n")
        .send_line("quit")
        .expect_closed()
    )
    script.run(netserve.serve(Memcached))
    once = type("BareLFOnce", (BareLF,), {"once": True})
    with pytest.raises(ExpectationFailed, match=r"expected b'VALUE k 0 5\\r\\n', received b'VALUE"):
        script.run(netserve.serve(once))

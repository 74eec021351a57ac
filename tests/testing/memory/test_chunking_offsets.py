"""Chunking.at(offsets) and chunking=[pieces]: exact, replayable splits of a connection's stream."""

from __future__ import annotations

import socketserver

import pytest

from netserve_testing import Chunking, ExpectationFailed, FakeStreamSocket, Script, run_handler


class Recv(socketserver.BaseRequestHandler):
    """Records what each recv() returned."""

    def handle(self) -> None:
        self.reads = []
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            self.reads.append(data)


def test_Chunking_at_cuts_the_joined_stream_at_each_offset() -> None:
    assert Chunking.at(1, 3).split([b"ab", b"cde"]) == [b"a", b"bc", b"de"]
    assert Chunking.at(3, 1, 3).offsets == (1, 3)  # sorted, once each
    assert Chunking.at(99).split([b"abc"]) == [b"abc"]  # past the end: no cut
    assert Chunking.at().split([b"ab", b"c"]) == [b"abc"]  # no cut: one read may take all


def test_Chunking_at_counts_offsets_from_the_connections_first_byte() -> None:
    class EchoReads(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while True:
                data = self.request.recv(1024)
                if not data:
                    break
                self.request.sendall(data + b"|")

    # A script delivers in batches (lockstep); the offsets go on across them.
    script = Script().send(b"abc").expect(b"ab|c|").send(b"def").expect(b"d|ef|").close()
    script.run(EchoReads, chunking=Chunking.at(2, 4))
    sock = FakeStreamSocket(b"abcdef", then="eof", chunking=Chunking.at(2, 4))
    assert [sock.recv(10) for _ in range(4)] == [b"ab", b"cd", b"ef", b""]


def test_chunking_pieces_replay_and_are_checked_against_what_is_sent() -> None:
    run = run_handler(Recv, b"hello\r\n", chunking=[b"hello\r", b"\n"])
    assert run.handler.reads == [b"hello\r", b"\n"]
    assert Chunking.of([b"ab", b"c"]) == Chunking("at", offsets=[2], pieces=[b"ab", b"c"])
    with pytest.raises(ValueError, match=r"does not match the bytes sent: bytes 0\.\.3 are b'xbc'"):
        run_handler(Recv, b"xbc", chunking=[b"ab", b"c"])


def test_Chunking_at_describes_and_reprs_itself_as_code_to_paste() -> None:
    assert repr(Chunking.at(6)) == "Chunking.at(6)"
    assert repr(Chunking.of([b"a", b"b"])) == "Chunking.of([b'a', b'b'])"
    assert Chunking.at(1, 2).describe() == (
        "cut at byte offsets 1, 2 (replay with chunking=Chunking.at(1, 2))"
    )
    assert Chunking.of([b"a", b"b"]).describe() == (
        "pieces [b'a', b'b'] (replay with chunking=[b'a', b'b'])"
    )
    assert Chunking.at(1) == Chunking.at(1)
    assert hash(Chunking.at(1)) == hash(Chunking.at(1))
    assert Chunking.at(1) != Chunking.at(2)
    assert Chunking.at(1) != Chunking.fixed(1)


def test_a_failed_script_names_the_split_to_replay() -> None:
    class CRLFOnce(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            line = self.request.recv(1024)
            self.request.sendall(b"OK\r\n" if line.endswith(b"\r\n") else b"PARTIAL\r\n")

    script = Script().send(b"hi\r\n").expect(b"OK\r\n")
    with pytest.raises(ExpectationFailed) as caught:
        run_handler(CRLFOnce, script, chunking=Chunking.at(3))
    assert "chunking: cut at byte offsets 3 (replay with chunking=Chunking.at(3))" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Chunking.at(0), "split offsets must be ints >= 1, not 0"),
        (lambda: Chunking.at(True), "split offsets must be ints >= 1, not True"),
        (lambda: Chunking.of([b"a", b""]), r"chunking pieces must not be empty: \[b'a', b''\]"),
        (lambda: Chunking.of([b"a", "b"]), "chunking must be None, 'exact'"),
    ],
)
def test_bad_offsets_and_pieces_name_the_value(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]

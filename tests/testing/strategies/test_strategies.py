"""netserve_testing.strategies: splits that shrink to the smallest; payloads and scripts run.

Every property runs in memory, bounded by the profile of this folder's conftest.
"""

from __future__ import annotations

import logging
import pickle
import socket
import socketserver
import struct
import subprocess
import sys
from typing import List

import pytest
from hypothesis import assume, find, given, settings

from netserve_testing import Chunking, FakeStreamSocket, Script, run_handler
from netserve_testing.strategies import chunkings, lines, payloads, scripts

FIND = settings(derandomize=True, database=None, max_examples=500)


# -- the logging cookbook's receiver: a 4-byte length prefix, read with one recv(4) ------


class LogRecordStreamHandler(socketserver.StreamRequestHandler):
    """The logging cookbook's network receiver, as published: one recv(4) for the prefix."""

    def handle(self) -> None:
        self.server.records = []
        while True:
            chunk = self.connection.recv(4)
            if len(chunk) < 4:
                break
            slen = struct.unpack(">L", chunk)[0]
            chunk = self.connection.recv(slen)
            while len(chunk) < slen:
                chunk = chunk + self.connection.recv(slen - len(chunk))
            record = logging.makeLogRecord(pickle.loads(chunk))
            self.server.records.append(record.getMessage())


def frame(message: str) -> bytes:
    """A record as logging.handlers.SocketHandler sends it: length prefix, then a pickle."""
    data = pickle.dumps({"msg": message, "levelno": logging.INFO})
    return struct.pack(">L", len(data)) + data


SENT = frame("hello") + frame("bye")


def received(chunking: Chunking) -> List[str]:
    records: List[str] = run_handler(LogRecordStreamHandler, SENT, chunking=chunking).server.records
    return records


def test_chunkings_find_the_cookbook_receivers_minimal_split() -> None:
    # The smallest split that loses records: one cut, after the prefix's first byte.
    found = find(
        chunkings(max_offset=len(SENT)), lambda c: received(c) != ["hello", "bye"], settings=FIND
    )
    assert found == Chunking.at(1)
    assert received(Chunking.at(1)) == []  # every record is lost, not only the first


def test_a_failing_given_test_reports_the_split_to_paste(pytester: pytest.Pytester) -> None:
    @settings(derandomize=True, database=None, max_examples=200)
    @given(chunking=chunkings(max_offset=len(SENT)))
    def test_receiver_gets_every_record(chunking: Chunking) -> None:
        assert received(chunking) == ["hello", "bye"]

    with pytest.raises(AssertionError) as caught:
        test_receiver_gets_every_record()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "chunking=Chunking.at(1)" in notes  # Hypothesis's falsifying example
    pieces = f"chunking=[{SENT[:1]!r}, {SENT[1:]!r}]"
    assert pieces in notes  # the note: the pieces as the handler read them
    # Both forms replay the failure in a regression test.
    assert received(Chunking.of([SENT[:1], SENT[1:]])) == []


def test_a_fixed_receiver_passes_every_split() -> None:
    class Fixed(LogRecordStreamHandler):
        def handle(self) -> None:
            self.server.records = []
            while True:
                prefix = self.rfile.read(4)  # a buffered read waits for all four bytes
                if len(prefix) < 4:
                    break
                data = self.rfile.read(struct.unpack(">L", prefix)[0])
                self.server.records.append(logging.makeLogRecord(pickle.loads(data)).getMessage())

    @given(chunking=chunkings(max_offset=len(SENT)))
    def check(chunking: Chunking) -> None:
        assert run_handler(Fixed, SENT, chunking=chunking).server.records == ["hello", "bye"]

    check()


# -- a handler that fails only when "\r\n" is split between two reads ------------------


class CRLFUpper(socketserver.BaseRequestHandler):
    """Answers CRLF lines in upper case; wrongly takes a read ending in "\\r" as a line end."""

    def handle(self) -> None:
        pending = b""
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            pending += data
            if pending.endswith(b"\r"):  # the bug: assumes "\n" came in the same read
                pending += b"\n"
            *complete, pending = pending.split(b"\r\n")
            for line in complete:
                self.request.sendall(line.upper() + b"\r\n")


CRLF_SENT = b"hello\r\nworld\r\n"


def crlf_ok(chunking: Chunking) -> bool:
    return run_handler(CRLFUpper, CRLF_SENT, chunking=chunking).sent == CRLF_SENT.upper()


def test_chunkings_shrink_to_the_one_cut_inside_crlf() -> None:
    found = find(chunkings(max_offset=len(CRLF_SENT)), lambda c: not crlf_ok(c), settings=FIND)
    assert found == Chunking.at(6)  # between the first "\r" and its "\n"
    assert found.describe() == "cut at byte offsets 6 (replay with chunking=Chunking.at(6))"


@given(chunking=chunkings(max_offset=len(CRLF_SENT)))
def test_the_crlf_handler_passes_every_split_outside_crlf(chunking: Chunking) -> None:
    assume(6 not in chunking.offsets and 13 not in chunking.offsets)
    assert crlf_ok(chunking)


@given(chunking=chunkings(max_offset=30, max_cuts=5))
def test_chunkings_are_sorted_sets_of_offsets(chunking: Chunking) -> None:
    assert list(chunking.offsets) == sorted(set(chunking.offsets))
    assert len(chunking.offsets) <= 5
    assert all(1 <= cut <= 30 for cut in chunking.offsets)
    assert eval(repr(chunking), {"Chunking": Chunking}) == chunking  # pasteable


def test_chunkings_shrink_to_no_cut() -> None:
    assert find(chunkings(), lambda c: True, settings=FIND) == Chunking.at()


# -- payloads, lines and scripts are taken as they are by the fakes and the runs -------


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class UpperLines(socketserver.StreamRequestHandler):
    timeout = 5

    def handle(self) -> None:
        try:
            for line in self.rfile:
                self.wfile.write(line.upper())
        except (socket.timeout, ConnectionResetError):
            pass  # the client went quiet or reset: nothing more to answer


@given(data=payloads(), chunking=chunkings(max_offset=80))
def test_payloads_reach_the_handler_whole_under_any_split(data: bytes, chunking: Chunking) -> None:
    assert run_handler(Echo, data, chunking=chunking).sent == data


@given(data=payloads(min_size=3))
def test_payloads_respect_min_size_and_a_fake_takes_them(data: bytes) -> None:
    assert len(data) >= 3
    with FakeStreamSocket(data) as sock:
        assert sock.recv(len(data)) == data


def test_payloads_and_lines_draw_the_network_edge_cases() -> None:
    for case in (b"\r\n", b"\x00", b"\xed\xa0\x80"):
        assert find(payloads(), lambda data, c=case: c in data, settings=FIND) == case
    assert len(find(payloads(), lambda data: len(data) > 8192, settings=FIND)) == 8194
    long_line = find(lines(), lambda sent: any(len(line) > 8192 for line in sent), settings=FIND)
    assert long_line == [b"x" * 8193 + b"\n"]
    assert (
        b"\r\n"
        in find(lines(), lambda sent: any(line.endswith(b"\r\n") for line in sent), settings=FIND)[
            0
        ]
    )


@given(sent=lines(endings=(b"\r\n",), min_lines=1))
def test_lines_end_once_each(sent: List[bytes]) -> None:
    assert sent
    assert all(line.endswith(b"\r\n") and b"\n" not in line[:-1] for line in sent)


@given(sent=lines(text_only=True))
def test_text_only_lines_decode(sent: List[bytes]) -> None:
    for line in sent:
        assert line.decode("utf-8").endswith("\n")


@given(script=scripts(reply=bytes.upper), chunking=chunkings(max_offset=40))
def test_scripts_play_in_memory_under_any_split(script: Script, chunking: Chunking) -> None:
    run = run_handler(UpperLines, script, chunking=chunking)
    assert run.closed_by == "server"


@given(script=scripts(reply=bytes.upper, endings=("close", "reset", "quiet", "open")))
def test_scripts_end_every_way_and_their_repr_rebuilds_them(script: Script) -> None:
    script.run(UpperLines)
    rebuilt = eval(repr(script), {"Script": Script})
    assert [s.describe() for s in rebuilt.steps] == [s.describe() for s in script.steps]


def test_a_drawn_script_finds_a_wrong_reply() -> None:
    class Lower(UpperLines):
        def handle(self) -> None:
            for line in self.rfile:
                self.wfile.write(line.lower())

    def fails(script: Script) -> bool:
        try:
            script.run(Lower)
        except AssertionError:
            return True
        return False

    found = find(scripts(reply=bytes.upper), fails, settings=FIND)
    assert repr(found) == "Script().send(b'A\\n').expect(b'A\\n').close().expect_closed()"


def test_bad_strategy_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="max_offset must be at least 1, not 0"):
        chunkings(max_offset=0)
    with pytest.raises(ValueError, match="endings must be some of"):
        scripts(endings=("hang up",))
    with pytest.raises(ValueError, match="at least one line ending"):
        lines(endings=())


def test_without_hypothesis_the_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n"
        "    import netserve_testing.strategies\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "netserve_testing.strategies needs Hypothesis" in out
    assert "pip install 'netserve[test]'" in out


def test_chunkings_used_outside_a_test_make_no_note() -> None:
    chunking = find(chunkings(max_offset=4), lambda c: len(c.offsets) == 2, settings=FIND)
    assert chunking.split([b"abcd"]) == [b"a", b"b", b"cd"]


def test_the_strategies_docstring_examples_run() -> None:
    import doctest

    import netserve_testing.strategies as module

    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0

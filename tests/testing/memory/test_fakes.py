"""FakeStreamSocket and FakePeer: the surface handlers use, and real-socket failures."""

from __future__ import annotations

import errno
import io
import socket
import struct
from typing import Any, Callable

import pytest

from netserve_testing import Chunking, FakeStreamSocket, HandlerWouldBlock, Transcript


def test_FakeStreamSocket_recv_returns_one_chunk_at_a_time_then_eof() -> None:
    sock = FakeStreamSocket([b"hel", b"lo\n"], then="eof")
    assert sock.recv(1024) == b"hel"
    assert sock.recv(2) == b"lo"
    assert sock.recv(1024) == b"\n"
    assert sock.recv(1024) == b""
    assert sock.recv(1024) == b""


def test_FakeStreamSocket_recv_flags_peek_waitall_dontwait() -> None:
    sock = FakeStreamSocket([b"ab", b"cd", b"ef"], then="eof")
    assert sock.recv(10, socket.MSG_PEEK) == b"abcdef"
    assert sock.recv(5, socket.MSG_WAITALL) == b"abcde"
    assert sock.recv(10, socket.MSG_WAITALL) == b"f"  # short at EOF
    quiet = FakeStreamSocket()
    with pytest.raises(BlockingIOError) as info:
        quiet.recv(1, socket.MSG_DONTWAIT)
    assert info.value.errno == errno.EAGAIN
    with pytest.raises(NotImplementedError, match="recv flags"):
        quiet.recv(1, socket.MSG_OOB)


def test_FakeStreamSocket_recv_into_and_argument_errors() -> None:
    sock = FakeStreamSocket(b"hello", then="eof")
    buffer = bytearray(3)
    assert sock.recv_into(buffer) == 3
    assert buffer == b"hel"
    view = memoryview(bytearray(10))
    assert sock.recv_into(view, 1) == 1
    assert view[:1] == b"l"
    with pytest.raises(ValueError, match="buffer too small"):
        sock.recv_into(bytearray(2), 5)
    with pytest.raises(ValueError, match="negative buffersize"):
        sock.recv(-1)
    with pytest.raises(TypeError, match="read-write"):
        sock.recv_into(b"readonly")
    assert sock.recv(0) == b""
    assert sock.recvfrom(10) == (b"o", None)


def test_FakeStreamSocket_send_sendall_capture_each_call() -> None:
    sock = FakeStreamSocket()
    assert sock.send(b"ab") == 2
    sock.sendall(memoryview(b"cd"))
    sock.sendall(bytearray(b"ef"))
    assert sock.sent == b"abcdef"
    assert sock.sends == [b"ab", b"cd", b"ef"]
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        sock.send("text")
    assert sock.send(b"") == 0


def test_FakeStreamSocket_max_send_makes_send_partial_and_sendall_complete() -> None:
    sock = FakeStreamSocket(max_send=3)
    assert sock.send(b"abcdef") == 3
    sock.sendall(b"123456789")
    assert sock.sends == [b"abc", b"123456789"]


def test_FakeStreamSocket_sendfile_sends_the_file_range() -> None:
    sock = FakeStreamSocket()
    file = io.BytesIO(b"0123456789")
    assert sock.sendfile(file, 2, 5) == 5
    assert sock.sent == b"23456"
    assert file.tell() == 7


def test_FakeStreamSocket_quiet_read_without_timeout_would_block() -> None:
    sock = FakeStreamSocket(b"only this")
    assert sock.recv(100) == b"only this"
    with pytest.raises(
        HandlerWouldBlock, match=r"would block forever: recv\(100\) with no timeout"
    ):
        sock.recv(100)


def test_FakeStreamSocket_quiet_read_with_timeout_times_out_at_once() -> None:
    sock = FakeStreamSocket(then="quiet")
    sock.settimeout(30)
    with pytest.raises(socket.timeout, match="timed out"):
        sock.recv(10)
    assert sock.timeouts == 1
    assert "timed out after 30 s (fake clock" in sock.transcript.format()
    sock.peer.send(b"late")
    assert sock.recv(10) == b"late"


def test_FakeStreamSocket_timeout_is_TimeoutError_on_310_and_later() -> None:
    sock = FakeStreamSocket()
    sock.settimeout(1)
    with pytest.raises(OSError, match="timed out") as info:  # an OSError on every version
        sock.recv(1)
    assert isinstance(info.value, socket.timeout)


def test_FakeStreamSocket_timeout_values_like_a_real_socket() -> None:
    sock = FakeStreamSocket()
    assert sock.gettimeout() is None
    assert sock.getblocking()
    sock.settimeout(2)
    assert sock.gettimeout() == 2.0
    assert sock.timeout == 2.0
    sock.setblocking(False)
    assert sock.gettimeout() == 0.0
    assert not sock.getblocking()
    sock.setblocking(True)
    assert sock.gettimeout() is None
    with pytest.raises(ValueError, match="out of range"):
        sock.settimeout(-1)
    with pytest.raises(TypeError, match="number or None"):
        sock.settimeout("1")  # type: ignore[arg-type]


def test_FakeStreamSocket_reading_eof_forever_is_stopped() -> None:
    sock = FakeStreamSocket(b"x", then="eof")
    sock.recv(1)

    def read_forever() -> None:
        while True:
            sock.recv(1024)

    with pytest.raises(HandlerWouldBlock, match="would loop forever: it read EOF 1000 times"):
        read_forever()


def test_FakeStreamSocket_reset_after_data_then_epipe() -> None:
    sock = FakeStreamSocket(b"abc", then="reset")
    assert sock.recv(10) == b"abc"
    with pytest.raises(ConnectionResetError) as info:
        sock.recv(10)
    assert info.value.errno == errno.ECONNRESET
    assert info.value.strerror == "Connection reset by peer"
    assert sock.recv(10) == b""
    with pytest.raises(BrokenPipeError) as pipe:
        sock.sendall(b"x")
    assert pipe.value.errno == errno.EPIPE
    with pytest.raises(OSError, match="not connected") as notconn:
        sock.getpeername()
    assert notconn.value.errno == errno.ENOTCONN


def test_FakeStreamSocket_write_after_reset_raises_connection_reset_first() -> None:
    sock = FakeStreamSocket(then="reset")
    with pytest.raises(ConnectionResetError):
        sock.sendall(b"x")
    with pytest.raises(BrokenPipeError):
        sock.send(b"x")


def test_FakePeer_stop_reading_blocks_sends() -> None:
    sock = FakeStreamSocket()
    sock.peer.stop_reading(after=4)
    assert sock.send(b"abcdef") == 4
    with pytest.raises(HandlerWouldBlock, match="the client stopped reading"):
        sock.sendall(b"more")
    sock.settimeout(5)
    with pytest.raises(socket.timeout):
        sock.sendall(b"more")
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.send(b"more")
    sock.peer.resume_reading()
    sock.sendall(b"more")
    assert sock.sent == b"abcdmore"


def test_FakePeer_reads_what_the_socket_sent() -> None:
    sock = FakeStreamSocket()
    sock.sendall(b"hello")
    assert sock.peer.recv(2) == b"he"
    assert sock.peer.recv(10) == b"llo"
    with pytest.raises(BlockingIOError):
        sock.peer.recv(10)
    sock.shutdown(socket.SHUT_WR)
    assert sock.peer.eof
    assert sock.peer.recv(10) == b""
    assert sock.peer.received == b"hello"


def test_FakePeer_cannot_send_after_close() -> None:
    sock = FakeStreamSocket()
    sock.peer.close()
    with pytest.raises(BrokenPipeError):
        sock.peer.send(b"x")


def test_FakeStreamSocket_shutdown_states() -> None:
    sock = FakeStreamSocket(b"queued")
    sock.shutdown(socket.SHUT_RD)
    assert sock.recv(3) == b"que"
    sock.peer.send(b"unread")
    assert not sock.write_shut
    sock.sendall(b"ok")
    sock.shutdown(socket.SHUT_WR)
    assert sock.write_shut
    with pytest.raises(BrokenPipeError):
        sock.send(b"x")
    assert sock.shutdowns == [socket.SHUT_RD, socket.SHUT_WR]
    with pytest.raises(OSError, match="Invalid argument") as info:
        sock.shutdown(7)
    assert info.value.errno == errno.EINVAL
    assert sock.unread == b"uedunread"


def test_FakeStreamSocket_after_close_everything_is_EBADF() -> None:
    sock = FakeStreamSocket(b"data")
    with pytest.raises(NotImplementedError, match=r"fileno\(\), so select\(\), poll\(\)"):
        sock.fileno()
    sock.close()
    sock.close()
    assert sock.closed
    assert sock.fileno() == -1
    calls: list[Callable[[], Any]] = [
        lambda: sock.recv(1),
        lambda: sock.recv_into(bytearray(1)),
        lambda: sock.send(b"x"),
        lambda: sock.sendall(b"x"),
        lambda: sock.shutdown(socket.SHUT_RDWR),
        sock.getpeername,
        sock.getsockname,
        lambda: sock.settimeout(1),
        lambda: sock.setblocking(False),
        lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1),
        lambda: sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR),
    ]
    for call in calls:
        with pytest.raises(OSError, match="Bad file descriptor") as info:
            call()
        assert info.value.errno == errno.EBADF
        assert info.value.strerror == "Bad file descriptor"
    assert "[closed]" in repr(sock)


def test_FakeStreamSocket_context_manager_closes() -> None:
    with FakeStreamSocket() as sock:
        assert not sock.closed
    assert sock.closed


@pytest.mark.parametrize("buffering", [None, -1, 0, 1, 5, 8192])
def test_FakeStreamSocket_makefile_rb_any_buffering(buffering: Any) -> None:
    sock = FakeStreamSocket([b"first line\nsec", b"ond line\n", b"tail"], then="eof")
    rfile = sock.makefile("rb", buffering)
    assert rfile.readline() == b"first line\n"
    assert rfile.readline() == b"second line\n"
    assert rfile.read() == b"tail"
    rfile.close()
    sock.close()
    assert sock.closed


def test_FakeStreamSocket_makefile_wb_buffered_sends_on_flush() -> None:
    sock = FakeStreamSocket()
    wfile = sock.makefile("wb", 16)
    wfile.write(b"abc")
    assert sock.sent == b""
    wfile.flush()
    assert sock.sent == b"abc"
    wfile.write(b"x" * 40)  # larger than the buffer: written through
    wfile.close()
    assert sock.sent == b"abc" + b"x" * 40


def test_FakeStreamSocket_makefile_text_modes() -> None:
    sock = FakeStreamSocket(b"caf\xc3\xa9\n", then="eof")
    with sock.makefile("r", encoding="utf-8") as rfile:
        assert rfile.readline() == "café\n"
    with sock.makefile("w", encoding="utf-8", newline="\r\n") as wfile:
        wfile.write("ok\n")
    assert sock.sent == b"ok\r\n"
    with pytest.raises(ValueError, match="invalid mode"):
        sock.makefile("rx")
    with pytest.raises(ValueError, match="unbuffered streams must be binary"):
        sock.makefile("r", 0)


def test_FakeStreamSocket_makefile_keeps_socket_open_after_close() -> None:
    sock = FakeStreamSocket(b"line\n", then="eof")
    rfile = sock.makefile("rb")
    sock.close()
    assert not sock.closed
    assert rfile.readline() == b"line\n"
    rfile.close()
    assert sock.closed


def test_FakeStreamSocket_makefile_after_timeout_refuses_reads() -> None:
    sock = FakeStreamSocket()
    sock.settimeout(0.5)
    rfile = sock.makefile("rb")
    with pytest.raises(socket.timeout):
        rfile.readline()
    with pytest.raises(OSError, match="cannot read from timed out object"):
        rfile.readline()
    rfile.close()


def test_FakeStreamSocket_sockopts_recorded_and_read_back() -> None:
    sock = FakeStreamSocket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    linger = struct.pack("ii", 1, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == linger
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 4) == struct.pack("i", 1)
    assert sock.sockopts[(socket.IPPROTO_TCP, socket.TCP_NODELAY)] == 1
    with pytest.raises(NotImplementedError, match=r"getsockopt\(level=1, option=8\)"):
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    with pytest.raises(TypeError, match="bytes-like"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, "1")


def test_FakeStreamSocket_tcp_options_on_unix_socket_fail_like_linux() -> None:
    sock = FakeStreamSocket(family=socket.AF_UNIX)
    with pytest.raises(OSError, match="not supported") as info:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert info.value.errno == errno.EOPNOTSUPP


@pytest.mark.parametrize(
    ("family", "local", "peer"),
    [
        (socket.AF_INET, ("127.0.0.1", 8000), ("127.0.0.1", 50000)),
        (socket.AF_INET6, ("::1", 8000, 0, 0), ("::1", 50000, 0, 0)),
        (socket.AF_UNIX, "/tmp/netserve-fake.sock", ""),
    ],
)
def test_FakeStreamSocket_names_and_identity_per_family(family: int, local: Any, peer: Any) -> None:
    sock = FakeStreamSocket(family=family)
    assert sock.family == family
    assert isinstance(sock.family, socket.AddressFamily)
    assert sock.type == socket.SOCK_STREAM
    assert isinstance(sock.type, socket.SocketKind)
    assert sock.proto == 0
    assert sock.getsockname() == local
    assert sock.getpeername() == peer
    assert f"raddr={peer!r}" in repr(sock)


def test_FakeStreamSocket_custom_names() -> None:
    sock = FakeStreamSocket(sockname=("10.0.0.1", 25), peername=("10.0.0.2", 4000), proto=6)
    assert sock.getsockname() == ("10.0.0.1", 25)
    assert sock.getpeername() == ("10.0.0.2", 4000)
    assert sock.proto == 6


@pytest.mark.parametrize(
    "call",
    [
        "accept()",
        "bind()",
        "listen()",
        "connect()",
        "connect_ex()",
        "dup()",
        "detach()",
        "recvmsg()",
        "recvmsg_into()",
        "sendmsg()",
        "get_inheritable()",
        "set_inheritable()",
    ],
)
def test_FakeStreamSocket_unmodelled_methods_say_so(call: str) -> None:
    sock = FakeStreamSocket()
    method = getattr(sock, call[:-2])
    args = (True,) if call == "set_inheritable()" else ()
    with pytest.raises(NotImplementedError, match=rf"FakeStreamSocket does not model {call[:-2]}"):
        method(*args)


def test_FakeStreamSocket_has_no_catch_all_attributes() -> None:
    sock = FakeStreamSocket()
    with pytest.raises(AttributeError):
        sock.ioctl  # type: ignore[attr-defined]  # noqa: B018


def test_FakeStreamSocket_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="then must be one of"):
        FakeStreamSocket(then="later")
    with pytest.raises(ValueError, match="max_send must be at least 1"):
        FakeStreamSocket(max_send=0)
    with pytest.raises(TypeError, match="inbound chunks must be bytes"):
        FakeStreamSocket(["text"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="AF_INET, AF_INET6 and AF_UNIX"):
        FakeStreamSocket(family=socket.AF_PACKET)


def test_FakeStreamSocket_transcript_shows_chunks_and_events() -> None:
    transcript = Transcript()
    sock = FakeStreamSocket([b"ab", b"c"], then="eof", transcript=transcript)
    sock.recv(10)
    sock.sendall(b"X")
    sock.close()
    assert transcript.format().splitlines() == [
        ">>> b'ab'",
        ">>> b'c'",
        "--- client closed its sending side (EOF)",
        "<<< b'X'",
        "--- handler's socket closed with 1 unread bytes: the client gets a reset "
        "(ECONNRESET) after the data sent before it",
    ]


def test_Chunking_modes_split_as_documented() -> None:
    assert Chunking.of(None).split([b"ab", b"cd"]) == [b"ab", b"cd"]
    assert Chunking.of("bytewise").split([b"abc"]) == [b"a", b"b", b"c"]
    assert Chunking.of(2).split([b"abcde"]) == [b"ab", b"cd", b"e"]
    pieces = Chunking.of("random", seed=3).split([b"hello ", b"world"] * 20)
    assert b"".join(pieces) == b"hello world" * 20
    assert pieces == Chunking.random(seed=3).split([b"hello ", b"world"] * 20)
    assert Chunking.random().seed is not None


def test_Chunking_random_may_join_consecutive_sends() -> None:
    # Across seeds, some read must straddle two sends, as TCP may deliver them.
    straddles = False
    for seed in range(20):
        offset = 0
        for piece in Chunking.random(seed).split([b"aaaa", b"bbbb"]):
            straddles = straddles or (offset < 4 < offset + len(piece))
            offset += len(piece)
    assert straddles


def test_Chunking_rejects_unknown_forms() -> None:
    with pytest.raises(ValueError, match="chunking must be"):
        Chunking.of("sometimes")
    with pytest.raises(ValueError, match="only applies to chunking='random'"):
        Chunking.of("bytewise", seed=1)
    with pytest.raises(ValueError, match="chunk size must be a positive int"):
        Chunking.fixed(0)
    assert repr(Chunking.fixed(3)) == "Chunking.fixed(3)"
    assert Chunking.random(seed=9).describe() == (
        "random (seed=9; replay with chunking='random', seed=9)"
    )


def test_Chunking_random_object_reused_replays_the_same_split() -> None:
    # The seed printed in a failure must replay the split, also when the test
    # passes the same Chunking object to every run.
    chunking = Chunking.random(seed=5)
    first = FakeStreamSocket([b"hello ", b"world"] * 10, chunking=chunking, then="eof")
    second = FakeStreamSocket([b"hello ", b"world"] * 10, chunking=chunking, then="eof")
    fresh = FakeStreamSocket([b"hello ", b"world"] * 10, chunking="random", seed=5, then="eof")
    assert first.unread == second.unread == fresh.unread
    reads = [[sock.recv(1 << 16) for _ in range(200)] for sock in (first, second, fresh)]
    assert reads[0] == reads[1] == reads[2]
    assert chunking.split([b"abcdef"] * 9) == chunking.split([b"abcdef"] * 9)


def test_Chunking_of_refuses_a_seed_beside_a_Chunking() -> None:
    with pytest.raises(ValueError, match=r"seed=5 .* Chunking.random\(seed=7\)"):
        Chunking.of(Chunking.random(seed=7), seed=5)
    with pytest.raises(ValueError, match=r"seed=5 .* Chunking.fixed\(2\)"):
        FakeStreamSocket(b"x", chunking=Chunking.fixed(2), seed=5)


def test_FakeStreamSocket_shutdown_rd_still_returns_queued_bytes() -> None:
    # As socketpair() and TCP on Linux: SHUT_RD ends reading once the queue is read.
    sock = FakeStreamSocket([b"da", b"ta"])
    sock.shutdown(socket.SHUT_RD)
    assert sock.recv(10) == b"da"
    assert sock.recv(10, socket.MSG_PEEK) == b"ta"
    assert sock.recv(10) == b"ta"
    assert sock.recv(10) == b""  # no blocking, although the peer is still open


def test_FakeStreamSocket_getblocking_after_close_like_a_real_socket() -> None:
    sock = FakeStreamSocket()
    sock.close()
    assert sock.getblocking() is True
    nonblocking = FakeStreamSocket()
    nonblocking.setblocking(False)
    nonblocking.close()
    assert nonblocking.getblocking() is False


def test_FakeStreamSocket_peek_reaches_across_chunks() -> None:
    sock = FakeStreamSocket([b"ab", b"cd", b"ef"])
    assert sock.recv(10, socket.MSG_PEEK) == b"abcdef"
    assert sock.recv(3, socket.MSG_PEEK) == b"abc"
    buffer = bytearray(4)
    assert sock.recv_into(buffer, 0, socket.MSG_PEEK) == 4
    assert buffer == b"abcd"
    assert sock.recv(10) == b"ab"  # a plain read still returns one chunk
    assert sock.recv(10, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"cdef"


def test_FakeStreamSocket_peek_loop_waiting_for_a_header_ends() -> None:
    # Code that peeks until a whole header is there must not spin on the fake.
    sock = FakeStreamSocket([b"\x00", b"\x05", b"hello"], then="eof")
    for _ in range(10):
        header = sock.recv(2, socket.MSG_PEEK)
        if len(header) == 2:
            break
    assert header == b"\x00\x05"


def test_FakeStreamSocket_recv_zero_answers_at_once_like_cpython() -> None:
    # socket.recv(0) and recv_into() of an empty buffer never reach the kernel.
    sock = FakeStreamSocket()
    assert sock.recv(0) == b""  # no data, no timeout: still no HandlerWouldBlock
    assert sock.recv_into(bytearray(0)) == 0
    sock.close()
    assert sock.recv(0) == b""
    assert sock.recv_into(bytearray(0)) == 0


def test_FakeStreamSocket_makefile_mode_must_be_text() -> None:
    sock = FakeStreamSocket()
    with pytest.raises(TypeError):
        sock.makefile(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid mode 'rx'"):
        sock.makefile("rx")

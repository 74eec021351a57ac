"""FakeDatagramSocket and FakeServer."""

from __future__ import annotations

import errno
import socket

import pytest

from netserve_testing import FakeDatagramSocket, FakeServer, HandlerWouldBlock


def test_FakeDatagramSocket_recvfrom_truncates_and_drops_the_rest() -> None:
    sock = FakeDatagramSocket([(b"0123456789", ("127.0.0.1", 9)), (b"next", ("127.0.0.1", 9))])
    assert sock.recvfrom(4) == (b"0123", ("127.0.0.1", 9))
    assert sock.recvfrom(100) == (b"next", ("127.0.0.1", 9))
    assert "datagram of 10 bytes truncated to 4" in sock.transcript.format()


def test_FakeDatagramSocket_recv_variants() -> None:
    sock = FakeDatagramSocket()
    sock.deliver(b"abc", ("127.0.0.1", 1))
    sock.deliver(b"def", ("127.0.0.1", 2))
    sock.deliver(b"ghi", ("127.0.0.1", 3))
    assert sock.recv(10, socket.MSG_PEEK) == b"abc"
    assert sock.recv(10) == b"abc"
    buffer = bytearray(8)
    assert sock.recvfrom_into(buffer) == (3, ("127.0.0.1", 2))
    assert buffer[:3] == b"def"
    assert sock.recv_into(buffer, 2) == 2
    with pytest.raises(ValueError, match="negative buffersize"):
        sock.recvfrom(-1)


def test_FakeDatagramSocket_empty_queue_on_the_fake_clock() -> None:
    sock = FakeDatagramSocket()
    with pytest.raises(HandlerWouldBlock, match="no datagram is queued"):
        sock.recvfrom(10)
    sock.settimeout(3)
    with pytest.raises(socket.timeout):
        sock.recvfrom(10)
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(10)


def test_FakeDatagramSocket_sendto_records_pairs_both_signatures() -> None:
    sock = FakeDatagramSocket()
    assert sock.sendto(b"one", ("127.0.0.1", 7)) == 3
    assert sock.sendto(b"two", 0, ("127.0.0.1", 8)) == 3
    assert sock.sent == [(b"one", ("127.0.0.1", 7)), (b"two", ("127.0.0.1", 8))]


@pytest.mark.parametrize(("family", "limit"), [(socket.AF_INET, 65507), (socket.AF_INET6, 65527)])
def test_FakeDatagramSocket_udp_size_limit_is_EMSGSIZE(family: int, limit: int) -> None:
    sock = FakeDatagramSocket(family=family)
    address = ("127.0.0.1", 9) if family == socket.AF_INET else ("::1", 9, 0, 0)
    assert sock.sendto(b"x" * limit, address) == limit
    with pytest.raises(OSError, match="Message too long") as info:
        sock.sendto(b"x" * (limit + 1), address)
    assert info.value.errno == errno.EMSGSIZE


def test_FakeDatagramSocket_address_errors_as_the_socket_module() -> None:
    udp = FakeDatagramSocket()
    with pytest.raises(TypeError, match="AF_INET address must be tuple, not str"):
        udp.sendto(b"x", "abc")
    with pytest.raises(TypeError, match=r"must be a pair \(host, port\)"):
        udp.sendto(b"x", ("127.0.0.1",))
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        udp.sendto("x", ("127.0.0.1", 1))
    unix = FakeDatagramSocket(family=socket.AF_UNIX)
    with pytest.raises(TypeError, match="not 'NoneType'"):
        unix.sendto(b"reply", None)
    with pytest.raises(OSError, match="Invalid argument") as info:
        unix.sendto(b"reply", "")
    assert info.value.errno == errno.EINVAL
    assert unix.sendto(b"reply", "/tmp/client.sock") == 5


def test_FakeDatagramSocket_unconnected_operations_fail_like_a_real_one() -> None:
    sock = FakeDatagramSocket()
    assert sock.type == socket.SOCK_DGRAM
    with pytest.raises(OSError, match="Destination address required") as send:
        sock.send(b"x")
    assert send.value.errno == errno.EDESTADDRREQ
    with pytest.raises(OSError, match="not connected") as peer:
        sock.getpeername()
    assert peer.value.errno == errno.ENOTCONN
    with pytest.raises(NotImplementedError, match="makefile"):
        sock.makefile("rb")
    sock.close()
    with pytest.raises(OSError, match="Bad file descriptor") as closed:
        sock.sendto(b"x", ("127.0.0.1", 1))
    assert closed.value.errno == errno.EBADF
    assert sock.fileno() == -1


def test_FakeServer_defaults_and_attributes() -> None:
    server = FakeServer(motd="welcome", users={"ann": 1})
    assert server.server_address == ("127.0.0.1", 8000)
    assert server.address_family == socket.AF_INET
    assert server.socket_type == socket.SOCK_STREAM
    assert server.max_packet_size == 8192
    assert server.timeout is None
    assert server.motd == "welcome"
    assert server.users == {"ann": 1}
    unix = FakeServer(address_family=socket.AF_UNIX)
    assert unix.server_address == "/tmp/netserve-fake.sock"


def test_FakeServer_missing_attribute_says_how_to_give_it() -> None:
    server = FakeServer()
    with pytest.raises(AttributeError, match=r"FakeServer has no attribute 'db'; give it with"):
        server.db  # noqa: B018
    assert not hasattr(server, "db")


def test_FakeServer_records_calls_and_refuses_to_serve() -> None:
    server = FakeServer()
    assert not server.shutdown_requested
    server.request_shutdown()
    server.shutdown()
    server.server_close()
    assert server.calls == [("request_shutdown", ()), ("shutdown", ()), ("server_close", ())]
    assert server.shutdown_requested
    with pytest.raises(NotImplementedError, match="serve_forever"):
        server.serve_forever()
    with pytest.raises(NotImplementedError, match="handle_request"):
        server.handle_request()
    with pytest.raises(NotImplementedError, match="fileno"):
        server.fileno()
    assert "FakeServer" in repr(server)


def test_FakeDatagramSocket_unix_send_and_shutdown_as_on_linux() -> None:
    sock = FakeDatagramSocket(family=socket.AF_UNIX)
    with pytest.raises(OSError, match="not connected") as info:
        sock.send(b"x")
    assert info.value.errno == errno.ENOTCONN
    with pytest.raises(NotImplementedError, match="shutdown\\(\\) on a Unix datagram socket"):
        sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(OSError, match="not connected"):
        FakeDatagramSocket().shutdown(socket.SHUT_RDWR)


def test_FakeDatagramSocket_msg_trunc_reports_the_real_length() -> None:
    sock = FakeDatagramSocket([(b"0123456789", ("127.0.0.1", 9))] * 2)
    data, _ = sock.recvfrom(4, socket.MSG_TRUNC)
    assert data == b"0123" + bytes(6)
    buffer = bytearray(b"#" * 6)
    assert sock.recv_into(buffer, 3, socket.MSG_TRUNC) == 10
    assert buffer == b"012###"


def test_FakeDatagramSocket_recv_zero_leaves_the_datagram_queued() -> None:
    # As CPython on Linux (UDP and Unix): recv(0) and recv_into() of an empty buffer
    # return at once and read nothing; recvfrom(0) receives the datagram, truncated.
    sock = FakeDatagramSocket([(b"kept", ("127.0.0.1", 9)), (b"gone", ("127.0.0.1", 9))])
    assert sock.recv(0) == b""
    assert sock.recv_into(bytearray(0)) == 0
    assert sock.recv(100) == b"kept"
    assert sock.recvfrom(0) == (b"", ("127.0.0.1", 9))
    assert sock.recv(0) == b""  # an empty queue: still no HandlerWouldBlock
    with pytest.raises(HandlerWouldBlock):
        sock.recv(100)
    sock.close()
    assert sock.recv(0) == b""

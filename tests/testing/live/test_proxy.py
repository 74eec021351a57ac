"""FaultProxy on loopback: each fault as a real handler sees it, in both directions."""

from __future__ import annotations

import http.client
import http.server
import os
import queue
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, List

import pytest

from netserve_testing import (
    Bandwidth,
    BlackHole,
    ConnectionTranscript,
    ExpectationFailed,
    FaultProxy,
    Latency,
    LimitData,
    Refuse,
    ResetPeer,
    Slice,
    SlowClose,
    Transcript,
    serve,
)
from netserve_testing.live._leaks import open_sockets

ROOT = Path(__file__).resolve().parents[3]


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())


class RecordReads(socketserver.BaseRequestHandler):
    """Reads with recv(1024) until EOF, puts each read (then None) on server.reads."""

    def handle(self) -> None:
        reads: queue.Queue[Any] = self.server.reads
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            reads.put(data)
        reads.put(None)


class Send20(socketserver.BaseRequestHandler):
    """Sends 20 bytes, then waits for the client's EOF."""

    def handle(self) -> None:
        self.request.sendall(b"0123456789abcdefghij")
        while self.request.recv(1024):
            pass


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


def drain(reads: queue.Queue[Any]) -> List[bytes]:
    """The reads of one RecordReads request, up to its EOF."""
    found = []
    while True:
        item = reads.get(timeout=5)
        if item is None:
            return found
        found.append(item)


def recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(1024)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def data_events(transcript: ConnectionTranscript, direction: str) -> List[Any]:
    return [e for e in transcript.events if e.kind == "data" and e.direction == direction]


def ends(sock: socket.socket) -> bool:
    """Whether the connection ends (EOF or reset) before any byte arrives."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def turned_away(proxy: FaultProxy) -> bool:
    """Whether a new connection through the proxy ends (EOF or reset) before any byte."""
    try:
        with raw_client(proxy) as sock:
            return ends(sock)
    except ConnectionResetError:
        return True  # the reset came before connect() returned


def raw_client(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=5)
    return sock


# -- no faults ---------------------------------------------------------------------------------


def test_FaultProxy_without_faults_forwards_both_ways_and_keeps_a_transcript():
    with serve(Upper) as server, FaultProxy(server.address, seed=3) as proxy:
        assert proxy.address[0] == "127.0.0.1"
        assert proxy.address != server.address
        client = proxy.connect()
        client.send_line("hello").expect_line("HELLO")
        client.disconnect()
        (transcript,) = proxy.wait_for_connections(1)
        transcript.wait_closed()
        assert transcript.to_server == b"hello\n"
        assert transcript.to_client == b"HELLO\n"
        assert transcript.faults == []
        kinds = [e.kind for e in transcript.events]
        assert kinds[0] == "open"
        assert kinds[-1] == "close"
        times = [e.at for e in transcript.events]
        assert times == sorted(times)
        assert "seed 3" in transcript.format()


def test_FaultProxy_transcript_becomes_a_script_Transcript():
    with serve(Upper) as server, FaultProxy(server.address, Slice(3)) as proxy:
        with proxy.connect() as client:
            client.send_line("abcdef").expect_line("ABCDEF")
        transcript = proxy.wait_for_connections(1)[0].wait_closed().to_transcript()
    assert isinstance(transcript, Transcript)
    lines = transcript.format().splitlines()
    assert [line for line in lines if line.startswith(">>>")] == [
        ">>> b'abc'",
        ">>> b'def'",
        ">>> b'\\n'",
    ]
    assert "<<< b'ABCDEF\\n'" in lines
    assert any(line.startswith("--- ") and "Slice(size=3" in line for line in lines)


# -- Slice -------------------------------------------------------------------------------------


def test_Slice_to_server_splits_the_handler_s_reads():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, Slice(4, delay=0.05)) as proxy,
    ):
        with proxy.connect() as client:
            client.send(b"0123456789ab").close()
            reads = drain(server.server.reads)
        transcript = proxy.wait_for_connections(1)[0]
    assert b"".join(reads) == b"0123456789ab"
    assert len(reads) > 1  # one recv(1024) would have returned all 12 bytes
    pieces = data_events(transcript, "to_server")
    assert [e.data for e in pieces] == [b"0123", b"4567", b"89ab"]
    # Piece i leaves at least i delays after the chunk was read.
    assert all(e.at - e.received >= 0.05 * i for i, e in enumerate(pieces))


def test_Slice_to_client_splits_what_the_client_reads():
    with (
        serve(Send20) as server,
        FaultProxy(server.address, Slice(8, direction="to_client")) as proxy,
    ):
        with raw_client(proxy) as sock:
            received = b""
            while len(received) < 20:
                received += sock.recv(1024)
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
    assert received == b"0123456789abcdefghij"
    assert [len(e.data) for e in data_events(transcript, "to_client")] == [8, 8, 4]
    assert [len(e.data) for e in data_events(transcript, "to_server")] == []


# -- Latency and Bandwidth: seen in the transcript's monotonic timestamps ---------------------


@pytest.mark.parametrize("direction", ["to_server", "to_client", "both"])
def test_Latency_delays_chunks_in_its_direction(direction):
    with (
        serve(Upper) as server,
        FaultProxy(server.address, Latency(0.05, direction=direction)) as proxy,
    ):
        with proxy.connect() as client:
            client.send_line("hi").expect_line("HI")
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
    for way in ("to_server", "to_client"):
        (event,) = data_events(transcript, way)
        if direction in (way, "both"):
            assert event.at - event.received >= 0.05, transcript.format()
    assert "Latency(seconds=0.05" in transcript.faults[0].text


def test_Latency_jitter_is_seeded_and_keeps_the_order():
    def delays(seed: int) -> List[float]:
        with serve(RecordReads, attrs={"reads": queue.Queue()}) as server:
            fault = Latency(0.02, jitter=0.02)
            with FaultProxy(server.address, fault, seed=seed) as proxy:
                with proxy.connect() as client:
                    for index in range(5):
                        client.send(b"%d" % index)
                        assert server.server.reads.get(timeout=5) == b"%d" % index
                    client.close()
                    drain(server.server.reads)
                return [e.at - e.received for e in data_events(proxy.transcripts[0], "to_server")]

    first = delays(11)
    assert len(first) == 5
    assert all(delay >= 0.0 for delay in first)


def test_Bandwidth_spreads_the_bytes_over_time():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, Bandwidth(4000)) as proxy,
    ):
        with proxy.connect() as client:
            client.send(b"x" * 400).close()
            assert b"".join(drain(server.server.reads)) == b"x" * 400
        transcript = proxy.wait_for_connections(1)[0]
    pieces = data_events(transcript, "to_server")
    assert len(pieces) >= 2
    assert pieces[-1].at - pieces[0].received >= 400 / 4000


# -- LimitData ---------------------------------------------------------------------------------


def test_LimitData_to_server_closes_after_n_bytes():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, LimitData(5)) as proxy,
    ):
        with proxy.connect() as client:
            client.send(b"hello world")
            assert b"".join(drain(server.server.reads)) == b"hello"
            client.expect_closed()
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
    assert transcript.to_server == b"hello"
    assert any("limit reached" in e.text for e in transcript.faults)


def test_LimitData_to_client_cuts_the_answer():
    with (
        serve(Send20) as server,
        FaultProxy(server.address, LimitData(7, direction="to_client")) as proxy,
    ):
        with raw_client(proxy) as sock:
            assert recv_all(sock) == b"0123456"
        assert proxy.wait_for_connections(1)[0].wait_closed().to_client == b"0123456"


# -- ResetPeer ---------------------------------------------------------------------------------


def test_ResetPeer_after_bytes_raises_in_the_handler_mid_request():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, ResetPeer(after_bytes=5)) as proxy,
    ):
        client = proxy.connect()
        client.send(b"GET /a-long-request")
        (record,) = server.wait_for_requests(1)
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
        assert record.error is not None
        assert record.error.type_name == "ConnectionResetError"
        server.errors.expect(ConnectionResetError)
    assert transcript.to_server == b"GET /"
    assert transcript.events[-1].kind == "reset"


def test_ResetPeer_after_seconds_resets_an_idle_connection():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, ResetPeer(after=0.05)) as proxy,
    ):
        with raw_client(proxy) as sock, pytest.raises(ConnectionResetError):
            sock.recv(1024)
        server.wait_for_requests(1)
        server.errors.expect(ConnectionResetError)
        transcript = proxy.transcripts[0]
    reset = transcript.events[-1]
    assert reset.kind == "reset"
    assert reset.at >= 0.05


def test_ResetPeer_to_client_resets_the_client_after_n_bytes():
    with (
        serve(Send20) as server,
        FaultProxy(server.address, ResetPeer(3, direction="to_client")) as proxy,
    ):
        with raw_client(proxy) as sock:
            received = b""
            try:
                while True:
                    data = sock.recv(1024)
                    assert data, "EOF instead of a reset"
                    received += data
            except ConnectionResetError:
                pass
        assert received == b"012"
        server.wait_for_requests(1)
        server.errors.mark_handled()  # the handler may see the reset too


# -- BlackHole ---------------------------------------------------------------------------------


def test_BlackHole_to_server_makes_the_client_time_out():
    with serve(Upper) as server, FaultProxy(server.address, BlackHole()) as proxy:
        client = proxy.connect(timeout=0.2)
        with pytest.raises(ExpectationFailed, match=r"timed out after 0\.2 s"):
            client.send_line("hello").expect_line("HELLO")
        transcript = proxy.transcripts[0]
        assert transcript.to_server == b""
        assert any("dropped 6 bytes" in e.text for e in transcript.faults)


def test_BlackHole_to_client_after_bytes_lets_the_start_through():
    with (
        serve(Send20) as server,
        FaultProxy(server.address, BlackHole(4, direction="to_client")) as proxy,
    ):
        client = proxy.connect()  # the first bytes must come in time, however loaded
        assert client.expect(b"0123") == b"0123"
        client.timeout = 0.2  # the rest never comes: only the timeout ends the wait
        with pytest.raises(ExpectationFailed, match="timed out"):
            client.expect(b"4")


def test_faults_change_while_the_connection_is_open():
    with serve(RecordReads, attrs={"reads": queue.Queue()}) as server:
        reads = server.server.reads
        with FaultProxy(server.address) as proxy:
            client = proxy.connect()
            client.send(b"one")
            assert reads.get(timeout=5) == b"one"
            proxy.set_faults(BlackHole())
            client.send(b"lost")
            transcript = proxy.wait_for_connections(1)[0]
            transcript.wait_until(lambda t: any("dropped 4" in e.text for e in t.faults))
            proxy.add(Slice(2))
            proxy.remove(BlackHole())
            assert proxy.faults == (Slice(2),)
            client.send(b"four")
            received = b""
            while len(received) < 4:
                received += reads.get(timeout=5)
            assert received == b"four"
            proxy.clear()
            client.send(b"free").close()
            assert drain(reads) == [b"free"]
    assert transcript.to_server == b"onefourfree"
    assert [e.data for e in data_events(transcript, "to_server")] == [
        b"one",
        b"fo",
        b"ur",
        b"free",
    ]
    assert any("dropped 4 bytes" in e.text for e in transcript.faults)


# -- SlowClose and Refuse ----------------------------------------------------------------------


def test_SlowClose_holds_the_EOF_back():
    with (
        serve(RecordReads, attrs={"reads": queue.Queue()}) as server,
        FaultProxy(server.address, SlowClose(0.05)) as proxy,
    ):
        with proxy.connect() as client:
            client.send(b"bye").close()
            assert drain(server.server.reads) == [b"bye"]
        transcript = proxy.wait_for_connections(1)[0]
    (held,) = [e for e in transcript.faults if "held back" in e.text]
    (eof,) = [e for e in transcript.events if e.kind == "eof" and e.direction == "to_server"]
    assert eof.at - held.at >= 0.05


def test_SlowClose_to_client_delays_the_server_s_close():
    with (
        serve(Upper) as server,
        FaultProxy(server.address, SlowClose(0.05, direction="to_client")) as proxy,
    ):
        with proxy.connect() as client:
            client.send_line("x").expect_line("X")
            client.expect_closed()
        transcript = proxy.transcripts[0]
    (held,) = [e for e in transcript.faults if "held back" in e.text]
    (eof,) = [e for e in transcript.events if e.kind == "eof" and e.direction == "to_client"]
    assert eof.at - held.at >= 0.05


def test_Refuse_resets_new_connections_until_cleared():
    with serve(Upper) as server, FaultProxy(server.address, Refuse()) as proxy:
        assert turned_away(proxy)
        refused = proxy.wait_for_connections(1)[0].wait_closed()
        assert refused.events[-1].kind == "reset"
        assert "refused" in refused.faults[-1].text
        proxy.clear()
        proxy.connect().send_line("ok").expect_line("OK")
        assert len(server.wait_for_requests(1)) == 1  # the refused one never reached it


# -- probabilities ---------------------------------------------------------------------------


def test_seeded_probability_gives_the_same_run_twice():
    def run(seed: int) -> List[bool]:
        with serve(Upper) as server:
            fault = Latency(0.001, probability=0.5, direction="both")
            with FaultProxy(server.address, fault, seed=seed) as proxy:
                for index in range(12):
                    with proxy.connect() as client:
                        client.send_line(f"n{index}").expect_line(f"N{index}")
                transcripts = proxy.wait_for_connections(12)
                return ["does not apply" not in t.faults[0].text for t in transcripts]

    first = run(1234)
    assert first == run(1234)
    assert True in first
    assert False in first


def test_probability_zero_never_applies():
    with serve(Upper) as server, FaultProxy(server.address, BlackHole(probability=0.0)) as proxy:
        proxy.connect().send_line("hi").expect_line("HI")
        assert "does not apply" in proxy.transcripts[0].faults[0].text


# -- other transports and clients --------------------------------------------------------------


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_http_client_through_the_proxy_to_an_http_server_handler():
    with serve(Hello) as server:
        proxy = server.proxy(Slice(7, direction="both"), seed=5)
        connection = http.client.HTTPConnection(*proxy.address, timeout=5)
        try:
            connection.request("GET", "/there")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"hello /there")
        finally:
            connection.close()
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
        assert transcript.to_server.startswith(b"GET /there HTTP/1.1\r\n")
        assert transcript.to_client.endswith(b"\r\n\r\nhello /there")
        assert all(len(e.data) <= 7 for e in transcript.events if e.kind == "data")
    assert proxy.transcripts == [transcript]  # the server's close closed its proxy


def test_FaultProxy_in_front_of_a_unix_stream_server():
    with serve(Upper, "unix_stream-threading") as server:
        proxy = server.proxy(Latency(0.01))
        path = proxy.address
        assert isinstance(path, str)
        assert os.path.exists(path)
        proxy.connect().send_line("unix").expect_line("UNIX")
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_FaultProxy_in_front_of_a_forking_server():
    with serve(Upper, "tcp-forking") as server:
        proxy = server.proxy()
        first, second = proxy.connect(), proxy.connect()
        first.send_line("a").expect_line("A")
        second.send_line("b").expect_line("B")
        first.disconnect()
        second.disconnect()
        for transcript in proxy.wait_for_connections(2):
            transcript.wait_closed()


def test_FaultProxy_for_udp():
    with serve(DatagramUpper, "udp-threading") as server:
        proxy = server.proxy(Latency(0.02, direction="both"))
        client = proxy.connect()
        client.send(b"ping").expect(b"PING")
        client.send(b"again").expect(b"AGAIN")
        (transcript,) = proxy.transcripts
        transcript.wait_until(lambda t: t.to_client == b"PINGAGAIN")
        assert transcript.to_server == b"pingagain"
        assert transcript.to_client == b"PINGAGAIN"
        (event, _) = data_events(transcript, "to_client")
        assert event.at - event.received >= 0.02
        proxy.add(LimitData(3, direction="to_client"))
        client.send(b"big").expect(b"BIG")
        client.send(b"dropped")
        proxy.add(Refuse())
        other = proxy.connect(timeout=0.2)
        with pytest.raises(ExpectationFailed, match="timed out"):
            other.send(b"refused").expect(b"REFUSED")
        assert "refused" in proxy.wait_for_connections(2)[1].faults[-1].text
        client.timeout = 0.2
        client.send(b"after the limit")
        with pytest.raises(ExpectationFailed, match="timed out"):
            client.expect(b"AFTER THE LIMIT")


def test_datagram_proxy_rejects_stream_only_faults():
    with serve(DatagramUpper, "udp-threading") as server:
        with pytest.raises(ValueError, match=r"Slice\(size=2.*does not apply to a datagram proxy"):
            server.proxy(Slice(2))
        proxy = server.proxy()
        with pytest.raises(ValueError, match="ResetPeer"):
            proxy.add(ResetPeer())


# -- arguments and shutdown ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Latency(-1), "Latency: seconds must be >= 0 and finite, not -1"),
        (lambda: Slice(0), "Slice: size must be an int >= 1, not 0"),
        (lambda: Bandwidth(0), "Bandwidth: bytes_per_second must be > 0, not 0"),
        (lambda: LimitData(-2), "LimitData: nbytes must be an int >= 0, not -2"),
        (lambda: BlackHole(direction="up"), "direction must be 'to_server', 'to_client' or 'both'"),
        (lambda: Refuse(probability=2), "Refuse: probability must be <= 1, not 2"),
        (lambda: FaultProxy(("127.0.0.1", 1), kind="raw"), "kind must be 'stream' or 'datagram'"),
    ],
)
def test_bad_fault_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_FaultProxy_rejects_what_is_not_a_fault():
    with serve(Upper) as server, FaultProxy(server.address) as proxy:
        with pytest.raises(TypeError, match=r"not 0\.5"):
            proxy.set_faults(0.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"Latency\(seconds=1"):
            proxy.remove(Latency(1))
    with pytest.raises(ValueError, match="closed"):
        proxy.connect()


def test_FaultProxy_to_a_closed_port_resets_the_client():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        address = placeholder.getsockname()  # bound, not listening: connect is refused
        with FaultProxy(address) as proxy:
            assert turned_away(proxy)
            transcript = proxy.wait_for_connections(1)[0].wait_closed()
    assert "connect to" in next(e for e in transcript.events if e.kind == "error").text


def test_FaultProxy_close_stops_its_thread_and_closes_every_socket():
    before_threads = set(threading.enumerate())
    before = open_sockets()
    with serve(Upper) as server:
        proxy = FaultProxy(server.address, Latency(0.5), seed=1)
        clients = [raw_client(proxy) for _ in range(3)]
        for sock in clients:
            sock.sendall(b"waiting\n")
        proxy.wait_for_connections(3)
        proxy.close()
        proxy.close()  # twice is fine
        for sock in clients:
            assert ends(sock)
            sock.close()
        server.wait_for_requests(3)  # the proxy closed its side of each connection
        for transcript in proxy.transcripts:
            assert transcript.closed
            assert transcript.events[-1].text == "the proxy closed"
    assert open_sockets().keys() <= before.keys()
    assert set(threading.enumerate()) <= before_threads


def test_FaultProxy_leaks_nothing_under_dev_mode():
    script = textwrap.dedent(
        """
        import socketserver
        from netserve_testing import *

        class Upper(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline().upper())

        for kind in ("tcp-threading", "unix_stream-threading"):
            with serve(Upper, kind) as server:
                with FaultProxy(server.address, Slice(2), Latency(0.01, direction="both")) as proxy:
                    proxy.connect().send_line("hi").expect_line("HI")
                    proxy.set_faults(ResetPeer(after_bytes=1))
                    proxy.connect().send_line("boom")
                    server.wait_for_requests(2)
                server.errors.mark_handled()
        print("done")
        """
    )
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "done", "")


def test_the_proxy_shows_a_handler_that_assumes_one_read(pytester: pytest.Pytester):
    # The kit fails the user's test with the conversation, and passes a correct handler.
    pytester.makepyfile(
        """
        import socketserver
        from netserve_testing import Slice

        class OneRead(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.sendall(self.request.recv(1024).upper())

        class ReadsALine(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline().upper())

        # The pause between slices outlasts any scheduling delay of a loaded machine, so
        # the handler's first read ends at the first slice.
        def test_one_read(netserve):
            proxy = netserve.serve(OneRead).proxy(Slice(3, delay=0.5))
            proxy.connect(timeout=5).send_line("hello").expect_line("HELLO")

        def test_reads_a_line(netserve):
            proxy = netserve.serve(ReadsALine).proxy(Slice(3, delay=0.5))
            proxy.connect(timeout=5).send_line("hello").expect_line("HELLO")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_one_read*", "*ExpectationFailed*", "*<<< b'HEL'*"])


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


@pytest.mark.parametrize("faults", [(), (Slice(100_000), Latency(0.001, direction="both"))])
def test_FaultProxy_carries_megabytes_both_ways_with_backpressure(faults):
    # More than the proxy queues before it stops reading (1 MiB): nothing lost, nothing stuck.
    payload = bytes(range(256)) * (3 * 4096)  # 3 MiB
    with serve(Echo) as server, FaultProxy(server.address, *faults) as proxy:
        with raw_client(proxy) as sock:
            sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(1)))
            sender.start()
            received = recv_all(sock)
            sender.join()
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
    assert received == payload
    assert transcript.to_server == payload


class Explodes(Latency):
    """A fault of the user's own that raises in the proxy's thread."""

    def _shape(self, shaping: Any, pieces: Any) -> Any:
        raise RuntimeError("boom in a custom fault")


def test_an_error_in_the_proxy_thread_is_raised_by_close():
    with serve(Upper) as server:
        proxy = FaultProxy(server.address, Explodes(0.0))
        client = proxy.connect(timeout=0.2)
        client.send_line("hi")
        transcript = proxy.wait_for_connections(1)[0].wait_closed()
        with pytest.raises(RuntimeError, match="boom in a custom fault"):
            proxy.close()
        server.wait_for_requests(1)
        server.errors.expect(ConnectionResetError)  # the reset reached the handler
    errors = [e.text for e in transcript.events if e.kind == "error"]
    assert errors == ["the proxy failed: RuntimeError('boom in a custom fault')"]
    assert transcript.events[-1].kind == "reset"


def test_FaultProxy_listens_where_told():
    with (
        serve(Upper, "unix_stream-threading") as server,
        FaultProxy(server.address, listen=("127.0.0.1", 0)) as proxy,
    ):
        assert proxy.address[0] == "127.0.0.1"
        proxy.connect().send_line("tcp to unix").expect_line("TCP TO UNIX")


def test_a_failing_proxy_fails_the_server_s_teardown_without_stopping_it():
    server = serve(Upper)
    proxy = server.proxy(Explodes(0.0))
    proxy.connect(timeout=0.2).send_line("hi")
    proxy.wait_for_connections(1)[0].wait_closed()
    server.wait_for_requests(1)  # the handler met the reset before teardown began
    errors, leaks = server.close()
    assert [error.type_name for error in errors] == ["ConnectionResetError"]
    assert len(leaks) == 1
    assert "FaultProxy" in leaks[0]
    assert "boom in a custom fault" in leaks[0]
    assert server.server.socket.fileno() == -1  # the server's teardown went on: closed


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
def test_FaultProxy_in_front_of_an_ipv6_server():
    with serve(Upper, address=("::1", 0)) as server:
        proxy = server.proxy(Slice(1, direction="both"))
        assert proxy.address[0] == "::1"
        proxy.connect().send_line("six").expect_line("SIX")


def test_the_proxy_closing_at_teardown_is_no_handler_error(pytester: pytest.Pytester):
    # A test ends mid-conversation through a proxy: teardown closes the proxy's client and
    # its connections, and the handler's next write finds its peer gone. As with teardown's
    # own clients, that is no handler error; an error raised before teardown still is.
    pytester.makepyfile(
        """
        import socketserver

        import pytest

        class Chatty(socketserver.StreamRequestHandler):
            def handle(self):
                self.rfile.readline()
                for _ in range(100000):
                    self.wfile.write(b"news " * 100 + b"\\n")

        class Fails(socketserver.StreamRequestHandler):
            def handle(self):
                self.rfile.readline()
                raise ValueError("raised before teardown")

        @pytest.mark.parametrize("kind", ["tcp-threading", "tcp-forking", "unix_stream-sync"])
        def test_ends_mid_conversation_through_a_proxy(netserve, kind):
            proxy = netserve.serve(Chatty, kind).proxy()
            proxy.connect().send_line("hi").expect_regex(b"news")

        def test_an_error_before_teardown_still_fails(netserve):
            proxy = netserve.serve(Fails).proxy()
            proxy.connect().send_line("hi").expect_closed()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    out = result.stdout.str()
    result.assert_outcomes(passed=3, failed=1)
    assert "ValueError: raised before teardown" in out
    assert "BrokenPipeError" not in out
    assert "ConnectionResetError" not in out

"""Handler runs per second: in memory with run_handler vs a real threaded server on loopback.

Run: ``python bench/bench_fakes.py [--runs N]``. The same exchanges run three
ways: through ``netserve_testing.run_handler`` (fake socket, no thread, no real
time), and through a real ``ThreadingTCPServer``/``ThreadingUDPServer`` (the
stdlib's, then netserve's) with a client on 127.0.0.1 that connects, sends,
reads the reply to EOF and closes. Servers are started once, outside the
timing: only the per-exchange cost is measured. The goal is a fake at least
30 times faster than the real exchange. A second table shows in-memory TLS
(``run_handler(..., tls=True)``: a real TLS session over memory buffers, handshake
included) beside the plaintext fake and a real ``ThreadingTLSTCPServer`` exchange.
"""

from __future__ import annotations

import argparse
import importlib
import socket
import socketserver
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from netserve_testing import Script, run_datagram_handler, run_handler, session_ca


class RecvUpper(socketserver.BaseRequestHandler):
    # The socketserver documentation's first TCP example.
    def handle(self) -> None:
        self.data = self.request.recv(1024).strip()
        self.request.sendall(self.data.upper())


class LineUpper(socketserver.StreamRequestHandler):
    # The documentation's StreamRequestHandler example.
    def handle(self) -> None:
        self.data = self.rfile.readline().strip()
        self.wfile.write(self.data.upper())


class Chat(socketserver.StreamRequestHandler):
    # Three request/response round trips on one connection.
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    # The documentation's UDP example.
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.strip().upper(), self.client_address)


CHAT = [b"one\n", b"two\n", b"three\n"]
CHAT_SCRIPT = (
    Script()
    .send_line("one")
    .expect_line("ONE")
    .send_line("two")
    .expect_line("TWO")
    .send_line("three")
    .expect_line("THREE")
    .close()
    .expect_closed()
)


def rate(function: Callable[[], object], runs: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``runs`` calls, as calls per second."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(runs):
            function()
        best = min(best, time.perf_counter() - start)
    return runs / best


def stream_exchange(address: Tuple[str, int], messages: List[bytes]) -> Callable[[], bytes]:
    def exchange() -> bytes:
        with socket.create_connection(address) as sock:
            reply = b""
            for message in messages:
                sock.sendall(message)
                if len(messages) > 1:  # a conversation: wait for each answer
                    reply += sock.recv(1024)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(1024):
                reply += chunk
            return reply

    return exchange


def datagram_exchange(address: Tuple[str, int]) -> Callable[[], bytes]:
    def exchange() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"hello\n", address)
            return sock.recvfrom(1024)[0]

    return exchange


def real_rate(
    module: Any, handler: type, datagram: bool, messages: List[bytes], runs: int
) -> Optional[float]:
    server_class = module.ThreadingUDPServer if datagram else module.ThreadingTCPServer
    server = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        address = server.server_address[:2]
        exchange = datagram_exchange(address) if datagram else stream_exchange(address, messages)
        exchange()  # warm up
        return rate(exchange, runs, repeats=2)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def tls_exchange(address: Tuple[str, int], messages: List[bytes]) -> Callable[[], bytes]:
    context = session_ca().client_context()

    def exchange() -> bytes:
        raw = socket.create_connection(address)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            reply = b""
            for message in messages:
                sock.sendall(message)
                if len(messages) > 1:
                    reply += sock.recv(1024)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(1024):
                reply += chunk
            return reply

    return exchange


def real_tls_rate(netserve: Any, handler: type, messages: List[bytes], runs: int) -> float:
    server = netserve.ThreadingTLSTCPServer(
        ("127.0.0.1", 0), handler, ssl_context=session_ca().server_context()
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        exchange = tls_exchange(server.server_address[:2], messages)
        exchange()  # warm up
        return rate(exchange, runs, repeats=2)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def tls_table(netserve: Any, runs: int, real_runs: int) -> None:
    cases: List[Tuple[str, type, List[bytes], Any]] = [
        ("rfile.readline + wfile.write", LineUpper, [b"hello\n"], b"hello\n"),
        ("3 round trips, Script lockstep", Chat, CHAT, CHAT_SCRIPT),
    ]
    header = (
        f"{'in-memory tls':34} {'tls fake/s':>10} {'plain fake/s':>12} {'real tls/s':>10} "
        f"{'vs real tls':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, handler, messages, inbound in cases:
        tls_rate = rate(lambda: run_handler(handler, inbound, tls=True), runs)  # noqa: B023
        plain_rate = rate(lambda: run_handler(handler, inbound), runs)  # noqa: B023
        real = real_tls_rate(netserve, handler, messages, real_runs) if netserve else None
        real_text = f"{real:10.0f}" if real else f"{'n/a':>10}"
        ratio_text = f"{tls_rate / real:10.1f}x" if real else f"{'n/a':>11}"
        print(f"{name:34} {tls_rate:10.0f} {plain_rate:12.0f} {real_text} {ratio_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="fake runs per timing")
    parser.add_argument("--real-runs", type=int, default=300, help="real exchanges per timing")
    args = parser.parse_args()
    try:
        netserve: Any = importlib.import_module("netserve")
        netserve.ThreadingTCPServer  # noqa: B018 - present once the core is installed
    except (ImportError, AttributeError):
        netserve = None

    cases: List[Tuple[str, type, bool, List[bytes], Callable[[], object]]] = [
        (
            "recv + sendall (doc TCP example)",
            RecvUpper,
            False,
            [b"hello\n"],
            lambda: run_handler(RecvUpper, b"hello\n"),
        ),
        (
            "rfile.readline + wfile.write",
            LineUpper,
            False,
            [b"hello\n"],
            lambda: run_handler(LineUpper, b"hello\n"),
        ),
        (
            "3 round trips, Script lockstep",
            Chat,
            False,
            CHAT,
            lambda: run_handler(Chat, CHAT_SCRIPT),
        ),
        (
            "UDP datagram (doc UDP example)",
            DatagramUpper,
            True,
            [b"hello\n"],
            lambda: run_datagram_handler(DatagramUpper, b"hello\n"),
        ),
    ]
    header = (
        f"{'exchange':34} {'fake/s':>9} {'stdlib/s':>9} {'netserve/s':>10} "
        f"{'vs stdlib':>9} {'vs netserve':>11}"
    )
    print(header)
    print("-" * len(header))
    ratios: List[float] = []
    for name, handler, datagram, messages, fake in cases:
        fake_rate = rate(fake, args.runs)
        stdlib_rate = real_rate(socketserver, handler, datagram, messages, args.real_runs)
        netserve_rate = (
            real_rate(netserve, handler, datagram, messages, args.real_runs) if netserve else None
        )
        assert stdlib_rate is not None
        ratio = fake_rate / stdlib_rate
        ratios.append(ratio)
        ns_rate = f"{netserve_rate:10.0f}" if netserve_rate else f"{'n/a':>10}"
        ns_ratio = f"{fake_rate / netserve_rate:10.1f}x" if netserve_rate else f"{'n/a':>11}"
        print(f"{name:34} {fake_rate:9.0f} {stdlib_rate:9.0f} {ns_rate} {ratio:8.1f}x {ns_ratio}")
    print()
    verdict = "met" if min(ratios) >= 30 else "NOT met"
    print(
        f"goal: fake >= 30x faster than a real threaded server: {verdict} (min {min(ratios):.1f}x)"
    )
    print()
    tls_table(netserve, max(10, args.runs // 10), max(10, args.real_runs // 2))


if __name__ == "__main__":
    main()
